-- Puts the seed's key back (fails, and changes nothing, once a name has two versions).
CREATE TABLE alm_reporting_processed_files_rebuilt (
    file_id INTEGER PRIMARY KEY,
    file_name VARCHAR(255) NOT NULL,
    file_type VARCHAR(50) NOT NULL,
    file_size BIGINT,
    file_hash VARCHAR(64),
    process_date DATE NOT NULL,
    records_count INTEGER,
    processing_status VARCHAR(20) DEFAULT 'PENDING',
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (file_name)
);
INSERT INTO alm_reporting_processed_files_rebuilt (file_id, file_name, file_type, file_size, file_hash, process_date, records_count, processing_status, created_at)
SELECT file_id, file_name, file_type, file_size, file_hash, process_date, records_count, processing_status, created_at FROM alm_reporting_processed_files;
DROP TABLE alm_reporting_processed_files;
ALTER TABLE alm_reporting_processed_files_rebuilt RENAME TO alm_reporting_processed_files;
CREATE INDEX idx_processed_files_type ON alm_reporting_processed_files(file_type);
CREATE INDEX idx_processed_files_date ON alm_reporting_processed_files(process_date DESC);
