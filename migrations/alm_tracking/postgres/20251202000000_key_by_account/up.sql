-- Seed 000's keys assume one account. A Flex file holds one FlexStatement per account and day
-- (FORMATS.md §2: FlexStatements count="2"), so:
-- - UNIQUE (summary_date) breaks as soon as a file has a second account: both accounts have
--   a NAV row for the same day. daily_summary is keyed by (account_id, summary_date).
-- - chronological_events is keyed by (account_id, source_transaction_id), the key the import
--   de-duplicates on: IB's transactionID is unique per account, and the keys derived for
--   rows without one are only meaningful within their account.
-- The seed's migration stays as written (databases that ran it keep working); this one
-- replaces the two constraints, and down.sql puts the seed's back (it fails, and changes
-- nothing, if the data now holds two accounts on one day).
ALTER TABLE alm_reporting.daily_summary DROP CONSTRAINT uk_daily_summary_date;
ALTER TABLE alm_reporting.daily_summary
    ADD CONSTRAINT uk_daily_summary_account_date UNIQUE (account_id, summary_date);

ALTER TABLE alm_reporting.chronological_events DROP CONSTRAINT uk_chronological_events_transaction;
ALTER TABLE alm_reporting.chronological_events
    ADD CONSTRAINT uk_chronological_events_account_transaction UNIQUE (account_id, source_transaction_id);
