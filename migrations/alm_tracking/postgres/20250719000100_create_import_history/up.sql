-- Seed 000, step 2 (01_create_import_history.sql), as written.
CREATE TABLE IF NOT EXISTS alm_reporting.import_history (
    import_id SERIAL PRIMARY KEY,
    import_date DATE NOT NULL UNIQUE,
    import_type VARCHAR(20) DEFAULT 'DAILY',
    status VARCHAR(20) NOT NULL,
    files_processed JSONB,
    records_imported INTEGER DEFAULT 0,
    started_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    completed_at TIMESTAMP,
    error_message TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

-- Create indexes for performance
CREATE INDEX idx_import_history_date ON alm_reporting.import_history(import_date DESC);
CREATE INDEX idx_import_history_status ON alm_reporting.import_history(status);

-- Add comments for documentation
COMMENT ON TABLE alm_reporting.import_history IS 'Tracks ALM data import history for automation';
COMMENT ON COLUMN alm_reporting.import_history.import_type IS 'DAILY, BACKFILL, or MANUAL';
COMMENT ON COLUMN alm_reporting.import_history.status IS 'PENDING, PROCESSING, SUCCESS, or FAILED';
COMMENT ON COLUMN alm_reporting.import_history.files_processed IS 'JSON array of processed file paths';
