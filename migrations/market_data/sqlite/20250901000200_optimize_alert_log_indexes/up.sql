-- Seed 001, optimize_alert_log_indexes (see the PostgreSQL migration).
DROP INDEX ix_alert_logs_rule;
DROP INDEX ix_alert_logs_timestamp_desc;
DROP INDEX ix_alert_logs_instrument_timestamp;
DROP INDEX ix_alert_logs_status_timestamp;
DROP INDEX ix_alert_logs_created_at;
DROP INDEX ix_alert_logs_trigger_value;
DROP INDEX ix_alert_logs_threshold_value;
