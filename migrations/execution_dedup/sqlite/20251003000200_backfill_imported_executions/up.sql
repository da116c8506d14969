-- Seed 004's backfill: every trade that already has an execution id is recorded as imported,
-- with csv_filename 'BACKFILL' and the fill's own time, so importing an old export cannot
-- bring back a fill that was in the database before imports were tracked (or that the user
-- deleted since). Ids already recorded are left as they are, so running it again adds nothing.
INSERT INTO imported_executions (execution_id, csv_filename, import_timestamp, account, instrument)
SELECT execution_id, 'BACKFILL', executed_at, account, instrument
FROM trades
WHERE execution_id IS NOT NULL
ORDER BY executed_at
ON CONFLICT (execution_id) DO NOTHING;
