//! `gestore mailbox add|list|passwd|quota|disable|enable|remove --config FILE`.
//!
//! The store allows one process per data folder: run these while `gestore serve` is stopped
//! (a running server holds the folder's lock; the command waits for it, then fails).

use crate::config::Config;
use crate::server::{self, address};
use anyhow::{bail, Result};
use pec_store::Store;
use std::path::PathBuf;

/// `gestore mailbox …`.
#[derive(clap::Args)]
pub struct Args {
    /// The configuration file.
    #[arg(long)]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do with boxes.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a box; prints a generated password unless --password is given.
    Add {
        /// The box address, in one of the provider's PEC domains.
        address: String,
        /// Its password (default: generated and printed).
        #[arg(long)]
        password: Option<String>,
        /// Quota in bytes (default: limits.default_quota).
        #[arg(long)]
        quota: Option<u64>,
    },
    /// List boxes with usage and state.
    List,
    /// Set a new password; prints a generated one unless --password is given.
    Passwd {
        /// The box.
        address: String,
        /// The new password.
        #[arg(long)]
        password: Option<String>,
    },
    /// Set the quota in bytes (0 = no limit).
    Quota {
        /// The box.
        address: String,
        /// Bytes.
        bytes: u64,
    },
    /// Disable a box: logins and deliveries are refused, messages are kept.
    Disable {
        /// The box.
        address: String,
    },
    /// Enable a disabled box.
    Enable {
        /// The box.
        address: String,
    },
    /// Remove a box and its messages.
    Remove {
        /// The box.
        address: String,
    },
}

/// Runs the command.
pub fn run(args: &Args) -> Result<()> {
    let config = Config::load(&args.config)?;
    super::serve::runtime()?.block_on(async move {
        let store = server::open_store(&config.data_dir).await?;
        match &args.command {
            Command::Add {
                address: a,
                password,
                quota,
            } => {
                if !config.is_local(a) {
                    bail!(
                        "{a} is not in the provider's PEC domains ({})",
                        config.domains.join(", ")
                    );
                }
                let (password, generated) = password_or_generated(password);
                let quota = quota.unwrap_or(config.limits.default_quota);
                store.add_mailbox(&address(a)?, &password, quota).await?;
                println!("added {}", a.to_ascii_lowercase());
                if generated {
                    println!("password: {password}");
                }
            }
            Command::List => {
                for m in store.list_mailboxes().await? {
                    println!(
                        "{:<40} {:>12} / {:<12} {}",
                        m.address.as_str(),
                        m.used_bytes,
                        if m.quota_bytes == 0 {
                            "unlimited".to_string()
                        } else {
                            m.quota_bytes.to_string()
                        },
                        if m.enabled { "enabled" } else { "disabled" }
                    );
                }
            }
            Command::Passwd {
                address: a,
                password,
            } => {
                let (password, generated) = password_or_generated(password);
                store.set_password(&address(a)?, &password).await?;
                if generated {
                    println!("password: {password}");
                }
            }
            Command::Quota { address: a, bytes } => store.set_quota(&address(a)?, *bytes).await?,
            Command::Disable { address: a } => store.set_enabled(&address(a)?, false).await?,
            Command::Enable { address: a } => store.set_enabled(&address(a)?, true).await?,
            Command::Remove { address: a } => store.remove_mailbox(&address(a)?).await?,
        }
        Ok(())
    })
}

fn password_or_generated(given: &Option<String>) -> (String, bool) {
    match given {
        Some(p) => (p.clone(), false),
        None => (generate_password(), true),
    }
}

/// 16 characters from an unambiguous alphabet (about 80 bits).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: refuse to make a weak password silently.
        return String::from("set-a-password-with---password");
    }
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}
