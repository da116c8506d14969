-- The market data schema before seed 001's phase (see the PostgreSQL migration). SQLite
-- keeps DECIMAL(12,4) as its NUMERIC affinity: values up to 15 significant digits are
-- stored as exact integers or as doubles, which is what the prices were on SQLite before.
CREATE TABLE instruments (
    id         INTEGER PRIMARY KEY,
    symbol     VARCHAR(32)  NOT NULL UNIQUE,
    name       VARCHAR(255) NOT NULL,
    created_at DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE alert_rules (
    id            INTEGER PRIMARY KEY,
    name          VARCHAR(255)   NOT NULL,
    instrument_id BIGINT         NOT NULL REFERENCES instruments (id) ON DELETE CASCADE,
    condition     VARCHAR(20)    NOT NULL CHECK (condition IN ('above', 'below', 'crosses')),
    threshold     DECIMAL(12, 4) NOT NULL,
    created_at    DATETIME       NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE market_data (
    id            INTEGER PRIMARY KEY,
    instrument_id BIGINT         NOT NULL REFERENCES instruments (id) ON DELETE CASCADE,
    "timestamp"   DATETIME       NOT NULL,
    price         DECIMAL(12, 4) NOT NULL,
    bid           DECIMAL(12, 4),
    ask           DECIMAL(12, 4),
    open_price    DECIMAL(12, 4),
    high_price    DECIMAL(12, 4),
    low_price     DECIMAL(12, 4),
    volume        BIGINT         NOT NULL DEFAULT 0,
    created_at    DATETIME       NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX ix_market_data_timestamp ON market_data ("timestamp");
CREATE INDEX ix_market_data_instrument ON market_data (instrument_id);
CREATE INDEX ix_market_data_price ON market_data (price);
CREATE INDEX ix_market_data_latest ON market_data (instrument_id, "timestamp" DESC, price);
CREATE INDEX ix_market_data_timestamp_instrument ON market_data ("timestamp", instrument_id);

CREATE TABLE alert_logs (
    id              INTEGER PRIMARY KEY,
    rule_id         BIGINT         NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    instrument_id   BIGINT         NOT NULL REFERENCES instruments (id) ON DELETE CASCADE,
    "timestamp"     DATETIME       NOT NULL,
    trigger_value   DECIMAL(12, 4) NOT NULL,
    threshold_value DECIMAL(12, 4) NOT NULL,
    status          VARCHAR(20)    NOT NULL CHECK (status IN ('triggered', 'acknowledged', 'resolved')),
    message         TEXT,
    created_at      DATETIME       NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX ix_alert_logs_timestamp ON alert_logs ("timestamp");
CREATE INDEX ix_alert_logs_rule_timestamp ON alert_logs (rule_id, "timestamp");
CREATE INDEX ix_alert_logs_instrument ON alert_logs (instrument_id);
CREATE INDEX ix_alert_logs_status ON alert_logs (status);
-- The seven seed 001 removes (why each is redundant: see the PostgreSQL migration).
CREATE INDEX ix_alert_logs_rule ON alert_logs (rule_id);
CREATE INDEX ix_alert_logs_timestamp_desc ON alert_logs ("timestamp" DESC);
CREATE INDEX ix_alert_logs_instrument_timestamp ON alert_logs (instrument_id, "timestamp");
CREATE INDEX ix_alert_logs_status_timestamp ON alert_logs (status, "timestamp");
CREATE INDEX ix_alert_logs_created_at ON alert_logs (created_at);
CREATE INDEX ix_alert_logs_trigger_value ON alert_logs (trigger_value);
CREATE INDEX ix_alert_logs_threshold_value ON alert_logs (threshold_value);
