ALTER TABLE alm_reporting.chronological_events DROP CONSTRAINT uk_chronological_events_account_transaction;
ALTER TABLE alm_reporting.chronological_events
    ADD CONSTRAINT uk_chronological_events_transaction UNIQUE (source_transaction_id);

ALTER TABLE alm_reporting.daily_summary DROP CONSTRAINT uk_daily_summary_account_date;
ALTER TABLE alm_reporting.daily_summary
    ADD CONSTRAINT uk_daily_summary_date UNIQUE (summary_date);
