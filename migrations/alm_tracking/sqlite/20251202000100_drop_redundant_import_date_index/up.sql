-- Drops seed 000's index on import_history(import_date DESC): the UNIQUE constraint's index
-- covers it (see the PostgreSQL migration).
DROP INDEX idx_import_history_date;
