//! `gestore log search|verify --config FILE`: the legal log of PEC-SPEC §8.

use crate::config::Config;
use crate::server::admin::{Reply, Request};
use anyhow::{bail, Result};
use std::path::PathBuf;
use std::process::ExitCode;

/// `gestore log …`.
#[derive(clap::Args)]
pub struct Args {
    /// The configuration file.
    #[arg(long)]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

/// Log commands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Print events (one JSON line each, after the sequence number and time).
    Search {
        /// A message identifier: PEC msgid, client Message-ID or a receipt's id.
        #[arg(long)]
        msgid: Option<String>,
        /// The original sender.
        #[arg(long)]
        sender: Option<String>,
        /// Events at or after this time (RFC 3339, e.g. 2026-11-23T10:00:00Z).
        #[arg(long)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// At most this many events.
        #[arg(long, default_value_t = 1000)]
        limit: u32,
    },
    /// Check the hash chain: exit 0 if intact, 1 at the first edited, deleted or moved event.
    Verify,
}

/// Runs the command, through the running server's admin socket when there is one.
pub fn run(args: &Args) -> Result<ExitCode> {
    let config = Config::load(&args.config)?;
    let request = match &args.command {
        Command::Search {
            msgid,
            sender,
            since,
            limit,
        } => Request::LogSearch {
            msgid: msgid.clone(),
            sender: sender.clone(),
            since: *since,
            limit: *limit,
        },
        Command::Verify => Request::LogVerify,
    };
    match super::ask(&config, request)? {
        Reply::Log { events } => {
            for (seq, time, line) in events {
                println!("{seq} {time} {line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Reply::LogIntact { seq, head } => {
            println!("log intact: {seq} events, head {head}");
            Ok(ExitCode::SUCCESS)
        }
        Reply::LogTampered { seq, reason } => {
            println!("log TAMPERED at event {seq}: {reason}");
            Ok(ExitCode::from(1))
        }
        other => bail!("unexpected answer: {other:?}"),
    }
}
