CREATE INDEX ix_alert_logs_threshold_value ON alert_logs (threshold_value);
CREATE INDEX ix_alert_logs_trigger_value ON alert_logs (trigger_value);
CREATE INDEX ix_alert_logs_created_at ON alert_logs (created_at);
CREATE INDEX ix_alert_logs_status_timestamp ON alert_logs (status, "timestamp");
CREATE INDEX ix_alert_logs_instrument_timestamp ON alert_logs (instrument_id, "timestamp");
CREATE INDEX ix_alert_logs_timestamp_desc ON alert_logs ("timestamp" DESC);
CREATE INDEX ix_alert_logs_rule ON alert_logs (rule_id);
