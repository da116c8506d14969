-- The two ALM tables seed 000 alters, as they exist in its world before its scripts run
-- (the seed's "Module 1" assumes them). The alm_reporting schema is created if missing: the
-- seed's "Issue 2".
--
-- chronological_events: one row per IB Flex detail row, in the account's time order:
-- a trade (Trade), a cash transaction (CashTransaction), an exercise, assignment or expiry
-- (OptionEAE) or a period's interest accrual (InterestAccrualsCurrency).
-- source_transaction_id is IB's transactionID, or for rows without one a key derived from
-- the row's content (docs/architecture.md, "ALM import tracking"). Amounts are NUMERIC
-- without a scale: exactly the decimal IB wrote.
CREATE SCHEMA IF NOT EXISTS alm_reporting;

CREATE TABLE alm_reporting.chronological_events (
    event_id              BIGSERIAL PRIMARY KEY,
    account_id            VARCHAR(20)  NOT NULL,
    event_type            VARCHAR(20)  NOT NULL
        CHECK (event_type IN ('TRADE', 'CASH', 'EXERCISE_EXPIRY', 'INTEREST_ACCRUAL')),
    -- IB's local time (the exchange's or the account's), as written; the zone name apart.
    event_time            TIMESTAMP    NOT NULL,
    event_zone            VARCHAR(10),
    source_transaction_id VARCHAR(64),
    trade_id              VARCHAR(32),
    -- transactionType (ExchTrade, BookTrade, Expiration, ...) or, for cash, its type.
    transaction_type      VARCHAR(40),
    asset_category        VARCHAR(10),
    symbol                VARCHAR(64),
    description           TEXT,
    currency              VARCHAR(8),
    put_call              VARCHAR(4),
    strike                NUMERIC,
    expiry                DATE,
    multiplier            NUMERIC,
    quantity              NUMERIC,
    price                 NUMERIC,
    -- tradeMoney for a trade, amount for cash, interestAccrued for an accrual.
    amount                NUMERIC,
    commission            NUMERIC,
    net_cash              NUMERIC,
    source_file           VARCHAR(255) NOT NULL,
    created_at            TIMESTAMP    DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX idx_chronological_events_account_time
    ON alm_reporting.chronological_events (account_id, event_time);

-- daily_summary: one row per day from the NAV statements: ChangeInNAV's starting value,
-- change components and ending value, and the day's cash and total from
-- EquitySummaryByReportDateInBase. other_changes is the sum of the components IB reported that
-- have no column here, so starting_value + the components = ending_value can be checked.
-- statement_generated_at is the statement's whenGenerated: a later statement's values win.
CREATE TABLE alm_reporting.daily_summary (
    summary_id                  BIGSERIAL PRIMARY KEY,
    account_id                  VARCHAR(20)  NOT NULL,
    summary_date                DATE         NOT NULL,
    currency                    VARCHAR(8),
    starting_value              NUMERIC,
    mtm                         NUMERIC,
    realized                    NUMERIC,
    change_in_unrealized        NUMERIC,
    deposits_withdrawals        NUMERIC,
    interest                    NUMERIC,
    change_in_interest_accruals NUMERIC,
    broker_fees                 NUMERIC,
    commissions                 NUMERIC,
    other_changes               NUMERIC,
    ending_value                NUMERIC,
    twr                         NUMERIC,
    cash                        NUMERIC,
    total                       NUMERIC,
    statement_generated_at      TIMESTAMP,
    source_file                 VARCHAR(255) NOT NULL,
    created_at                  TIMESTAMP    DEFAULT CURRENT_TIMESTAMP
);

COMMENT ON TABLE alm_reporting.chronological_events IS 'One row per IB Flex trade, cash transaction, exercise/expiry or interest accrual';
COMMENT ON TABLE alm_reporting.daily_summary IS 'One row per day: NAV and its change components';
