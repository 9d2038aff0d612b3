//! Mailbox passwords: Argon2id hashes in PHC form, verified in constant time.
//!
//! Verification of an unknown or disabled mailbox checks the password against a dummy hash
//! with the same parameters, so the time taken does not tell whether the address exists.

use std::sync::LazyLock;

use argon2::password_hash::phc;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;

use crate::error::StoreError;

/// An Argon2id password hash in PHC string form (`$argon2id$v=19$m=…`). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

impl PasswordHash {
    /// Hashes `password` with Argon2id (default parameters) and a random salt. Slow by design
    /// (tens of milliseconds): call it on a blocking thread.
    pub fn new(password: &str) -> Result<Self, StoreError> {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| Self(h.to_string()))
            .map_err(|e| StoreError::PasswordHash(e.to_string()))
    }

    /// Wraps a PHC string read back from storage, checking that it parses.
    pub fn from_phc(phc: String) -> Result<Self, StoreError> {
        phc::PasswordHash::new(&phc).map_err(|e| StoreError::CorruptRow(e.to_string()))?;
        Ok(Self(phc))
    }

    /// The PHC string, for storage.
    pub fn as_phc(&self) -> &str {
        &self.0
    }

    /// True if `password` matches. Constant-time in the password through Argon2.
    pub fn verify(&self, password: &str) -> bool {
        match phc::PasswordHash::new(&self.0) {
            Ok(parsed) => Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }
}

/// A hash of a password nobody knows, checked when the mailbox is unknown.
static DUMMY: LazyLock<Option<PasswordHash>> =
    LazyLock::new(|| PasswordHash::new("pec-store: no such mailbox").ok());

/// Verifies `password` against `stored`, or spends the same time on the dummy hash and returns
/// false when there is no usable hash. Blocking: run it on a blocking thread.
pub(crate) fn verify_or_dummy(stored: Option<PasswordHash>, password: &str) -> bool {
    match stored {
        Some(hash) => hash.verify(password),
        None => {
            if let Some(dummy) = DUMMY.as_ref() {
                let _ = dummy.verify(password);
            }
            false
        }
    }
}

/// Builds the dummy hash now, so the first unknown-mailbox login is not faster than others.
pub(crate) fn warm_up() {
    LazyLock::force(&DUMMY);
}
