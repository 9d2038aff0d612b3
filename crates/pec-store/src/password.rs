//! Mailbox passwords: Argon2id hashes in PHC form, verified in constant time.
//!
//! Verification of an unknown or disabled mailbox checks the password against a dummy hash
//! with the same parameters, so the time taken does not tell whether the address exists.

use std::sync::{Condvar, LazyLock, Mutex};

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
        let _permit = Permit::acquire();
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
        let _permit = Permit::acquire();
        match phc::PasswordHash::new(&self.0) {
            Ok(parsed) => Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }
}

/// Argon2 is memory-hard (19 MiB per hash with the default parameters): a burst of logins
/// would take that much memory each. At most one hash per core runs at once, so memory stays
/// bounded at cores × 19 MiB and a login burst only queues.
static SLOTS: LazyLock<(Mutex<usize>, Condvar)> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (Mutex::new(cores), Condvar::new())
});

/// One of the [`SLOTS`], given back when dropped (also on panic).
struct Permit;

impl Permit {
    fn acquire() -> Self {
        let (free, freed) = &*SLOTS;
        let mut n = free.lock().unwrap_or_else(|e| e.into_inner());
        while *n == 0 {
            n = freed.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n -= 1;
        Permit
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let (free, freed) = &*SLOTS;
        *free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        freed.notify_one();
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
