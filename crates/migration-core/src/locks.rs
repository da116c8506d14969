//! Every PostgreSQL advisory lock intake takes, and its key, in one place.
//!
//! Advisory-lock keys are one 64-bit space per database server: two uses that picked the same
//! number would wait on each other for no reason, or worse, not wait when they should. So no
//! crate writes a key of its own: the migration core's two fixed keys are listed here, and a
//! domain's write-lock key is derived from the domain's name, which
//! [`Migrator`](crate::Migrator) already requires to be unique.
//!
//! SQLite has one write lock per database file (`BEGIN IMMEDIATE`); these keys are not used
//! there.

use sha2::{Digest as _, Sha256};

/// A PostgreSQL advisory lock of intake's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdvisoryLock<'a> {
    /// Held by a migrator for its whole run, at session level (see [`MigrationLock`](crate::MigrationLock)).
    Migrator,
    /// Held for the transaction of each schema change and bookkeeping write.
    Schema,
    /// Held for the transaction that writes one domain's imported rows: writers of a domain
    /// take turns, writers of different domains do not wait on each other.
    DomainWrite(&'a str),
}

impl AdvisoryLock<'_> {
    /// The key passed to `pg_advisory_lock` and friends.
    pub fn key(self) -> i64 {
        match self {
            // "intmig" and "intake" in ASCII.
            AdvisoryLock::Migrator => 0x696e_746d_6967,
            AdvisoryLock::Schema => 0x696e_7461_6b65,
            AdvisoryLock::DomainWrite(domain) => {
                let digest = Sha256::new().chain_update(b"intake domain write lock\0").chain_update(domain).finalize();
                let mut key = [0; 8];
                key.copy_from_slice(&digest[..8]);
                // The fixed keys are below 2^48; a derived key has its top bit set, so it can
                // never be one of them.
                i64::from_be_bytes(key) | i64::MIN
            }
        }
    }

    /// What the lock protects, for messages.
    pub fn describe(self) -> String {
        match self {
            AdvisoryLock::Migrator => "the migrator lock".into(),
            AdvisoryLock::Schema => "the schema write lock".into(),
            AdvisoryLock::DomainWrite(domain) => format!("the {domain} write lock"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AdvisoryLock;

    #[test]
    fn keys_never_collide() {
        let names = ["execution_dedup", "upload", "storage", "alm_reporting", "market_data", "a", "b", ""];
        let mut keys: Vec<i64> = names.iter().map(|&name| AdvisoryLock::DomainWrite(name).key()).collect();
        keys.extend([AdvisoryLock::Migrator.key(), AdvisoryLock::Schema.key()]);
        let mut distinct = keys.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), keys.len(), "{keys:x?}");
        assert!(names.iter().all(|&name| AdvisoryLock::DomainWrite(name).key() < 0));
    }

    #[test]
    fn a_domain_key_is_stable() {
        // Changing the derivation would let an old and a new binary import side by side.
        assert_eq!(AdvisoryLock::DomainWrite("execution_dedup").key(), -3_345_324_475_610_577_689);
        assert_eq!(AdvisoryLock::Schema.key(), 0x696e_7461_6b65);
    }
}
