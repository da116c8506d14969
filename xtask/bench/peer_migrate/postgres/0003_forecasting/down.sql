DROP TABLE weekly_actuals;
DROP TABLE historical_sales;
DROP TABLE workflows;
DROP TABLE stores;
DROP TABLE store_clusters;
DROP TABLE categories;
