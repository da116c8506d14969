DROP TABLE IF EXISTS alm_reporting_import_history;
