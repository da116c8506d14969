-- Seed 001, optimize_alert_log_indexes: from 11 indexes to the 4 essential ones (timestamp,
-- rule_timestamp, instrument, status); why each of the 7 is redundant is said where it was
-- created (20250901000000_create_market_schema).
DROP INDEX CONCURRENTLY IF EXISTS ix_alert_logs_rule;
DROP INDEX CONCURRENTLY IF EXISTS ix_alert_logs_timestamp_desc;
DROP INDEX CONCURRENTLY IF EXISTS ix_alert_logs_instrument_timestamp;
DROP INDEX CONCURRENTLY IF EXISTS ix_alert_logs_status_timestamp;
DROP INDEX CONCURRENTLY IF EXISTS ix_alert_logs_created_at;
DROP INDEX CONCURRENTLY IF EXISTS ix_alert_logs_trigger_value;
DROP INDEX CONCURRENTLY IF EXISTS ix_alert_logs_threshold_value;
