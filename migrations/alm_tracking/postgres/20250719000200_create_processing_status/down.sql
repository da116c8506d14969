-- Seed 000's rollback script (99_rollback_module_1.sql), its part for this migration.
DROP TABLE IF EXISTS alm_reporting.processing_status CASCADE;
