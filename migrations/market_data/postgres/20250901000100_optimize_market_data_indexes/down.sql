DROP INDEX CONCURRENTLY IF EXISTS ix_market_data_instrument_price;
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_market_data_latest ON market_data (instrument_id, "timestamp" DESC, price);
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_market_data_price ON market_data (price);
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_market_data_instrument ON market_data (instrument_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_market_data_timestamp ON market_data ("timestamp");
