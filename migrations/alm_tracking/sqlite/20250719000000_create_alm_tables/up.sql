-- The two ALM tables seed 000 alters (see the PostgreSQL migration for what they hold).
--
-- SQLite has no schemas: PostgreSQL's alm_reporting.<table> is alm_reporting_<table> here
-- (the mapping `intake migrate` snapshots and parity checks use). It has no decimal type
-- either (a NUMERIC column turns 80064.57 into a float): amounts are TEXT holding exactly
-- the decimal IB wrote, as PostgreSQL's NUMERIC does. Dates and times are ISO 8601 text.
CREATE TABLE alm_reporting_chronological_events (
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

CREATE INDEX idx_chronological_events_account_time
    ON alm_reporting_chronological_events (account_id, event_time);

CREATE TABLE alm_reporting_daily_summary (
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
