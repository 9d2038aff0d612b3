//! One module per subcommand.

pub mod demo;
pub mod pki;
pub mod sample;
pub mod verify;

use anyhow::{Context, Result};
use pec_core::Provider;
use pec_smime::{Signer, TrustStore};
use std::path::Path;

/// The provider a signer stands for, read from its certificate (PEC-SPEC §7.4: the name in
/// the Subject O, the service address in subjectAltName).
pub fn provider_of(signer: &Signer) -> Result<Provider> {
    let cert = signer.certificate();
    let nome = cert
        .subject_name()
        .entries_by_nid(openssl::nid::Nid::ORGANIZATIONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok())
        .context("the signing certificate has no Subject O (the provider name)")?;
    let indirizzo_servizio = cert
        .subject_alt_names()
        .and_then(|names| names.iter().find_map(|n| n.email().map(str::to_string)))
        .context("the signing certificate has no e-mail subjectAltName (the service address)")?;
    Ok(Provider {
        nome,
        indirizzo_servizio,
    })
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
