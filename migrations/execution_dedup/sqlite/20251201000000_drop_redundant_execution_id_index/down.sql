-- Puts back seed 004's second index on execution_id.
CREATE INDEX idx_imported_executions_exec_id ON imported_executions (execution_id);
