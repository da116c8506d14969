-- Back to DECIMAL(12,4): values that came from DECIMAL come back exactly; a value written
-- since with more than 4 decimals is rounded to 4 (half away from zero).
ALTER TABLE alert_logs
    ALTER COLUMN threshold_value TYPE DECIMAL(12, 4) USING round(threshold_value::numeric, 4),
    ALTER COLUMN trigger_value TYPE DECIMAL(12, 4) USING round(trigger_value::numeric, 4);
ALTER TABLE market_data
    ALTER COLUMN low_price TYPE DECIMAL(12, 4) USING round(low_price::numeric, 4),
    ALTER COLUMN high_price TYPE DECIMAL(12, 4) USING round(high_price::numeric, 4),
    ALTER COLUMN open_price TYPE DECIMAL(12, 4) USING round(open_price::numeric, 4),
    ALTER COLUMN ask TYPE DECIMAL(12, 4) USING round(ask::numeric, 4),
    ALTER COLUMN bid TYPE DECIMAL(12, 4) USING round(bid::numeric, 4),
    ALTER COLUMN price TYPE DECIMAL(12, 4) USING round(price::numeric, 4);
