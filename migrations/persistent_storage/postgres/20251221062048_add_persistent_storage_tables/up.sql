-- Seed 002, 20251221_062048_add_persistent_storage_tables: the three tables the Connector
-- Service and the Demo Config Service keep their documents in, as the seed writes them, with
-- the table and column comments its checklist asks for.
CREATE TABLE connector_profiles (
    id VARCHAR(255) PRIMARY KEY,
    profile_data JSONB NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

CREATE INDEX ix_connector_profiles_created_at ON connector_profiles(created_at);

CREATE TABLE client_configs (
    client_id VARCHAR(255) PRIMARY KEY,
    config_data JSONB NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

CREATE INDEX ix_client_configs_created_at ON client_configs(created_at);

CREATE TABLE service_proposals (
    proposal_id VARCHAR(255) PRIMARY KEY,
    proposal_data JSONB NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

CREATE INDEX ix_service_proposals_created_at ON service_proposals(created_at);

COMMENT ON TABLE connector_profiles IS 'Connection profiles for external data sources';
COMMENT ON COLUMN connector_profiles.profile_data IS 'name, type (sql|api|excel), connection_string, credentials, schema_info, test_status, last_tested';
COMMENT ON TABLE client_configs IS 'Client-specific configurations';
COMMENT ON COLUMN client_configs.config_data IS 'client_name, license_type (basic|professional|enterprise), modules, preferences, custom_kpis, data_sources';
COMMENT ON TABLE service_proposals IS 'Generated service proposals and SOWs';
COMMENT ON COLUMN service_proposals.proposal_data IS 'client_id, proposal_type (implementation|consulting), pricing, timeline, resources, status (draft|sent|accepted|rejected)';
