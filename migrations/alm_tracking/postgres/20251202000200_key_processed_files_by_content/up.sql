-- Seed 000 keys processed_files by file_name alone, but IB names a report
-- {Type}_({queryId})_{MTD|LBD}.xml: yesterday's and today's last-business-day Trades file
-- have the same name, and a month-to-date file keeps its name as it grows. With the seed's key
-- each day's row replaced the last, so "this exact file was imported" could only be known of
-- the newest one. processed_files is keyed by (file_name, file_hash) instead: one row per
-- version of a file, and a file is skipped when its name and SHA-256 are recorded. The seed's
-- migration stays as written; down.sql puts its key back (it fails, and changes nothing, once
-- a name has two versions).
ALTER TABLE alm_reporting.processed_files DROP CONSTRAINT processed_files_file_name_key;
ALTER TABLE alm_reporting.processed_files
    ADD CONSTRAINT uk_processed_files_name_hash UNIQUE (file_name, file_hash);
