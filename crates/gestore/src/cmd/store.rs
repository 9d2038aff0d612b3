//! `gestore store check --config FILE`: the full integrity check of the data folder (issue 12,
//! item 5): SQLite's own check, the whole log chain against the recorded (sealed) head, every
//! stored body read back and hashed. Through the running server when there is one; otherwise
//! on the folder directly, also when the provider refuses to start on it.
//!
//! `gestore store adopt --config FILE`: with the provider stopped, records the database's own
//! head in `log.head`, sealed, once the whole chain verifies: for a backup restored on purpose,
//! a change of signing key, or a store from before `log.head`.

use crate::config::Config;
use crate::server::admin::{Reply, Request};
use anyhow::{bail, Result};
use pec_provider::sigillo::SigilloFirma;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// `gestore store …`.
#[derive(clap::Args)]
pub struct Args {
    /// The configuration file.
    #[arg(long)]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

/// Store commands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Check everything: exit 0 when intact, 1 with one line per problem found.
    Check,
    /// Provider stopped: seal the database's own log head into log.head (after a restored
    /// backup or a new signing key), once the whole chain verifies.
    Adopt,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<ExitCode> {
    let config = Config::load(&args.config)?;
    match args.command {
        Command::Check => check(&config),
        Command::Adopt => adopt(&config),
    }
}

/// The provider's signer as `log.head`'s sealer; `None` without a key (none is made here:
/// a new key could only seal what it never sealed before).
fn sigillo(config: &Config) -> Result<Option<SigilloFirma>> {
    Ok(crate::server::existing_signer(config)?.map(|s| SigilloFirma(Arc::new(s))))
}

fn adopt(config: &Config) -> Result<ExitCode> {
    if crate::server::admin::serving(config) {
        bail!("the provider is running on this data folder: stop it first");
    }
    let Some(sigillo) = sigillo(config)? else {
        bail!(
            "no signing key (configured, or {}): log.head can only be sealed with it",
            config.data_dir.join("pki").display()
        );
    };
    let head = super::serve::runtime()?.block_on(pec_store::adopt_head(
        &config.data_dir,
        Some(&sigillo as &dyn pec_store::Sigillo),
    ))?;
    println!(
        "log.head now records event {} (the whole chain verified), sealed",
        head.seq
    );
    Ok(ExitCode::SUCCESS)
}

fn check(config: &Config) -> Result<ExitCode> {
    let report = if crate::server::admin::serving(config) {
        match super::ask(config, Request::StoreCheck)? {
            Reply::StoreCheck { report } => report,
            other => bail!("unexpected answer: {other:?}"),
        }
    } else {
        // Read-only, and also when the store would refuse to open (lost events, damage).
        // A check makes nothing: without a key there is none to check the seal with, and
        // that is one more problem rather than a new key.
        let sigillo = sigillo(config)?;
        let mut report: pec_store::CheckReport =
            super::serve::runtime()?.block_on(pec_store::check_folder(
                &config.data_dir,
                sigillo.as_ref().map(|s| s as &dyn pec_store::Sigillo),
            ))?;
        if sigillo.is_none() {
            report.problemi.push(format!(
                "signing key missing ({}): the seal of log.head was not checked",
                config.data_dir.join("pki").display()
            ));
        }
        report.into()
    };
    let testa = match report.testa_registrata {
        Some(n) => format!("{n} recorded in log.head"),
        None => "no log.head yet".into(),
    };
    println!(
        "store check: {} events chained ({testa}), {} bodies read back",
        report.eventi, report.corpi
    );
    if report.intatto() {
        println!("store intact");
        return Ok(ExitCode::SUCCESS);
    }
    for p in &report.problemi {
        println!("PROBLEM {p}");
    }
    Ok(ExitCode::from(1))
}
