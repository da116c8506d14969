-- Undoes step 4 in reverse: the triggers go, then each table is rebuilt as it was before
-- (no seed constraint, no last_updated).
DROP TRIGGER IF EXISTS update_daily_summary_last_updated;
DROP TRIGGER IF EXISTS update_chronological_events_last_updated;

CREATE TABLE alm_reporting_daily_summary_rebuilt (
    summary_id                  INTEGER PRIMARY KEY,
    account_id                  VARCHAR(20)  NOT NULL,
    summary_date                DATE         NOT NULL,
    currency                    VARCHAR(8),
    starting_value              TEXT,
    mtm                         TEXT,
    realized                    TEXT,
    change_in_unrealized        TEXT,
    deposits_withdrawals        TEXT,
    interest                    TEXT,
    change_in_interest_accruals TEXT,
    broker_fees                 TEXT,
    commissions                 TEXT,
    other_changes               TEXT,
    ending_value                TEXT,
    twr                         TEXT,
    cash                        TEXT,
    total                       TEXT,
    statement_generated_at      TIMESTAMP,
    source_file                 VARCHAR(255) NOT NULL,
    created_at                  TIMESTAMP    DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO alm_reporting_daily_summary_rebuilt (summary_id, account_id, summary_date, currency, starting_value, mtm, realized,
    change_in_unrealized, deposits_withdrawals, interest, change_in_interest_accruals, broker_fees,
    commissions, other_changes, ending_value, twr, cash, total, statement_generated_at, source_file,
    created_at)
SELECT summary_id, account_id, summary_date, currency, starting_value, mtm, realized,
    change_in_unrealized, deposits_withdrawals, interest, change_in_interest_accruals, broker_fees,
    commissions, other_changes, ending_value, twr, cash, total, statement_generated_at, source_file,
    created_at FROM alm_reporting_daily_summary;
DROP TABLE alm_reporting_daily_summary;
ALTER TABLE alm_reporting_daily_summary_rebuilt RENAME TO alm_reporting_daily_summary;

CREATE TABLE alm_reporting_chronological_events_rebuilt (
    event_id              INTEGER PRIMARY KEY,
    account_id            VARCHAR(20)  NOT NULL,
    event_type            VARCHAR(20)  NOT NULL
        CHECK (event_type IN ('TRADE', 'CASH', 'EXERCISE_EXPIRY', 'INTEREST_ACCRUAL')),
    event_time            TIMESTAMP    NOT NULL,
    event_zone            VARCHAR(10),
    source_transaction_id VARCHAR(64),
    trade_id              VARCHAR(32),
    transaction_type      VARCHAR(40),
    asset_category        VARCHAR(10),
    symbol                VARCHAR(64),
    description           TEXT,
    currency              VARCHAR(8),
    put_call              VARCHAR(4),
    strike                TEXT,
    expiry                DATE,
    multiplier            TEXT,
    quantity              TEXT,
    price                 TEXT,
    amount                TEXT,
    commission            TEXT,
    net_cash              TEXT,
    source_file           VARCHAR(255) NOT NULL,
    created_at            TIMESTAMP    DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO alm_reporting_chronological_events_rebuilt (event_id, account_id, event_type, event_time, event_zone, source_transaction_id, trade_id,
    transaction_type, asset_category, symbol, description, currency, put_call, strike, expiry,
    multiplier, quantity, price, amount, commission, net_cash, source_file, created_at)
SELECT event_id, account_id, event_type, event_time, event_zone, source_transaction_id, trade_id,
    transaction_type, asset_category, symbol, description, currency, put_call, strike, expiry,
    multiplier, quantity, price, amount, commission, net_cash, source_file, created_at FROM alm_reporting_chronological_events;
DROP TABLE alm_reporting_chronological_events;
ALTER TABLE alm_reporting_chronological_events_rebuilt RENAME TO alm_reporting_chronological_events;
CREATE INDEX idx_chronological_events_account_time
    ON alm_reporting_chronological_events (account_id, event_time);
