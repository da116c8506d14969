DROP TABLE alm_reporting.daily_summary;
DROP TABLE alm_reporting.chronological_events;
-- The schema goes only if these tables were all it held (it may have existed before).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = 'alm_reporting') THEN
        DROP SCHEMA IF EXISTS alm_reporting;
    END IF;
END
$$;
