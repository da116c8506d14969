-- On SQLite a text primary key is NOT NULL explicitly (SQLite would accept a NULL one).
-- The retail planning tables as they stood before seed 003's phase (its "existing tables",
-- created by Phase 1's seed_db.py and Phase 4), so its migration has something to validate
-- and refer to. stores and historical_sales are as the seed writes them; the seed does not
-- show store_clusters, categories and workflows, so they hold what the seed's tables and
-- uploads refer to: a cluster's name, a category's display name (historical sales files name
-- categories by it: "Women's Dresses" is womens_dresses), and a workflow's category and
-- season start (a week's dates are season_start + (week_number - 1) weeks).
CREATE TABLE IF NOT EXISTS store_clusters (
    cluster_id VARCHAR(50) NOT NULL PRIMARY KEY,
    cluster_name VARCHAR(100) NOT NULL
);

CREATE TABLE IF NOT EXISTS categories (
    category_id VARCHAR(50) NOT NULL PRIMARY KEY,
    category_name VARCHAR(100) NOT NULL UNIQUE
);

CREATE TABLE IF NOT EXISTS stores (
    store_id VARCHAR(50) NOT NULL PRIMARY KEY,
    store_name VARCHAR(100) NOT NULL,
    cluster_id VARCHAR(50),
    store_size_sqft INTEGER NOT NULL,
    location_tier VARCHAR(20) NOT NULL,
    median_income INTEGER NOT NULL,
    store_format VARCHAR(50) NOT NULL,
    region VARCHAR(50) NOT NULL,
    avg_weekly_sales_12mo FLOAT NOT NULL,
    FOREIGN KEY (cluster_id) REFERENCES store_clusters(cluster_id)
);

CREATE TABLE IF NOT EXISTS workflows (
    workflow_id VARCHAR(50) NOT NULL PRIMARY KEY,
    category_id VARCHAR(50) NOT NULL,
    season_start DATE NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (category_id) REFERENCES categories(category_id)
);

CREATE TABLE IF NOT EXISTS historical_sales (
    sale_id VARCHAR(100) NOT NULL PRIMARY KEY,
    week_start_date DATE NOT NULL,
    category_id VARCHAR(50) NOT NULL,
    store_id VARCHAR(50) NOT NULL,
    units_sold INTEGER NOT NULL,
    FOREIGN KEY (category_id) REFERENCES categories(category_id),
    FOREIGN KEY (store_id) REFERENCES stores(store_id)
);
