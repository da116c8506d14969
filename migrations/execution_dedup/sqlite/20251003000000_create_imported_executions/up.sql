-- Ledger of every NinjaTrader execution id ever imported (seed 004). A re-import skips ids
-- found here, so a fill the user deleted from the trades table is not brought back.
CREATE TABLE imported_executions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id     VARCHAR(255) NOT NULL UNIQUE,
    csv_filename     VARCHAR(255) NOT NULL,
    -- UTC, like every timestamp intake writes.
    import_timestamp DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
    account          VARCHAR(50),
    instrument       VARCHAR(50)
);

-- The seed's three indexes. The first duplicates the UNIQUE constraint's own index; it is kept
-- because the seed specifies it (the benchmark measures its cost).
CREATE INDEX idx_imported_executions_exec_id ON imported_executions (execution_id);
CREATE INDEX idx_imported_executions_csv_file ON imported_executions (csv_filename);
CREATE INDEX idx_imported_executions_timestamp ON imported_executions (import_timestamp);
