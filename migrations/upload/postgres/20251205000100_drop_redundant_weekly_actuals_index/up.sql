-- Not the seed's: idx_weekly_actuals_workflow (workflow_id, week_number) leads the seed's own
-- unique_workflow_week_store (workflow_id, week_number, store_id), whose index serves every
-- lookup by workflow and week; it only makes each upload maintain a second copy (the lint's
-- redundant-index). Seed 001's policy: drop what only slows INSERTs. CONCURRENTLY: uploads
-- write this table.
DROP INDEX CONCURRENTLY IF EXISTS idx_weekly_actuals_workflow;
