-- Seed 000, step 4 (03_modify_existing_tables.sql), as written.

-- Add unique constraint to chronological_events to prevent duplicates
ALTER TABLE alm_reporting.chronological_events 
ADD CONSTRAINT uk_chronological_events_transaction 
UNIQUE (source_transaction_id);

-- Add ON CONFLICT handling capability
ALTER TABLE alm_reporting.daily_summary
ADD CONSTRAINT uk_daily_summary_date
UNIQUE (summary_date);

-- Add last_updated column for tracking
ALTER TABLE alm_reporting.daily_summary
ADD COLUMN IF NOT EXISTS last_updated TIMESTAMP DEFAULT CURRENT_TIMESTAMP;

ALTER TABLE alm_reporting.chronological_events
ADD COLUMN IF NOT EXISTS last_updated TIMESTAMP DEFAULT CURRENT_TIMESTAMP;

-- Create trigger to auto-update last_updated
CREATE OR REPLACE FUNCTION update_last_updated_column()
RETURNS TRIGGER AS $$
BEGIN
    NEW.last_updated = CURRENT_TIMESTAMP;
    RETURN NEW;
END;
$$ language 'plpgsql';

CREATE TRIGGER update_daily_summary_last_updated 
BEFORE UPDATE ON alm_reporting.daily_summary 
FOR EACH ROW EXECUTE FUNCTION update_last_updated_column();

CREATE TRIGGER update_chronological_events_last_updated 
BEFORE UPDATE ON alm_reporting.chronological_events 
FOR EACH ROW EXECUTE FUNCTION update_last_updated_column();
