-- Seed 000, step 5, on SQLite (mapping as in the import_history migration).
CREATE TABLE IF NOT EXISTS alm_reporting_processed_files (
    file_id INTEGER PRIMARY KEY,
    file_name VARCHAR(255) NOT NULL UNIQUE,
    file_type VARCHAR(50) NOT NULL,
    file_size BIGINT,
    file_hash VARCHAR(64),
    process_date DATE NOT NULL,
    records_count INTEGER,
    processing_status VARCHAR(20) DEFAULT 'PENDING',
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX idx_processed_files_type ON alm_reporting_processed_files(file_type);
CREATE INDEX idx_processed_files_date ON alm_reporting_processed_files(process_date DESC);
