ALTER TABLE stores DROP COLUMN fashion_tier;
ALTER TABLE historical_sales DROP COLUMN revenue;
ALTER TABLE historical_sales DROP COLUMN sale_date;
-- Fails while an uploaded sale_id is longer than 100 characters: delete those rows first.
ALTER TABLE historical_sales ALTER COLUMN sale_id TYPE VARCHAR(100);
