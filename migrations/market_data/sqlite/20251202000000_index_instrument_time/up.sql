-- The index an instrument's time range and the latest price per instrument need, which seed
-- 001's index migrations left none of (see the PostgreSQL migration for the figures).
CREATE INDEX ix_market_data_instrument_timestamp ON market_data (instrument_id, "timestamp");
