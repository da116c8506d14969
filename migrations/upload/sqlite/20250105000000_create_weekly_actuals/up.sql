-- Seed 003 (PHASE4.5-003, completed 2025-01-05): weekly_actuals and its indexes, exactly as the
-- seed writes them. The seed's script first checks that historical_sales, stores, categories
-- and workflows exist: here the previous migration makes them, and `intake migrate check
-- --domain upload` names any table, column, index or foreign key that is missing or differs.
CREATE TABLE IF NOT EXISTS weekly_actuals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id VARCHAR(50) NOT NULL,
    week_number INTEGER NOT NULL,
    week_start_date DATE NOT NULL,
    week_end_date DATE NOT NULL,
    store_id VARCHAR(50) NOT NULL,
    category_id VARCHAR(50) NOT NULL,
    actual_units_sold INTEGER NOT NULL,
    forecast_units_sold INTEGER,
    variance_pct FLOAT,
    uploaded_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT unique_workflow_week_store UNIQUE (workflow_id, week_number, store_id),
    FOREIGN KEY (workflow_id) REFERENCES workflows(workflow_id) ON DELETE CASCADE,
    FOREIGN KEY (store_id) REFERENCES stores(store_id) ON DELETE CASCADE,
    FOREIGN KEY (category_id) REFERENCES categories(category_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS idx_weekly_actuals_workflow
ON weekly_actuals(workflow_id, week_number);

CREATE INDEX IF NOT EXISTS idx_weekly_actuals_store
ON weekly_actuals(store_id);

CREATE INDEX IF NOT EXISTS idx_weekly_actuals_date
ON weekly_actuals(week_start_date);
