-- Only the backfilled rows; ids recorded by imports stay. The importer refuses a file named
-- BACKFILL, so no import can own such a row.
DELETE FROM imported_executions WHERE csv_filename = 'BACKFILL';
