//! Hash chaining of the log (PEC-SPEC §8): `hash = SHA-256(prev_hash || line)`, genesis = 32
//! zero bytes. The definition lives in pec-core (`registro`); the store only applies it, so a
//! chain written here verifies with pec-core's own checker and vice versa.

pub use pec_core::registro::{hash_evento, GENESI};
