-- Seed 001, optimize_market_data_indexes: the single-column and covering indexes go (each
-- INSERT maintained all five); ix_market_data_timestamp_instrument stays and
-- ix_market_data_instrument_price comes. The seed says "remove 3" and lists 4: all 4 go.
DROP INDEX CONCURRENTLY IF EXISTS ix_market_data_timestamp;
DROP INDEX CONCURRENTLY IF EXISTS ix_market_data_instrument;
DROP INDEX CONCURRENTLY IF EXISTS ix_market_data_price;
DROP INDEX CONCURRENTLY IF EXISTS ix_market_data_latest;
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_market_data_instrument_price ON market_data (instrument_id, price);
