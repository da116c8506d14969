//! Secrets at rest: XChaCha20-Poly1305 with a random 24-byte nonce per value, bound to its
//! place by associated data, under a key named in the ciphertext.
//!
//! A sealed value is the text `v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`. `v1` is the
//! format (the algorithm and the associated data's layout); the key id says which key of the
//! [`Keyring`] opens it, so keys can be rotated while old values are still readable. The
//! associated data is `intake/persistent-storage/v1`, the table, the row's key and the field,
//! separated by NUL bytes: a ciphertext copied to another row, table or field fails to open, as
//! does one with any byte changed. A 24-byte nonce drawn from the operating system's generator
//! may be drawn at random for as many values as a key will ever seal (the chance of a repeat
//! after 2^64 values is about 2^-64), which a 12-byte nonce would not allow.
//!
//! Plain values are [`SecretString`]s and keys live in [`SecretBox`]es: neither prints in
//! `Debug` or serialises, and both are zeroed when dropped.
//!
//! Keys come from one text, in `INTAKE_SECRET_KEY` or a key file: `id:base64` entries (32
//! bytes each, standard or URL-safe base64) separated by newlines or commas, `#` comments
//! allowed; the first entry is the active key, the others only open what they sealed before.
//! [`Keyring::generate_line`] makes a new entry; nothing ever generates a key silently.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretBox, SecretString};

/// The format written by [`Keyring::seal`].
const FORMAT: &str = "v1";
/// Bytes in a key, a nonce, a tag.
const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;
const TAG_BYTES: usize = 16;

/// Where a secret value lives: its table, its row's key and its field. It is the associated
/// data of the value's encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place<'a> {
    /// The table, e.g. `connector_profiles`.
    pub table: &'a str,
    /// The row's key, e.g. `test-sql-connection`.
    pub key: &'a str,
    /// The field's path in the document, e.g. `credentials.password`.
    pub field: &'a str,
}

impl Place<'_> {
    fn associated_data(&self) -> Vec<u8> {
        let mut data = Vec::with_capacity(64 + self.table.len() + self.key.len() + self.field.len());
        for part in ["intake/persistent-storage/v1", self.table, self.key, self.field] {
            data.extend_from_slice(part.as_bytes());
            data.push(0);
        }
        data
    }
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?} field {}", self.table, self.key, self.field)
    }
}

/// Why keys could not be read, or a value not sealed or opened. No message holds key
/// material or a plain value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// No key was given.
    #[error(
        "no secret key: set INTAKE_SECRET_KEY or give a key file (`intake storage generate-key` makes one; nothing generates a key silently, since secrets sealed with a lost key are lost)"
    )]
    NoKey,
    /// An entry of the key text is not `id:base64-of-32-bytes`.
    #[error("secret key entry {entry} is not `id:base64` of 32 bytes: {why}")]
    BadKey {
        /// 1-based entry number.
        entry: usize,
        /// What is wrong with it.
        why: String,
    },
    /// Two entries have the same id.
    #[error("secret key id {0:?} appears twice; each key needs its own id")]
    DuplicateKeyId(String),
    /// A sealed value names a key the keyring lacks.
    #[error(
        "{place}: sealed with key {key_id:?}, which is not among the configured keys; add it (after the active key) to open it"
    )]
    UnknownKey {
        /// Where.
        place: String,
        /// The key it names.
        key_id: String,
    },
    /// A sealed value is not in a known format, was changed, or was moved from another place.
    #[error("{place}: the sealed value does not open ({why}); it was changed or copied from another row or field")]
    Tampered {
        /// Where.
        place: String,
        /// What failed (never the value).
        why: &'static str,
    },
    /// The operating system's random generator failed.
    #[error("the operating system's random generator failed: {0}")]
    Random(String),
}

struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
    // Kept so a keyring can be compared and its material zeroed on drop.
    _material: SecretBox<[u8; KEY_BYTES]>,
}

/// The keys: the first seals, every one opens what it sealed.
pub struct Keyring {
    keys: Vec<Key>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("Keyring").field("active", &self.active_id()).field("ids", &ids).finish_non_exhaustive()
    }
}

impl Keyring {
    /// Reads `id:base64` entries (newline or comma separated, `#` comments); the first is
    /// the active key.
    pub fn parse(text: &SecretString) -> Result<Keyring, SecretError> {
        let mut keys: Vec<Key> = Vec::new();
        let entries = text
            .expose_secret()
            .lines()
            .map(|line| line.split('#').next().unwrap_or(""))
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|entry| !entry.is_empty());
        for (n, entry) in entries.enumerate() {
            let bad = |why: &str| SecretError::BadKey { entry: n + 1, why: why.to_owned() };
            let (id, encoded) = entry.split_once(':').ok_or_else(|| bad("no `:` between the id and the key"))?;
            let id = id.trim();
            if id.is_empty()
                || id.len() > 32
                || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
            {
                return Err(bad("the id must be 1 to 32 letters, digits, `-`, `_` or `.`"));
            }
            let encoded = encoded.trim().trim_end_matches('=');
            let bytes = URL_SAFE_NO_PAD
                .decode(encoded)
                .or_else(|_| STANDARD.decode(format!("{encoded}{}", "=".repeat((4 - encoded.len() % 4) % 4))))
                .map_err(|_| bad("the key is not base64"))?;
            let material: [u8; KEY_BYTES] =
                bytes.as_slice().try_into().map_err(|_| bad(&format!("the key has {} bytes, not 32", bytes.len())))?;
            if keys.iter().any(|k| k.id == id) {
                return Err(SecretError::DuplicateKeyId(id.to_owned()));
            }
            keys.push(Key {
                id: id.to_owned(),
                cipher: XChaCha20Poly1305::new(&material.into()),
                _material: SecretBox::new(Box::new(material)),
            });
        }
        if keys.is_empty() {
            return Err(SecretError::NoKey);
        }
        Ok(Keyring { keys })
    }

    /// A new key entry, `id:base64url`, from the operating system's generator.
    pub fn generate_line(id: &str) -> Result<SecretString, SecretError> {
        let mut material = [0u8; KEY_BYTES];
        getrandom::fill(&mut material).map_err(|e| SecretError::Random(e.to_string()))?;
        let line = SecretString::from(format!("{id}:{}", URL_SAFE_NO_PAD.encode(material)));
        material.fill(0);
        Ok(line)
    }

    /// The id of the key that seals.
    pub fn active_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Seals `plain` for `place` with the active key.
    pub fn seal(&self, place: Place<'_>, plain: &SecretString) -> Result<String, SecretError> {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|e| SecretError::Random(e.to_string()))?;
        let aad = place.associated_data();
        let sealed = key
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain.expose_secret().as_bytes(), aad: &aad })
            .map_err(|_| SecretError::Tampered { place: place.to_string(), why: "encryption failed" })?;
        let mut bytes = Vec::with_capacity(NONCE_BYTES + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Ok(format!("{FORMAT}:{}:{}", key.id, URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The key id a sealed value names, if it is in a known format.
    pub fn key_id_of(sealed: &str) -> Option<&str> {
        let mut parts = sealed.splitn(3, ':');
        (parts.next() == Some(FORMAT)).then(|| parts.next()).flatten()
    }

    /// Opens a value sealed for `place`.
    pub fn open(&self, place: Place<'_>, sealed: &str) -> Result<SecretString, SecretError> {
        let tampered = |why| SecretError::Tampered { place: place.to_string(), why };
        let mut parts = sealed.splitn(3, ':');
        if parts.next() != Some(FORMAT) {
            return Err(tampered("unknown format"));
        }
        let (Some(key_id), Some(encoded)) = (parts.next(), parts.next()) else {
            return Err(tampered("incomplete"));
        };
        let key = self
            .keys
            .iter()
            .find(|k| k.id == key_id)
            .ok_or_else(|| SecretError::UnknownKey { place: place.to_string(), key_id: key_id.to_owned() })?;
        let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| tampered("not base64"))?;
        if bytes.len() < NONCE_BYTES + TAG_BYTES {
            return Err(tampered("too short"));
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let aad = place.associated_data();
        let plain = key
            .cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: &aad })
            .map_err(|_| tampered("authentication failed"))?;
        String::from_utf8(plain).map(SecretString::from).map_err(|_| tampered("not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn keyring(text: &str) -> Keyring {
        Keyring::parse(&SecretString::from(text.to_owned())).unwrap()
    }

    fn two_keys() -> Keyring {
        let first = Keyring::generate_line("k2").unwrap();
        let second = Keyring::generate_line("k1").unwrap();
        keyring(&format!("{}\n# the previous key\n{}", first.expose_secret(), second.expose_secret()))
    }

    const PLACE: Place<'static> = Place { table: "connector_profiles", key: "p-1", field: "connection_string" };

    proptest! {
        #[test]
        fn seal_then_open_is_the_identity(plain in ".{0,300}", key in "[a-z0-9-]{1,40}", field in "[a-z._]{1,30}") {
            let keys = two_keys();
            let place = Place { table: "connector_profiles", key: &key, field: &field };
            let sealed = keys.seal(place, &SecretString::from(plain.clone())).unwrap();
            prop_assert_eq!(Keyring::key_id_of(&sealed), Some("k2"));
            let opened = keys.open(place, &sealed).unwrap();
            prop_assert_eq!(opened.expose_secret(), plain.as_str());
        }

        #[test]
        fn one_flipped_byte_fails_to_open(plain in ".{1,100}", at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let keys = two_keys();
            let sealed = keys.seal(PLACE, &SecretString::from(plain)).unwrap();
            let (head, encoded) = sealed.rsplit_once(':').unwrap();
            let mut bytes = URL_SAFE_NO_PAD.decode(encoded).unwrap();
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
            let flipped = format!("{head}:{}", URL_SAFE_NO_PAD.encode(bytes));
            let error = keys.open(PLACE, &flipped).unwrap_err().to_string();
            prop_assert!(error.contains("does not open (authentication failed)"), "{}", error);
        }

        #[test]
        fn a_value_moved_to_another_place_fails_to_open(plain in ".{1,100}", other in "[a-z0-9-]{1,20}") {
            prop_assume!(other != "p-1");
            let keys = two_keys();
            let sealed = keys.seal(PLACE, &SecretString::from(plain)).unwrap();
            for moved in [
                Place { key: &other, ..PLACE },
                Place { field: "credentials.password", ..PLACE },
                Place { table: "client_configs", ..PLACE },
            ] {
                let refused = matches!(keys.open(moved, &sealed), Err(SecretError::Tampered { .. }));
                prop_assert!(refused, "{:?} opened", moved);
            }
        }
    }

    #[test]
    fn a_retired_key_opens_what_it_sealed_and_a_missing_one_is_named() {
        let old = Keyring::generate_line("old").unwrap();
        let new = Keyring::generate_line("new").unwrap();
        let sealed = keyring(old.expose_secret()).seal(PLACE, &SecretString::from("s3cret".to_owned())).unwrap();
        let rotated = keyring(&format!("{},{}", new.expose_secret(), old.expose_secret()));
        assert_eq!(rotated.active_id(), "new");
        assert_eq!(rotated.open(PLACE, &sealed).unwrap().expose_secret(), "s3cret");
        let error = keyring(new.expose_secret()).open(PLACE, &sealed).unwrap_err().to_string();
        assert!(error.contains("sealed with key \"old\", which is not among the configured keys"), "{error}");
    }

    #[test]
    fn nonces_are_fresh_for_every_value() {
        let keys = two_keys();
        let plain = SecretString::from("same".to_owned());
        assert_ne!(keys.seal(PLACE, &plain).unwrap(), keys.seal(PLACE, &plain).unwrap());
    }

    #[test]
    fn bad_key_texts_are_refused_without_showing_the_key() {
        let cases = [
            ("", "no secret key"),
            ("# only a comment", "no secret key"),
            ("nocolon", "entry 1 is not `id:base64` of 32 bytes: no `:`"),
            ("a:AAAA", "the key has 3 bytes, not 32"),
            ("bad id:AAAA", "the id must be"),
            ("a:!!!!", "the key is not base64"),
        ];
        for (text, expected) in cases {
            let error = Keyring::parse(&SecretString::from(text.to_owned())).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
            assert!(!error.contains("AAAA") && !error.contains("!!!!"), "{error}");
        }
        let line = Keyring::generate_line("dup").unwrap();
        let twice = format!("{0}\n{0}", line.expose_secret());
        assert!(matches!(Keyring::parse(&SecretString::from(twice)), Err(SecretError::DuplicateKeyId(_))));
    }

    #[test]
    fn debug_shows_key_ids_only() {
        let line = Keyring::generate_line("k1").unwrap();
        let material = line.expose_secret().split_once(':').unwrap().1.to_owned();
        let shown = format!("{:?} {:?}", keyring(line.expose_secret()), line);
        assert!(shown.contains("k1") || shown.contains("REDACTED"), "{shown}");
        assert!(!shown.contains(&material), "{shown}");
    }
}
