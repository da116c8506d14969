-- What was imported of each export, so a re-import costs only what is new (import-core's
-- history: crates/import-core/src/history.rs). One row per file name, as recorded in
-- imported_executions.csv_filename: the bytes imported and their BLAKE3 hash (hex), where its
-- last data record starts (header_end .. resume_records; NULL: the next import reads it
-- whole), whether rows were rejected, when (UTC), and that import's counts (a JSON object).
-- Written in the import's transaction; a purge of the ledger empties it, so every file is
-- then read whole once.
CREATE TABLE imported_files (
    file_name      VARCHAR(255) PRIMARY KEY,
    bytes          BIGINT       NOT NULL CHECK (bytes >= 0),
    blake3         CHAR(64)     NOT NULL,
    header_end     BIGINT,
    resume_line    BIGINT,
    resume_offset  BIGINT,
    resume_records BIGINT,
    rejected_rows  BOOLEAN      NOT NULL,
    imported_at    DATETIME    NOT NULL,
    counts         TEXT         NOT NULL
);
