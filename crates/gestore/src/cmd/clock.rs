//! `gestore clock advance --config FILE 12h`: move a running provider's clock forward
//! (only with `[dev] adjustable_clock = true`), so the 12 h / 24 h deadlines can be seen
//! without waiting for them.

use crate::config::Config;
use crate::server::admin::{Reply, Request};
use anyhow::{bail, Result};
use pec_provider::clock::parse_duration;
use std::path::PathBuf;

/// `gestore clock …`.
#[derive(clap::Args)]
pub struct Args {
    /// The configuration file.
    #[arg(long)]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

/// Clock commands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Move the clock forward by DURATION (`90s`, `30m`, `12h`, `1d`).
    Advance {
        /// How far.
        duration: String,
    },
}

/// Runs the command against the running provider.
pub fn run(args: &Args) -> Result<()> {
    let config = Config::load(&args.config)?;
    let Command::Advance { duration } = &args.command;
    let seconds = parse_duration(duration)?.as_secs();
    match super::ask(&config, Request::ClockAdvance { seconds })? {
        Reply::Clock { now } => {
            println!("{now}");
            Ok(())
        }
        other => bail!("unexpected answer {other:?}"),
    }
}
