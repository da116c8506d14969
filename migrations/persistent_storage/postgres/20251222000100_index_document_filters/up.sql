-- The seed's "optional GIN index", chosen for the filters the services serve. Each list
-- filters one document field by equality (?type=, ?license_type=, ?status=, ?client_id=) and
-- pages newest first by (created_at, key). A B-tree on (field ->> 'name', created_at, key)
-- answers exactly that: the equality, the order and the page boundary, from one index range,
-- with no sort. A GIN index (jsonb_ops or jsonb_path_ops) serves only containment (@>), not
-- ->> equality, gives no order, and costs every write a posting-list update for every key and
-- value of the document. CONCURRENTLY: the services write these tables while it builds.
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_connector_profiles_type ON connector_profiles ((profile_data ->> 'type'), created_at, id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_client_configs_license_type ON client_configs ((config_data ->> 'license_type'), created_at, client_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_service_proposals_status ON service_proposals ((proposal_data ->> 'status'), created_at, proposal_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_service_proposals_client_id ON service_proposals ((proposal_data ->> 'client_id'), created_at, proposal_id);
