//! A verifier for a long-running receiving point: the trust store, plus what does not change
//! from one message to the next.
//!
//! Invariants:
//! * [`Verifier::verify`] answers exactly what [`verify`](crate::verify) answers for the same
//!   message, trust store and time; the caches only save work;
//! * what is cached is keyed by the exact bytes it was computed from (the signer's
//!   identifier and every embedded certificate); the trust store cannot change under a
//!   verifier (make a new one to reload anchors);
//! * the cache is bounded ([`MAX_CACHED_SIGNERS`]) and emptied when full, so a peer sending
//!   ever new certificates costs memory of one full cache at most.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use openssl::x509::store::X509Store;

use crate::asn1::{SignedDataInfo, SignerId};
use crate::verify::{Checker, SignerFacts};
use crate::{TrustStore, Verification, VerifyError};

/// Most signers (distinct sets of embedded certificates) a [`Verifier`] remembers; the cache
/// is emptied when it is full. PEC has about a hundred providers, each with a few
/// certificates over time.
pub const MAX_CACHED_SIGNERS: usize = 1024;

/// Verifies many messages against one trust store, remembering for each signer what does
/// not change from one message to the next: the signer's certificate parsed and described,
/// and the verdict on its chain with the dates each certificate of the chain is valid.
/// A message from a known signer then costs the CMS signature check and little else.
///
/// Share it behind an [`Arc`] across threads (it is `Send + Sync`).
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use pec_smime::{TrustStore, Verifier};
/// let verifier = Verifier::new(TrustStore::from_dir("trust".as_ref())?);
/// let raw = std::fs::read("busta.eml")?;
/// let v = verifier.verify(&raw, chrono::Utc::now())?;
/// println!("valid now: {}", v.is_valid_now());
/// # Ok(())
/// # }
/// ```
pub struct Verifier {
    trust: TrustStore,
    /// The anchors in an openssl store that ignores validity periods, built once (`None`
    /// when building failed: each new signer then builds its own, as `verify` does).
    anchors: Option<X509Store>,
    /// Facts about the signers seen.
    cache: SignerCache,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("trust", &self.trust)
            .field("cached_signers", &self.cached_signers())
            .finish()
    }
}

impl Verifier {
    /// A verifier trusting `trust`'s anchors, with an empty cache.
    pub fn new(trust: TrustStore) -> Self {
        let anchors = trust.store(None).ok();
        Verifier {
            trust,
            anchors,
            cache: SignerCache::default(),
        }
    }

    /// The trust store checked against.
    pub fn trust(&self) -> &TrustStore {
        &self.trust
    }

    /// Checks the S/MIME signature of `raw` at `now`: the same answer as
    /// [`verify`](crate::verify)`(raw, self.trust(), now)`, bit for bit.
    pub fn verify(&self, raw: &[u8], now: DateTime<Utc>) -> Result<Verification, VerifyError> {
        let checker = Checker {
            trust: &self.trust,
            anchors: self.anchors.as_deref(),
            cache: Some(&self.cache),
        };
        checker.verify(raw, now)
    }

    /// How many signers are remembered (at most [`MAX_CACHED_SIGNERS`]).
    pub fn cached_signers(&self) -> usize {
        self.cache.len()
    }
}

/// Signer facts by the exact bytes they were worked out from.
#[derive(Default)]
pub(crate) struct SignerCache {
    map: RwLock<HashMap<Vec<u8>, Arc<Option<SignerFacts>>>>,
}

impl SignerCache {
    /// The facts for `info`'s signer and certificates, worked out by `judge` when not known
    /// yet. Errors are not remembered.
    pub(crate) fn get_or_insert_with(
        &self,
        info: &SignedDataInfo<'_>,
        judge: impl FnOnce() -> Result<Option<SignerFacts>, VerifyError>,
    ) -> Result<Arc<Option<SignerFacts>>, VerifyError> {
        let key = key(info);
        // A panic cannot leave the map half-changed (insert and clear are single calls), so
        // a poisoned lock still guards a consistent map.
        let known = self
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        if let Some(facts) = known {
            return Ok(facts);
        }
        let facts = Arc::new(judge()?);
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_CACHED_SIGNERS {
            map.clear();
        }
        map.insert(key, Arc::clone(&facts));
        Ok(facts)
    }

    fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// The signer's identifier and every embedded certificate, each with its length: all that
/// [`SignerFacts`] depend on besides the trust store.
fn key(info: &SignedDataInfo<'_>) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, bytes: &[u8]) {
        // Lengths are below 2^32: the signature is at most MAX_SIGNATURE_BYTES.
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    let size = info.certificates.iter().map(|c| c.len() + 4).sum::<usize>() + 64;
    let mut out = Vec::with_capacity(size);
    match info.signer {
        SignerId::IssuerSerial { issuer, serial } => {
            out.push(0);
            field(&mut out, issuer);
            field(&mut out, serial);
        }
        SignerId::KeyId(id) => {
            out.push(1);
            field(&mut out, id);
        }
    }
    for cert in &info.certificates {
        field(&mut out, cert);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_is_emptied_when_full() {
        let cache = SignerCache::default();
        let mut certs = Vec::new();
        for n in 0..=MAX_CACHED_SIGNERS {
            certs.push((n as u32).to_be_bytes());
        }
        for (n, cert) in certs.iter().enumerate() {
            let info = SignedDataInfo {
                certificates: vec![&cert[..]],
                signer: SignerId::KeyId(b"id"),
                digest_oid: &[],
                signing_time: None,
                econtent: None,
            };
            cache.get_or_insert_with(&info, || Ok(None)).unwrap();
            let expected = if n < MAX_CACHED_SIGNERS { n + 1 } else { 1 };
            assert_eq!(cache.len(), expected);
        }
        // Errors are not remembered.
        let info = SignedDataInfo {
            certificates: vec![],
            signer: SignerId::KeyId(b"other"),
            digest_oid: &[],
            signing_time: None,
            econtent: None,
        };
        let err = cache.get_or_insert_with(&info, || Err(VerifyError::Unsigned));
        assert!(err.is_err());
        assert_eq!(cache.len(), 1);
    }
}
