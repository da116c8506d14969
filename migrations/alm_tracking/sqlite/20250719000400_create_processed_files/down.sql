DROP TABLE IF EXISTS alm_reporting_processed_files;
