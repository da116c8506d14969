ALTER TABLE alert_logs DROP CONSTRAINT alert_logs_instrument_id_fkey,
    ADD CONSTRAINT alert_logs_instrument_id_fkey FOREIGN KEY (instrument_id) REFERENCES instruments (id) ON DELETE CASCADE;
ALTER TABLE alert_logs DROP CONSTRAINT alert_logs_rule_id_fkey,
    ADD CONSTRAINT alert_logs_rule_id_fkey FOREIGN KEY (rule_id) REFERENCES alert_rules (id) ON DELETE CASCADE;
ALTER TABLE market_data DROP CONSTRAINT market_data_instrument_id_fkey,
    ADD CONSTRAINT market_data_instrument_id_fkey FOREIGN KEY (instrument_id) REFERENCES instruments (id) ON DELETE CASCADE;

DROP INDEX ix_alert_logs_deleted_at;
DROP INDEX ix_market_data_deleted_at;
-- Soft-deleted rows come back as live rows: the column that marked them is gone.
ALTER TABLE alert_logs DROP COLUMN deleted_at;
ALTER TABLE market_data DROP COLUMN deleted_at;
