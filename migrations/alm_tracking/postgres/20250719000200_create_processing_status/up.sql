-- Seed 000, step 3 (02_create_processing_status.sql), as written.
CREATE TABLE IF NOT EXISTS alm_reporting.processing_status (
    status_id SERIAL PRIMARY KEY,
    process_name VARCHAR(50) NOT NULL,
    current_state VARCHAR(20) NOT NULL,
    last_run_date DATE,
    last_success_date DATE,
    next_scheduled_run TIMESTAMP,
    configuration JSONB,
    error_count INTEGER DEFAULT 0,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

-- Create unique constraint on process name
CREATE UNIQUE INDEX idx_processing_status_name ON alm_reporting.processing_status(process_name);

-- Insert default automation process
INSERT INTO alm_reporting.processing_status (process_name, current_state, configuration)
VALUES ('ALM_DAILY_AUTOMATION', 'READY', 
    '{"max_files_to_keep": 3, "retry_attempts": 3, "timeout_seconds": 300}'::jsonb)
ON CONFLICT (process_name) DO NOTHING;
