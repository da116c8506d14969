DROP INDEX ix_market_data_instrument_price;
CREATE INDEX ix_market_data_timestamp ON market_data ("timestamp");
CREATE INDEX ix_market_data_instrument ON market_data (instrument_id);
CREATE INDEX ix_market_data_price ON market_data (price);
CREATE INDEX ix_market_data_latest ON market_data (instrument_id, "timestamp" DESC, price);
