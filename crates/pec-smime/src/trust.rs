//! Trust anchors: the certificates a signature chain must lead to.
//!
//! Every certificate added is an anchor in its own right (openssl's `PARTIAL_CHAIN`): an
//! intermediate such as AgID CA1, or a provider certificate itself, can be trusted without
//! its root.
//!
//! PEC-SPEC §7.4: the anchor is configuration (AgID's CA in production, the dev CA in demos),
//! never hard-coded. The store keeps parsed certificates and builds an openssl `X509Store`
//! per verification time; a [`Verifier`](crate::Verifier) builds the one that ignores
//! validity periods once and keeps it.

use std::path::Path;

use chrono::{DateTime, Utc};
use openssl::stack::StackRef;
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
use openssl::x509::{X509PurposeId, X509Ref, X509StoreContext, X509};

use crate::Error;

/// File name endings read by [`TrustStore::from_dir`].
const CERT_EXTENSIONS: [&str; 4] = ["pem", "crt", "cer", "der"];

/// A set of trusted CA certificates.
#[derive(Clone, Default)]
pub struct TrustStore {
    anchors: Vec<X509>,
}

impl std::fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let subjects: Vec<String> = self
            .anchors
            .iter()
            .map(|c| crate::cert::name_to_string(c.subject_name()))
            .collect();
        f.debug_struct("TrustStore")
            .field("anchors", &subjects)
            .finish()
    }
}

impl TrustStore {
    /// An empty store: nothing is trusted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every certificate in `*.pem`, `*.crt`, `*.cer` and `*.der` files of `dir` (not recursive).
    /// PEM files may hold several certificates; other files are ignored.
    pub fn from_dir(dir: &Path) -> Result<Self, Error> {
        let mut store = Self::new();
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        let mut paths = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| Error::io(dir, e))?.path();
            let wanted = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| CERT_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)));
            if wanted && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        for path in paths {
            let data = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            store
                .add_bytes(&data)
                .map_err(|e| Error::parse(path.display().to_string(), e))?;
        }
        Ok(store)
    }

    /// Adds one certificate.
    pub fn add(&mut self, cert: X509) {
        self.anchors.push(cert);
    }

    /// Adds the certificates of a PEM text (one or more) or of one DER encoding.
    pub fn add_bytes(&mut self, data: &[u8]) -> Result<(), openssl::error::ErrorStack> {
        if data.windows(11).any(|w| w == b"-----BEGIN ") {
            self.anchors.extend(X509::stack_from_pem(data)?);
        } else {
            self.anchors.push(X509::from_der(data)?);
        }
        Ok(())
    }

    /// The trusted certificates.
    pub fn certificates(&self) -> &[X509] {
        &self.anchors
    }

    /// How many certificates are trusted.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// Whether nothing is trusted.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// Builds and checks the chain of `cert` for S/MIME signing, with `untrusted` as
    /// intermediates, at time `at` (`None`: ignore validity periods).
    /// `Err` holds openssl's one-line reason.
    pub(crate) fn check_chain(
        &self,
        cert: &X509Ref,
        untrusted: &StackRef<X509>,
        at: Option<DateTime<Utc>>,
    ) -> Result<(), String> {
        let outcome = self.build_and_verify(cert, untrusted, at);
        match outcome {
            Ok(None) => Ok(()),
            Ok(Some(reason)) => Err(reason),
            Err(e) => Err(crate::error::one_line(&e)),
        }
    }

    fn build_and_verify(
        &self,
        cert: &X509Ref,
        untrusted: &StackRef<X509>,
        at: Option<DateTime<Utc>>,
    ) -> Result<Option<String>, openssl::error::ErrorStack> {
        let store = self.store(at)?;
        let mut ctx = X509StoreContext::new()?;
        ctx.init(&store, cert, untrusted, |c| {
            let ok = c.verify_cert()?;
            Ok((!ok).then(|| c.error().error_string().to_string()))
        })
    }

    /// An openssl store of the anchors that checks chains for S/MIME signing at time `at`
    /// (`None`: ignore validity periods).
    pub(crate) fn store(
        &self,
        at: Option<DateTime<Utc>>,
    ) -> Result<X509Store, openssl::error::ErrorStack> {
        let mut builder = X509StoreBuilder::new()?;
        for anchor in &self.anchors {
            builder.add_cert(anchor.clone())?;
        }
        let mut param = X509VerifyParam::new()?;
        param.set_purpose(X509PurposeId::SMIME_SIGN)?;
        // Any certificate in the store is an anchor, not only self-signed roots: PEC trusts
        // AgID's intermediate CA (or even a provider certificate taken from IGPEC).
        param.set_flags(X509VerifyFlags::PARTIAL_CHAIN)?;
        match at {
            Some(t) => param.set_time(t.timestamp() as _),
            None => param.set_flags(X509VerifyFlags::NO_CHECK_TIME)?,
        }
        builder.set_param(&param)?;
        Ok(builder.build())
    }
}
