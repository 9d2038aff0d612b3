//! One module per subcommand.

pub mod config;
pub mod demo;
pub mod log;
pub mod mailbox;
pub mod pki;
pub mod sample;
pub mod serve;
pub mod verify;

use anyhow::{Context, Result};
use pec_core::Provider;
use pec_smime::{Signer, TrustStore};
use std::path::Path;

/// The provider a signer stands for, read from its certificate.
pub fn provider_of(signer: &Signer) -> Result<Provider> {
    signer
        .provider()
        .context("the signing certificate does not name a provider")
}

/// A trust store holding the certificates of one PEM file.
pub fn trust_of(pem: &Path) -> Result<TrustStore> {
    let bytes = std::fs::read(pem).with_context(|| format!("cannot read {}", pem.display()))?;
    let mut trust = TrustStore::new();
    trust
        .add_bytes(&bytes)
        .with_context(|| format!("no certificate in {}", pem.display()))?;
    Ok(trust)
}
