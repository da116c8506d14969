-- Seed 000 indexes import_history(import_date DESC) beside the UNIQUE constraint on the same
-- column, whose index already serves every lookup and ordering by import_date (a B-tree is read
-- in either direction). The second index only costs each write. The seed's migration stays
-- as written; this one drops the index, and down.sql recreates it exactly. `intake migrate
-- check` flagged it (rule redundant-index) until this migration.
DROP INDEX alm_reporting.idx_import_history_date;
