-- The seed's rollback: the table and its indexes go, with every weekly actual in it.
DROP INDEX IF EXISTS idx_weekly_actuals_date;
DROP INDEX IF EXISTS idx_weekly_actuals_store;
DROP INDEX IF EXISTS idx_weekly_actuals_workflow;
DROP TABLE IF EXISTS weekly_actuals;
