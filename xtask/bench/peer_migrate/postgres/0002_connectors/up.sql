-- Revision 0002 of the Alembic peer: JSONB documents.
CREATE TABLE connector_profiles (
    id             SERIAL PRIMARY KEY,
    name           VARCHAR(100) NOT NULL UNIQUE,
    connector_type VARCHAR(50) NOT NULL,
    settings       JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at     TIMESTAMP DEFAULT now(),
    updated_at     TIMESTAMP DEFAULT now()
);
CREATE INDEX idx_connector_profiles_settings ON connector_profiles USING gin (settings);
CREATE TABLE client_configs (
    id                   SERIAL PRIMARY KEY,
    client_name          VARCHAR(200) NOT NULL,
    connector_profile_id INTEGER REFERENCES connector_profiles (id),
    config               JSONB NOT NULL DEFAULT '{}'::jsonb,
    is_active            BOOLEAN NOT NULL DEFAULT true,
    created_at           TIMESTAMP DEFAULT now()
);
CREATE INDEX idx_client_configs_profile ON client_configs (connector_profile_id);
CREATE TABLE service_proposals (
    id               SERIAL PRIMARY KEY,
    client_config_id INTEGER REFERENCES client_configs (id) ON DELETE CASCADE,
    title            VARCHAR(200) NOT NULL,
    proposal         JSONB NOT NULL,
    status           VARCHAR(20) NOT NULL DEFAULT 'draft',
    created_at       TIMESTAMP DEFAULT now()
);
CREATE INDEX idx_service_proposals_status ON service_proposals (status);
