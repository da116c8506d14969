ALTER TABLE stores DROP COLUMN fashion_tier;
ALTER TABLE historical_sales DROP COLUMN revenue;
ALTER TABLE historical_sales DROP COLUMN sale_date;
