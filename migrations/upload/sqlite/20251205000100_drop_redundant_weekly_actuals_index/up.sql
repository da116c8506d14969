-- The PostgreSQL migration's reason: the index leads unique_workflow_week_store.
DROP INDEX IF EXISTS idx_weekly_actuals_workflow;
