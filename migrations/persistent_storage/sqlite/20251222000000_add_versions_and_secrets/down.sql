-- Back to the seed's tables, rebuilt the same way. The encrypted secrets go with their column:
-- the seed's schema has no place for them, so a rollback deletes them.
CREATE TABLE connector_profiles_old (
    id VARCHAR(255) NOT NULL PRIMARY KEY,
    profile_data TEXT NOT NULL CHECK (json_valid(profile_data)),
    created_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO connector_profiles_old (id, profile_data, created_at, updated_at)
SELECT id, profile_data, created_at, updated_at FROM connector_profiles;
DROP TABLE connector_profiles;
ALTER TABLE connector_profiles_old RENAME TO connector_profiles;
CREATE INDEX ix_connector_profiles_created_at ON connector_profiles(created_at);

CREATE TABLE client_configs_old (
    client_id VARCHAR(255) NOT NULL PRIMARY KEY,
    config_data TEXT NOT NULL CHECK (json_valid(config_data)),
    created_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO client_configs_old (client_id, config_data, created_at, updated_at)
SELECT client_id, config_data, created_at, updated_at FROM client_configs;
DROP TABLE client_configs;
ALTER TABLE client_configs_old RENAME TO client_configs;
CREATE INDEX ix_client_configs_created_at ON client_configs(created_at);

CREATE TABLE service_proposals_old (
    proposal_id VARCHAR(255) NOT NULL PRIMARY KEY,
    proposal_data TEXT NOT NULL CHECK (json_valid(proposal_data)),
    created_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO service_proposals_old (proposal_id, proposal_data, created_at)
SELECT proposal_id, proposal_data, created_at FROM service_proposals;
DROP TABLE service_proposals;
ALTER TABLE service_proposals_old RENAME TO service_proposals;
CREATE INDEX ix_service_proposals_created_at ON service_proposals(created_at);
