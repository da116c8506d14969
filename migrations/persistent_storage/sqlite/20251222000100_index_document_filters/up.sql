-- The PostgreSQL migration's indexes (see it for why expression B-trees): SQLite indexes the
-- same json_extract expression the lists filter by, with the order and page columns after it.
CREATE INDEX ix_connector_profiles_type ON connector_profiles (json_extract(profile_data, '$.type'), created_at, id);
CREATE INDEX ix_client_configs_license_type ON client_configs (json_extract(config_data, '$.license_type'), created_at, client_id);
CREATE INDEX ix_service_proposals_status ON service_proposals (json_extract(proposal_data, '$.status'), created_at, proposal_id);
CREATE INDEX ix_service_proposals_client_id ON service_proposals (json_extract(proposal_data, '$.client_id'), created_at, proposal_id);
