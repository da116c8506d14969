-- Seed 002's tables on SQLite: JSONB is JSON text that a CHECK with json_valid keeps valid;
-- TIMESTAMP WITH TIME ZONE is a UTC timestamp; a text primary key is NOT NULL (SQLite would
-- otherwise accept a NULL one). SQLite has no comments: the seed's are these lines.
--   connector_profiles: Connection profiles for external data sources
--   client_configs: Client-specific configurations
--   service_proposals: Generated service proposals and SOWs
CREATE TABLE connector_profiles (
    id VARCHAR(255) NOT NULL PRIMARY KEY,
    profile_data TEXT NOT NULL CHECK (json_valid(profile_data)),
    created_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX ix_connector_profiles_created_at ON connector_profiles(created_at);

CREATE TABLE client_configs (
    client_id VARCHAR(255) NOT NULL PRIMARY KEY,
    config_data TEXT NOT NULL CHECK (json_valid(config_data)),
    created_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX ix_client_configs_created_at ON client_configs(created_at);

CREATE TABLE service_proposals (
    proposal_id VARCHAR(255) NOT NULL PRIMARY KEY,
    proposal_data TEXT NOT NULL CHECK (json_valid(proposal_data)),
    created_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX ix_service_proposals_created_at ON service_proposals(created_at);
