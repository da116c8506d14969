ALTER TABLE alm_reporting.processed_files DROP CONSTRAINT uk_processed_files_name_hash;
ALTER TABLE alm_reporting.processed_files ADD CONSTRAINT processed_files_file_name_key UNIQUE (file_name);
