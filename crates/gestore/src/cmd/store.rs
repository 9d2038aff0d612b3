//! `gestore store check --config FILE`: the full integrity check of the data folder (issue 12,
//! item 5): SQLite's own check, the whole log chain against the recorded head, every stored
//! body read back and hashed. Through the running server when there is one; otherwise on the
//! folder directly, also when the provider refuses to start on it.

use crate::config::Config;
use crate::server::admin::{Reply, Request};
use anyhow::{bail, Result};
use std::path::PathBuf;
use std::process::ExitCode;

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
}

/// Runs the command.
pub fn run(args: &Args) -> Result<ExitCode> {
    let config = Config::load(&args.config)?;
    let Command::Check = args.command;
    let report = match super::ask(&config, Request::StoreCheck) {
        Ok(Reply::StoreCheck { report }) => report,
        Ok(other) => bail!("unexpected answer: {other:?}"),
        // The store would not open (lost events, damage): check the folder as it is.
        Err(_) => super::serve::runtime()?
            .block_on(pec_store::check_folder(&config.data_dir))?
            .into(),
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
