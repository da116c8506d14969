-- Revision 0001 of the Alembic peer: the alm_reporting schema with a trigger-maintained summary.
CREATE SCHEMA IF NOT EXISTS alm_reporting;
CREATE TABLE alm_reporting.import_history (
    id            SERIAL PRIMARY KEY,
    source        VARCHAR(100) NOT NULL,
    file_name     VARCHAR(255) NOT NULL,
    rows_imported INTEGER DEFAULT 0,
    status        VARCHAR(20) NOT NULL DEFAULT 'pending',
    started_at    TIMESTAMP DEFAULT now(),
    finished_at   TIMESTAMP
);
CREATE INDEX idx_import_history_started ON alm_reporting.import_history (started_at);
CREATE TABLE alm_reporting.processing_status (
    id         SERIAL PRIMARY KEY,
    import_id  INTEGER REFERENCES alm_reporting.import_history (id) ON DELETE CASCADE,
    stage      VARCHAR(50) NOT NULL,
    state      VARCHAR(20) NOT NULL,
    message    TEXT,
    updated_at TIMESTAMP DEFAULT now()
);
CREATE TABLE alm_reporting.processed_files (
    id           SERIAL PRIMARY KEY,
    file_path    VARCHAR(500) NOT NULL UNIQUE,
    file_hash    VARCHAR(64) NOT NULL,
    processed_at TIMESTAMP DEFAULT now()
);
CREATE TABLE alm_reporting.chronological_events (
    id         BIGSERIAL PRIMARY KEY,
    event_time TIMESTAMP NOT NULL,
    event_type VARCHAR(50) NOT NULL,
    account    VARCHAR(50),
    amount     NUMERIC(14, 2),
    details    TEXT
);
CREATE INDEX idx_events_time ON alm_reporting.chronological_events (event_time);
CREATE INDEX idx_events_type_time ON alm_reporting.chronological_events (event_type, event_time);
CREATE TABLE alm_reporting.daily_summary (
    summary_date DATE PRIMARY KEY,
    event_count  INTEGER NOT NULL DEFAULT 0,
    total_amount NUMERIC(16, 2) NOT NULL DEFAULT 0,
    updated_at   TIMESTAMP DEFAULT now()
);
CREATE OR REPLACE FUNCTION alm_reporting.update_daily_summary() RETURNS trigger AS $$
BEGIN
    INSERT INTO alm_reporting.daily_summary (summary_date, event_count, total_amount, updated_at)
    VALUES (NEW.event_time::date, 1, COALESCE(NEW.amount, 0), now())
    ON CONFLICT (summary_date) DO UPDATE
       SET event_count = alm_reporting.daily_summary.event_count + 1,
           total_amount = alm_reporting.daily_summary.total_amount + EXCLUDED.total_amount,
           updated_at = now();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER trg_events_daily_summary AFTER INSERT ON alm_reporting.chronological_events
    FOR EACH ROW EXECUTE FUNCTION alm_reporting.update_daily_summary();
