//! `gestore log search|verify --config FILE`: the legal log of PEC-SPEC §8.

use crate::config::Config;
use crate::server;
use anyhow::{Context, Result};
use pec_store::{LogQuery, Store, StoreError};
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

/// Runs the command.
pub fn run(args: &Args) -> Result<ExitCode> {
    let config = Config::load(&args.config)?;
    super::serve::runtime()?.block_on(async move {
        let store = server::open_store(&config.data_dir).await?;
        match &args.command {
            Command::Search {
                msgid,
                sender,
                since,
                limit,
            } => {
                let query = LogQuery {
                    msgid: msgid.clone(),
                    sender: sender.clone(),
                    since: *since,
                    limit: Some(*limit),
                };
                for e in store.log_search(&query).await.context("log search")? {
                    println!("{} {} {}", e.seq, e.time.to_rfc3339(), e.line);
                }
                Ok(ExitCode::SUCCESS)
            }
            Command::Verify => match store.log_verify().await {
                Ok(head) => {
                    println!("log intact: {} events, head {}", head.seq, hex(&head.hash));
                    Ok(ExitCode::SUCCESS)
                }
                Err(StoreError::LogTampered(b)) => {
                    println!("log TAMPERED at event {}: {}", b.seq, b.reason);
                    Ok(ExitCode::from(1))
                }
                Err(e) => Err(e).context("log verify"),
            },
        }
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
