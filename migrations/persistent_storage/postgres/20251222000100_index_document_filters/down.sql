DROP INDEX CONCURRENTLY IF EXISTS ix_service_proposals_client_id;
DROP INDEX CONCURRENTLY IF EXISTS ix_service_proposals_status;
DROP INDEX CONCURRENTLY IF EXISTS ix_client_configs_license_type;
DROP INDEX CONCURRENTLY IF EXISTS ix_connector_profiles_type;
