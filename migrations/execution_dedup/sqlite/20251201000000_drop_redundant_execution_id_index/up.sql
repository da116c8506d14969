-- Seed 004 created idx_imported_executions_exec_id on execution_id, which the UNIQUE
-- constraint on the same column already indexes: every lookup by id can use the unique
-- index, so the second one serves no query and only costs each import (every new ledger row
-- is written into both). Seed 001's own policy is to drop indexes that only slow INSERTs.
-- The seed's migration stays as it was written (databases that ran it keep working); this
-- one removes the index, and down.sql recreates it exactly. `intake migrate check` flagged it
-- (rule redundant-index) until this migration.
DROP INDEX idx_imported_executions_exec_id;
