-- Seed 001, add_soft_delete_safety: deleted_at and its indexes, and the foreign keys of
-- market_data and alert_logs become RESTRICT (see the PostgreSQL migration). Only these two
-- child tables are rebuilt: dropping a parent table would run its implicit DELETE through
-- the children's CASCADE.
-- SQLite cannot change a column's type or a foreign key's action in place, so each table is
-- rebuilt by the procedure SQLite documents (https://www.sqlite.org/lang_altertable.html,
-- "making other kinds of table schema changes"), inside this migration's one transaction:
-- create the new table, copy the rows, drop the old table, rename the new one, recreate the
-- indexes (there are no triggers or views on these tables). SQLite's first step, turning
-- foreign keys off, cannot happen inside a transaction; PRAGMA defer_foreign_keys = ON
-- instead checks every foreign key at COMMIT, not per statement: a violation left by the
-- copy fails the commit and undoes the whole migration (the check of SQLite's step 10).
PRAGMA defer_foreign_keys = ON;
CREATE TABLE market_data_new (
    id            INTEGER PRIMARY KEY,
    instrument_id BIGINT         NOT NULL REFERENCES instruments (id) ON DELETE RESTRICT,
    "timestamp"   DATETIME       NOT NULL,
    price         DOUBLE PRECISION NOT NULL,
    bid           DOUBLE PRECISION,
    ask           DOUBLE PRECISION,
    open_price    DOUBLE PRECISION,
    high_price    DOUBLE PRECISION,
    low_price     DOUBLE PRECISION,
    volume        BIGINT         NOT NULL DEFAULT 0,
    created_at    DATETIME       NOT NULL DEFAULT CURRENT_TIMESTAMP,
    deleted_at    DATETIME       NULL
);
INSERT INTO market_data_new (id, instrument_id, "timestamp", price, bid, ask, open_price, high_price, low_price, volume, created_at)
SELECT id, instrument_id, "timestamp", price, bid, ask, open_price, high_price, low_price, volume, created_at FROM market_data;
DROP TABLE market_data;
ALTER TABLE market_data_new RENAME TO market_data;
CREATE INDEX ix_market_data_timestamp_instrument ON market_data ("timestamp", instrument_id);
CREATE INDEX ix_market_data_instrument_price ON market_data (instrument_id, price);
CREATE INDEX ix_market_data_deleted_at ON market_data (deleted_at);

CREATE TABLE alert_logs_new (
    id              INTEGER PRIMARY KEY,
    rule_id         BIGINT         NOT NULL REFERENCES alert_rules (id) ON DELETE RESTRICT,
    instrument_id   BIGINT         NOT NULL REFERENCES instruments (id) ON DELETE RESTRICT,
    "timestamp"     DATETIME       NOT NULL,
    trigger_value   DOUBLE PRECISION NOT NULL,
    threshold_value DOUBLE PRECISION NOT NULL,
    status          VARCHAR(20)    NOT NULL CHECK (status IN ('triggered', 'acknowledged', 'resolved')),
    message         TEXT,
    created_at      DATETIME       NOT NULL DEFAULT CURRENT_TIMESTAMP,
    deleted_at      DATETIME       NULL
);
INSERT INTO alert_logs_new (id, rule_id, instrument_id, "timestamp", trigger_value, threshold_value, status, message, created_at)
SELECT id, rule_id, instrument_id, "timestamp", trigger_value, threshold_value, status, message, created_at FROM alert_logs;
DROP TABLE alert_logs;
ALTER TABLE alert_logs_new RENAME TO alert_logs;
CREATE INDEX ix_alert_logs_timestamp ON alert_logs ("timestamp");
CREATE INDEX ix_alert_logs_rule_timestamp ON alert_logs (rule_id, "timestamp");
CREATE INDEX ix_alert_logs_instrument ON alert_logs (instrument_id);
CREATE INDEX ix_alert_logs_status ON alert_logs (status);
CREATE INDEX ix_alert_logs_deleted_at ON alert_logs (deleted_at);
