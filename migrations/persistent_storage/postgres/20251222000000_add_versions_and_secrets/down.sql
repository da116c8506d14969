-- Back to the seed's columns. The encrypted secrets go with their column: the seed's schema
-- has no place for them (the documents never held them), so a rollback deletes them.
ALTER TABLE service_proposals
    DROP COLUMN version,
    DROP COLUMN updated_at,
    ALTER COLUMN created_at DROP NOT NULL;
ALTER TABLE client_configs
    DROP COLUMN version,
    ALTER COLUMN updated_at DROP NOT NULL,
    ALTER COLUMN created_at DROP NOT NULL;
ALTER TABLE connector_profiles
    DROP COLUMN secrets,
    DROP COLUMN version,
    ALTER COLUMN updated_at DROP NOT NULL,
    ALTER COLUMN created_at DROP NOT NULL;
