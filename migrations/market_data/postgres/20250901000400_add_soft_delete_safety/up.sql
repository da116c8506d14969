-- Seed 001, add_soft_delete_safety: rows are soft-deleted (deleted_at set; the crate's reads
-- leave them out unless asked), and deleting an instrument or alert rule that still has
-- market data or alert logs fails (RESTRICT) instead of silently deleting them (CASCADE).
-- The seed's two data tables change; alert_rules, configuration that points at its
-- instrument, keeps its CASCADE (its own rules cannot outlive the instrument, and a rule with
-- logs is protected by alert_logs' RESTRICT).
ALTER TABLE market_data ADD COLUMN deleted_at TIMESTAMP NULL;
ALTER TABLE alert_logs ADD COLUMN deleted_at TIMESTAMP NULL;
CREATE INDEX ix_market_data_deleted_at ON market_data (deleted_at);
CREATE INDEX ix_alert_logs_deleted_at ON alert_logs (deleted_at);

ALTER TABLE market_data DROP CONSTRAINT market_data_instrument_id_fkey,
    ADD CONSTRAINT market_data_instrument_id_fkey FOREIGN KEY (instrument_id) REFERENCES instruments (id) ON DELETE RESTRICT;
ALTER TABLE alert_logs DROP CONSTRAINT alert_logs_rule_id_fkey,
    ADD CONSTRAINT alert_logs_rule_id_fkey FOREIGN KEY (rule_id) REFERENCES alert_rules (id) ON DELETE RESTRICT;
ALTER TABLE alert_logs DROP CONSTRAINT alert_logs_instrument_id_fkey,
    ADD CONSTRAINT alert_logs_instrument_id_fkey FOREIGN KEY (instrument_id) REFERENCES instruments (id) ON DELETE RESTRICT;
