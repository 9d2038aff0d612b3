//! One module per subcommand.

pub mod bench;
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
use pec_smime::Signer;

/// The provider a signer stands for, read from its certificate.
pub fn provider_of(signer: &Signer) -> Result<Provider> {
    signer
        .provider()
        .context("the signing certificate does not name a provider")
}
