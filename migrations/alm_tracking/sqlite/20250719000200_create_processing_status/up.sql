-- Seed 000, step 3, on SQLite (mapping as in the import_history migration).
CREATE TABLE IF NOT EXISTS alm_reporting_processing_status (
    status_id INTEGER PRIMARY KEY,
    process_name VARCHAR(50) NOT NULL,
    current_state VARCHAR(20) NOT NULL,
    last_run_date DATE,
    last_success_date DATE,
    next_scheduled_run TIMESTAMP,
    configuration TEXT CHECK (configuration IS NULL OR json_valid(configuration)),
    error_count INTEGER DEFAULT 0,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE UNIQUE INDEX idx_processing_status_name ON alm_reporting_processing_status(process_name);

INSERT INTO alm_reporting_processing_status (process_name, current_state, configuration)
VALUES ('ALM_DAILY_AUTOMATION', 'READY',
    json('{"max_files_to_keep": 3, "retry_attempts": 3, "timeout_seconds": 300}'))
ON CONFLICT (process_name) DO NOTHING;
