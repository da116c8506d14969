-- Not the seed's: what the two services need that its tables lack.
-- * version: optimistic concurrency. Every write adds one; the HTTP ETag is it, and an update
--   carrying a stale one (If-Match) is refused instead of overwriting someone else's change.
-- * service_proposals.updated_at: proposals change (draft -> sent -> accepted) like the others.
-- * created_at and updated_at NOT NULL: lists are ordered and paged by (created_at, key), which
--   needs a time in every row; a row some other client wrote with NULL takes the other time,
--   or now.
-- * connector_profiles.secrets: connection_string and credentials.password, encrypted, outside
--   the document (a JSON object of field -> ciphertext written by persistent_storage::secrets;
--   opaque to the database, so TEXT). The document itself never holds a secret.
UPDATE connector_profiles SET created_at = coalesce(updated_at, now()) WHERE created_at IS NULL;
UPDATE connector_profiles SET updated_at = created_at WHERE updated_at IS NULL;
ALTER TABLE connector_profiles
    ALTER COLUMN created_at SET NOT NULL,
    ALTER COLUMN updated_at SET NOT NULL,
    ADD COLUMN version BIGINT NOT NULL DEFAULT 1,
    ADD COLUMN secrets TEXT;

UPDATE client_configs SET created_at = coalesce(updated_at, now()) WHERE created_at IS NULL;
UPDATE client_configs SET updated_at = created_at WHERE updated_at IS NULL;
ALTER TABLE client_configs
    ALTER COLUMN created_at SET NOT NULL,
    ALTER COLUMN updated_at SET NOT NULL,
    ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

UPDATE service_proposals SET created_at = now() WHERE created_at IS NULL;
ALTER TABLE service_proposals
    ALTER COLUMN created_at SET NOT NULL,
    ADD COLUMN updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
UPDATE service_proposals SET updated_at = created_at;
