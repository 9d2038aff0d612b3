//! One module per subcommand.

pub mod bench;
pub mod bench_web;
pub mod clock;
pub mod config;
pub mod demo;
pub mod index;
pub mod log;
pub mod mailbox;
pub mod pki;
pub mod sample;
pub mod serve;
pub mod store;
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

/// Runs an administration request for a command: through the running server's admin socket,
/// or on the store when none runs; a refused request becomes the command's error.
pub fn ask(
    config: &crate::config::Config,
    request: crate::server::admin::Request,
) -> Result<crate::server::admin::Reply> {
    use crate::server::admin::{self, Reply};
    match serve::runtime()?.block_on(admin::request(config, request))? {
        Reply::Error { error } => anyhow::bail!("{error}"),
        reply => Ok(reply),
    }
}
