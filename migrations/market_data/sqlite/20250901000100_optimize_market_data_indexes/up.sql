-- Seed 001, optimize_market_data_indexes (see the PostgreSQL migration). SQLite builds an
-- index in the migration's transaction; there is no CONCURRENTLY.
DROP INDEX ix_market_data_timestamp;
DROP INDEX ix_market_data_instrument;
DROP INDEX ix_market_data_price;
DROP INDEX ix_market_data_latest;
CREATE INDEX ix_market_data_instrument_price ON market_data (instrument_id, price);
