-- Seed 000's rollback script (99_rollback_module_1.sql), its part for this migration, in
-- the reverse order of up.sql: the script drops the columns before the triggers, which
-- works on PostgreSQL but is not the mirror of what was done.
DROP TRIGGER IF EXISTS update_daily_summary_last_updated ON alm_reporting.daily_summary;
DROP TRIGGER IF EXISTS update_chronological_events_last_updated ON alm_reporting.chronological_events;
DROP FUNCTION IF EXISTS update_last_updated_column();

-- Remove added columns
ALTER TABLE alm_reporting.daily_summary
DROP COLUMN IF EXISTS last_updated;

ALTER TABLE alm_reporting.chronological_events
DROP COLUMN IF EXISTS last_updated;

-- Remove constraints from existing tables
ALTER TABLE alm_reporting.chronological_events 
DROP CONSTRAINT IF EXISTS uk_chronological_events_transaction;

ALTER TABLE alm_reporting.daily_summary
DROP CONSTRAINT IF EXISTS uk_daily_summary_date;
