//! The three document collections of seed 002: where each lives, how its documents are keyed,
//! validated and filtered, and which of their fields are secrets.

use upload_validator::PayloadKind;

/// One collection of documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collection {
    /// `connector_profiles`, served by the Connector Service at `/connector/profiles`.
    ConnectorProfiles,
    /// `client_configs`, served by the Demo Config Service at `/demo/clients`.
    ClientConfigs,
    /// `service_proposals`, served by the Demo Config Service at `/demo/proposals`.
    ServiceProposals,
}

impl Collection {
    /// Every collection.
    pub const ALL: [Collection; 3] =
        [Collection::ConnectorProfiles, Collection::ClientConfigs, Collection::ServiceProposals];

    /// Its table.
    pub fn table(self) -> &'static str {
        match self {
            Collection::ConnectorProfiles => "connector_profiles",
            Collection::ClientConfigs => "client_configs",
            Collection::ServiceProposals => "service_proposals",
        }
    }

    /// The key column, which is also the key's field name in a document (`id`, `client_id`,
    /// `proposal_id`).
    pub fn key(self) -> &'static str {
        match self {
            Collection::ConnectorProfiles => "id",
            Collection::ClientConfigs => "client_id",
            Collection::ServiceProposals => "proposal_id",
        }
    }

    /// The document column.
    pub fn data_column(self) -> &'static str {
        match self {
            Collection::ConnectorProfiles => "profile_data",
            Collection::ClientConfigs => "config_data",
            Collection::ServiceProposals => "proposal_data",
        }
    }

    /// The validator kind its documents are checked by.
    pub fn kind(self) -> PayloadKind {
        match self {
            Collection::ConnectorProfiles => PayloadKind::ConnectorProfile,
            Collection::ClientConfigs => PayloadKind::ClientConfig,
            Collection::ServiceProposals => PayloadKind::ServiceProposal,
        }
    }

    /// The document fields a list can be filtered by (equality), each served by an index
    /// (migration `20251222000100_index_document_filters`).
    pub fn filters(self) -> &'static [&'static str] {
        match self {
            Collection::ConnectorProfiles => &["type"],
            Collection::ClientConfigs => &["license_type"],
            Collection::ServiceProposals => &["status", "client_id"],
        }
    }

    /// The fields whose values are secrets: kept out of the document, encrypted in the
    /// `secrets` column, never returned. A path is its names from the document's top.
    ///
    /// `credentials.username` is not one: it says which account a connector logs in as,
    /// which the people managing connectors need to see, and it opens nothing without the
    /// password. `connection_string` is one whole, since connection strings commonly carry a
    /// password (`Password=...`, `user:password@host`).
    pub fn secret_fields(self) -> &'static [&'static [&'static str]] {
        match self {
            Collection::ConnectorProfiles => &[&["connection_string"], &["credentials", "password"]],
            Collection::ClientConfigs | Collection::ServiceProposals => &[],
        }
    }

    /// The HTTP path of the collection.
    pub fn path(self) -> &'static str {
        match self {
            Collection::ConnectorProfiles => "/connector/profiles",
            Collection::ClientConfigs => "/demo/clients",
            Collection::ServiceProposals => "/demo/proposals",
        }
    }

    /// What one document is called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            Collection::ConnectorProfiles => "connector profile",
            Collection::ClientConfigs => "client configuration",
            Collection::ServiceProposals => "service proposal",
        }
    }
}

/// Names every representation carries besides the document, which a document may not use:
/// they are dropped from what a client sends (so a document read, changed and sent back is
/// accepted as it is).
pub const READ_ONLY_FIELDS: [&str; 5] = ["version", "created_at", "updated_at", "has_credentials", "secret_fields"];
