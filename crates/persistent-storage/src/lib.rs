//! Persistent storage (seed 002): connector profiles, client configurations and service
//! proposals as JSON documents (JSONB on PostgreSQL, JSON text checked by `json_valid` on
//! SQLite), each validated by the validator crate's kind for it, versioned for optimistic
//! concurrency, and listed newest first by keyset pages with filters on document fields.
//!
//! Secrets (`connection_string`, `credentials.password`) never stay in a document: they are
//! sealed with XChaCha20-Poly1305 ([`secrets`]) into a column of their own and are never
//! returned, logged or shown in `Debug`; a representation says which are stored
//! (`secret_fields`, `has_credentials`). [`Store::rotate`] seals them again with a new key.
//!
//! [`http`] holds the two services' routes (the connector service's `/connector/profiles`,
//! the demo config service's `/demo/clients` and `/demo/proposals`); the service binaries only
//! start them. It knows nothing of the other domains.
//!
//! ```
//! use persistent_storage::{Collection, Store};
//! let db = migration_core::Database::connect(":memory:")?;
//! migration_core::Migrator::new([&persistent_storage::MIGRATIONS])?.run(&db, None)?;
//! let store = Store::new(db, None);
//! let stored = store.create(Collection::ClientConfigs, br#"{"client_id": "c-1", "client_name": "Acme", "license_type": "basic"}"#)?;
//! assert_eq!(stored.version, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod collection;
pub mod http;
pub mod secrets;
mod store;

pub use collection::{Collection, READ_ONLY_FIELDS};
pub use store::{Error, Expect, ListQuery, MAX_PAGE, Page, Rotation, Store, Stored, rfc3339};

/// The `persistent_storage` migrations, for PostgreSQL and SQLite.
pub static MIGRATIONS: migration_core::Domain = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

#[cfg(test)]
mod tests {
    #[test]
    fn migration_metadata_is_valid() {
        super::MIGRATIONS.validate().unwrap();
    }
}
