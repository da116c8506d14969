CREATE INDEX idx_import_history_date ON alm_reporting_import_history(import_date DESC);
