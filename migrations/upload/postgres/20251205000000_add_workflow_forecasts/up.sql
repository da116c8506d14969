-- Not the seed's: weekly actuals take forecast_units_sold from the workflow, so a workflow
-- keeps a forecast per week and store where one exists (a week or store without one gets a
-- NULL forecast and a NULL variance). It goes with its workflow (CASCADE, as the seed's
-- weekly_actuals do); a store with forecasts cannot be deleted (RESTRICT): its forecasts are
-- the planning history.
CREATE TABLE workflow_forecasts (
    workflow_id VARCHAR(50) NOT NULL,
    week_number INTEGER NOT NULL CHECK (week_number >= 1),
    store_id VARCHAR(50) NOT NULL,
    forecast_units_sold INTEGER NOT NULL CHECK (forecast_units_sold >= 0),
    PRIMARY KEY (workflow_id, week_number, store_id),
    FOREIGN KEY (workflow_id) REFERENCES workflows(workflow_id) ON DELETE CASCADE,
    FOREIGN KEY (store_id) REFERENCES stores(store_id) ON DELETE RESTRICT
);

CREATE INDEX idx_workflow_forecasts_store ON workflow_forecasts(store_id);
