-- Seed 001, convert_decimal_to_float: the prices and alert values become double precision.
-- Exact to 4 decimals: every DECIMAL(12,4) value (at most 12 significant digits) round-trips
-- through a double (15 significant digits) and back to 4-decimal text unchanged; the crate's
-- proptest checks the whole domain's edges. This rewrites both tables under an ACCESS
-- EXCLUSIVE lock (the lint says so; `cargo xtask bench market-data` measures how long).
ALTER TABLE market_data
    ALTER COLUMN price TYPE DOUBLE PRECISION,
    ALTER COLUMN bid TYPE DOUBLE PRECISION,
    ALTER COLUMN ask TYPE DOUBLE PRECISION,
    ALTER COLUMN open_price TYPE DOUBLE PRECISION,
    ALTER COLUMN high_price TYPE DOUBLE PRECISION,
    ALTER COLUMN low_price TYPE DOUBLE PRECISION;
ALTER TABLE alert_logs
    ALTER COLUMN trigger_value TYPE DOUBLE PRECISION,
    ALTER COLUMN threshold_value TYPE DOUBLE PRECISION;
