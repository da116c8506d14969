-- Revision 0005 of the Alembic peer: market data and alerts.
CREATE TABLE instruments (
    id          SERIAL PRIMARY KEY,
    symbol      VARCHAR(50) NOT NULL UNIQUE,
    exchange    VARCHAR(20),
    tick_size   NUMERIC(12, 6),
    point_value NUMERIC(12, 2)
);
CREATE TABLE market_data (
    id            BIGSERIAL PRIMARY KEY,
    instrument_id INTEGER NOT NULL REFERENCES instruments (id),
    ts            TIMESTAMP NOT NULL,
    open          DOUBLE PRECISION,
    high          DOUBLE PRECISION,
    low           DOUBLE PRECISION,
    close         DOUBLE PRECISION,
    volume        BIGINT,
    UNIQUE (instrument_id, ts)
);
CREATE INDEX idx_market_data_ts ON market_data (ts);
CREATE TABLE alert_rules (
    id            SERIAL PRIMARY KEY,
    instrument_id INTEGER REFERENCES instruments (id),
    name          VARCHAR(100) NOT NULL,
    condition     JSONB NOT NULL,
    enabled       BOOLEAN NOT NULL DEFAULT true,
    created_at    TIMESTAMP DEFAULT now()
);
CREATE TABLE alert_logs (
    id           BIGSERIAL PRIMARY KEY,
    rule_id      INTEGER REFERENCES alert_rules (id) ON DELETE CASCADE,
    triggered_at TIMESTAMP NOT NULL DEFAULT now(),
    price        DOUBLE PRECISION,
    message      TEXT
);
CREATE INDEX idx_alert_logs_rule_time ON alert_logs (rule_id, triggered_at);
