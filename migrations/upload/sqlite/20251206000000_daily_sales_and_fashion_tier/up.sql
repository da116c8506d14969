-- The PostgreSQL migration's reasons: daily historical sales with revenue, and the stores'
-- fashion tier. SQLite does not enforce VARCHAR lengths, so sale_id needs no widening here.
ALTER TABLE historical_sales ADD COLUMN sale_date DATE;
ALTER TABLE historical_sales ADD COLUMN revenue NUMERIC(14,2) CHECK (revenue >= 0);
ALTER TABLE stores ADD COLUMN fashion_tier VARCHAR(20)
    CHECK (fashion_tier IN ('Premium', 'Mainstream', 'Value'));
