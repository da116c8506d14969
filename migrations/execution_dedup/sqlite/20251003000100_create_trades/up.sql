-- The fills imports write: one row per NinjaTrader execution (FORMATS.md §1 columns).
--
-- Money (price, commission, rate) is stored exactly, as integers in units of 10^-8:
-- price_e8 = price × 100 000 000 (21012.25 → 2101225000000). Both backends then hold the same
-- exact value and the same SQL sums it exactly; SQLite has no decimal type (a NUMERIC column
-- turns 21012.25 into a float). Eight places cover every tick size and crypto's satoshi; the
-- range is ±92 billion. The importer rejects a value with more places instead of rounding it.
--
-- execution_id is NULL for fills entered by hand; imported fills always carry one, at most once.
-- No other index: each one costs every import (add one with the queries that need it).
CREATE TABLE trades (
    id               INTEGER PRIMARY KEY,
    execution_id     VARCHAR(255) UNIQUE,
    account          VARCHAR(50)  NOT NULL,
    instrument       VARCHAR(50)  NOT NULL,
    action           VARCHAR(10)  NOT NULL CHECK (action IN ('Buy', 'Sell', 'BuyToCover', 'SellShort')),
    quantity         BIGINT       NOT NULL CHECK (quantity > 0),
    price_e8         BIGINT       NOT NULL,
    -- Local exchange-session time, as exported: the file carries no time zone.
    executed_at      DATETIME     NOT NULL,
    entry_exit       VARCHAR(5)   NOT NULL CHECK (entry_exit IN ('Entry', 'Exit')),
    -- After the fill: '3 L', '1 S' or '-' when flat.
    position         VARCHAR(20)  NOT NULL,
    order_id         VARCHAR(255),
    name             VARCHAR(255) NOT NULL,
    commission_e8    BIGINT       NOT NULL,
    rate_e8          BIGINT       NOT NULL,
    connection       VARCHAR(255) NOT NULL,
    -- Only the 15-column exporter writes it.
    trade_validation VARCHAR(7)   CHECK (trade_validation IN ('Valid', 'Invalid'))
);
