-- The PostgreSQL migration's columns (see it for why each): version, the proposals'
-- updated_at, NOT NULL times, and connector_profiles.secrets. SQLite cannot make a column
-- NOT NULL in place, so each table is rebuilt as SQLite documents
-- (https://www.sqlite.org/lang_altertable.html, "making other kinds of table schema changes"):
-- create the new table, copy, drop the old one, rename, recreate the index; inside this
-- migration's one transaction. No foreign key refers to these tables. Times are written as
-- UTC text with milliseconds (strftime's %f), the one form the store writes too, so the
-- (created_at, key) order and page boundaries compare like with like.
CREATE TABLE connector_profiles_new (
    id VARCHAR(255) NOT NULL PRIMARY KEY,
    profile_data TEXT NOT NULL CHECK (json_valid(profile_data)),
    created_at TIMESTAMPTZ NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    version BIGINT NOT NULL DEFAULT 1,
    secrets TEXT CHECK (secrets IS NULL OR json_valid(secrets))
);
INSERT INTO connector_profiles_new (id, profile_data, created_at, updated_at)
SELECT id, profile_data, strftime('%Y-%m-%d %H:%M:%f', coalesce(created_at, updated_at, 'now')), strftime('%Y-%m-%d %H:%M:%f', coalesce(updated_at, created_at, 'now'))
FROM connector_profiles;
DROP TABLE connector_profiles;
ALTER TABLE connector_profiles_new RENAME TO connector_profiles;
CREATE INDEX ix_connector_profiles_created_at ON connector_profiles(created_at);

CREATE TABLE client_configs_new (
    client_id VARCHAR(255) NOT NULL PRIMARY KEY,
    config_data TEXT NOT NULL CHECK (json_valid(config_data)),
    created_at TIMESTAMPTZ NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    version BIGINT NOT NULL DEFAULT 1
);
INSERT INTO client_configs_new (client_id, config_data, created_at, updated_at)
SELECT client_id, config_data, strftime('%Y-%m-%d %H:%M:%f', coalesce(created_at, updated_at, 'now')), strftime('%Y-%m-%d %H:%M:%f', coalesce(updated_at, created_at, 'now'))
FROM client_configs;
DROP TABLE client_configs;
ALTER TABLE client_configs_new RENAME TO client_configs;
CREATE INDEX ix_client_configs_created_at ON client_configs(created_at);

CREATE TABLE service_proposals_new (
    proposal_id VARCHAR(255) NOT NULL PRIMARY KEY,
    proposal_data TEXT NOT NULL CHECK (json_valid(proposal_data)),
    created_at TIMESTAMPTZ NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    version BIGINT NOT NULL DEFAULT 1
);
INSERT INTO service_proposals_new (proposal_id, proposal_data, created_at, updated_at)
SELECT proposal_id, proposal_data, strftime('%Y-%m-%d %H:%M:%f', coalesce(created_at, 'now')), strftime('%Y-%m-%d %H:%M:%f', coalesce(created_at, 'now'))
FROM service_proposals;
DROP TABLE service_proposals;
ALTER TABLE service_proposals_new RENAME TO service_proposals;
CREATE INDEX ix_service_proposals_created_at ON service_proposals(created_at);
