CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_weekly_actuals_workflow ON weekly_actuals(workflow_id, week_number);
