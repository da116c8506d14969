DROP TABLE IF EXISTS alm_reporting_processing_status;
