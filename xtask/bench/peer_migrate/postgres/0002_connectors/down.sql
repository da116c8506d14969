DROP TABLE service_proposals;
DROP TABLE client_configs;
DROP TABLE connector_profiles;
