DROP TABLE historical_sales;
DROP TABLE workflows;
DROP TABLE stores;
DROP TABLE categories;
DROP TABLE store_clusters;
