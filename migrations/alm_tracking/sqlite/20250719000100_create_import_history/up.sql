-- Seed 000, step 2, on SQLite: alm_reporting.import_history is alm_reporting_import_history;
-- SERIAL is INTEGER PRIMARY KEY; JSONB is JSON text that json_valid checks. SQLite has no
-- comments: the seed's COMMENT ON statements are these lines.
--   import_history: Tracks ALM data import history for automation
--   import_type: DAILY, BACKFILL, or MANUAL
--   status: PENDING, PROCESSING, SUCCESS, or FAILED
--   files_processed: JSON array of processed file paths
CREATE TABLE IF NOT EXISTS alm_reporting_import_history (
    import_id INTEGER PRIMARY KEY,
    import_date DATE NOT NULL UNIQUE,
    import_type VARCHAR(20) DEFAULT 'DAILY',
    status VARCHAR(20) NOT NULL,
    files_processed TEXT CHECK (files_processed IS NULL OR json_valid(files_processed)),
    records_imported INTEGER DEFAULT 0,
    started_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    completed_at TIMESTAMP,
    error_message TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX idx_import_history_date ON alm_reporting_import_history(import_date DESC);
CREATE INDEX idx_import_history_status ON alm_reporting_import_history(status);
