-- Revision 0003 of the Alembic peer: retail planning.
CREATE TABLE categories (
    id   SERIAL PRIMARY KEY,
    name VARCHAR(100) NOT NULL UNIQUE
);
CREATE TABLE store_clusters (
    id     SERIAL PRIMARY KEY,
    name   VARCHAR(100) NOT NULL,
    method VARCHAR(50)
);
CREATE TABLE stores (
    id         SERIAL PRIMARY KEY,
    store_code VARCHAR(20) NOT NULL UNIQUE,
    name       VARCHAR(100) NOT NULL,
    cluster_id INTEGER REFERENCES store_clusters (id),
    region     VARCHAR(50)
);
CREATE TABLE workflows (
    id         SERIAL PRIMARY KEY,
    name       VARCHAR(200) NOT NULL,
    status     VARCHAR(20) NOT NULL DEFAULT 'draft',
    created_at TIMESTAMP DEFAULT now()
);
CREATE TABLE historical_sales (
    id          BIGSERIAL PRIMARY KEY,
    store_id    INTEGER NOT NULL REFERENCES stores (id),
    category_id INTEGER NOT NULL REFERENCES categories (id),
    sale_date   DATE NOT NULL,
    units_sold  INTEGER NOT NULL,
    revenue     NUMERIC(14, 2),
    UNIQUE (store_id, category_id, sale_date)
);
CREATE INDEX idx_historical_sales_date ON historical_sales (sale_date);
CREATE TABLE weekly_actuals (
    id                  SERIAL PRIMARY KEY,
    workflow_id         INTEGER NOT NULL REFERENCES workflows (id),
    week_number         INTEGER NOT NULL,
    week_start_date     DATE NOT NULL,
    week_end_date       DATE NOT NULL,
    store_id            INTEGER NOT NULL REFERENCES stores (id),
    category_id         INTEGER REFERENCES categories (id),
    actual_units_sold   INTEGER NOT NULL,
    forecast_units_sold DOUBLE PRECISION,
    variance_pct        DOUBLE PRECISION,
    uploaded_at         TIMESTAMP DEFAULT now(),
    CONSTRAINT uq_weekly_actuals_wf_week_store UNIQUE (workflow_id, week_number, store_id)
);
CREATE INDEX idx_weekly_actuals_workflow_week ON weekly_actuals (workflow_id, week_number);
CREATE INDEX idx_weekly_actuals_store ON weekly_actuals (store_id);
CREATE INDEX idx_weekly_actuals_week_start ON weekly_actuals (week_start_date);
