-- Seed 001 dropped every index that leads with instrument_id and "timestamp"
-- (ix_market_data_instrument, ix_market_data_latest) and kept only ("timestamp",
-- instrument_id) and (instrument_id, price). Two query shapes the seed promises to keep then
-- scan far more: an instrument's time range, and the latest price per instrument.
-- `cargo xtask bench market-data` measured them on 1 M ticks: an instrument's hour 0.41× as fast
-- on PostgreSQL and about 500× slower on SQLite, the latest prices 25× slower on SQLite. The
-- seed's migrations stay as written; this one adds the index those queries need (one
-- index, not the three dropped), and down.sql drops it.
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_market_data_instrument_timestamp ON market_data (instrument_id, "timestamp");
