-- The seed's rollback: the three tables and every document in them go.
DROP TABLE service_proposals;
DROP TABLE client_configs;
DROP TABLE connector_profiles;
