//! Hash chaining of the log (PEC-SPEC §8): `hash = SHA-256(prev_hash || line)`, genesis = 32
//! zero bytes.
//!
//! These two items mirror `pec_core::registro::{GENESI, hash_evento}`; once that module lands,
//! this file becomes two re-exports.

use sha2::{Digest, Sha256};

/// The "previous hash" of the first entry.
pub const GENESI: [u8; 32] = [0; 32];

/// SHA-256(prev || line).
pub fn hash_evento(prev: &[u8; 32], line: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(line);
    h.finalize().into()
}
