DROP TRIGGER IF EXISTS trg_events_daily_summary ON alm_reporting.chronological_events;
DROP FUNCTION IF EXISTS alm_reporting.update_daily_summary();
DROP TABLE alm_reporting.daily_summary;
DROP TABLE alm_reporting.chronological_events;
DROP TABLE alm_reporting.processed_files;
DROP TABLE alm_reporting.processing_status;
DROP TABLE alm_reporting.import_history;
DROP SCHEMA IF EXISTS alm_reporting;
