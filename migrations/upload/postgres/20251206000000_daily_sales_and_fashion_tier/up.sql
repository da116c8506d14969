-- Not the seed's: what the real upload files carry (FORMATS.md §3), which the seed's tables
-- cannot hold.
--
-- historical_sales: real files hold daily rows with revenue
-- (date,category,store_id,quantity_sold,revenue); the seed's table holds weekly ones. A daily
-- row keeps the seed's columns filled (units_sold: the day's quantity; week_start_date: the
-- Monday of the day's ISO week, so readers written for the seed's table that sum units_sold by
-- week_start_date still get weekly totals) and adds the day and the revenue, exact to the
-- cent. Rows from before this migration have neither (NULL).
--
-- sale_id stays the key: an uploaded row's is its natural key '<date>/<category_id>/<store_id>',
-- so a day of one category in one store is stored once and a second upload of it is found by
-- the primary key. With the 50-character store and category ids that needs up to 112
-- characters, hence VARCHAR(120); widening a varchar rewrites neither the table nor its index.
ALTER TABLE historical_sales ALTER COLUMN sale_id TYPE VARCHAR(120);
ALTER TABLE historical_sales ADD COLUMN sale_date DATE;
ALTER TABLE historical_sales ADD COLUMN revenue NUMERIC(14,2) CHECK (revenue >= 0);

-- stores: the attributes file's fashion tier; stores created before it have none (NULL).
ALTER TABLE stores ADD COLUMN fashion_tier VARCHAR(20)
    CHECK (fashion_tier IN ('Premium', 'Mainstream', 'Value'));
