//! `gestore mailbox add|list|passwd|quota|disable|enable|remove --config FILE`.
//!
//! With `gestore serve` running, the command goes through its admin socket; otherwise it
//! opens the store itself.

use crate::config::Config;
use crate::server::admin::{Reply, Request};
use anyhow::{bail, Result};
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
    /// The webmail's second factor (TOTP): `enable` prints the otpauth URI to enrol in an
    /// authenticator app (a new secret each time), `disable` turns it off.
    #[command(name = "2fa")]
    Totp {
        /// `enable` or `disable`.
        action: TotpAction,
        /// The box.
        address: String,
    },
}

/// What `gestore mailbox 2fa` does.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum TotpAction {
    /// A new secret: prints the otpauth URI.
    Enable,
    /// Off.
    Disable,
}

/// Runs the command, through the running server's admin socket when there is one.
pub fn run(args: &Args) -> Result<()> {
    let config = Config::load(&args.config)?;
    let mut generated = None;
    let request = match &args.command {
        Command::Add {
            address,
            password,
            quota,
        } => {
            let (password, made) = password_or_generated(password);
            generated = made.then(|| password.clone());
            Request::Add {
                address: address.clone(),
                password,
                quota: quota.unwrap_or(config.limits.default_quota),
            }
        }
        Command::List => Request::List,
        Command::Passwd { address, password } => {
            let (password, made) = password_or_generated(password);
            generated = made.then(|| password.clone());
            Request::Passwd {
                address: address.clone(),
                password,
            }
        }
        Command::Quota { address, bytes } => Request::Quota {
            address: address.clone(),
            bytes: *bytes,
        },
        Command::Disable { address } => Request::Enabled {
            address: address.clone(),
            enabled: false,
        },
        Command::Enable { address } => Request::Enabled {
            address: address.clone(),
            enabled: true,
        },
        Command::Remove { address } => Request::Remove {
            address: address.clone(),
        },
        Command::Totp { action, address } => Request::Totp {
            address: address.clone(),
            enable: matches!(action, TotpAction::Enable),
        },
    };
    let reply = super::ask(&config, request)?;
    match reply {
        Reply::Ok => {
            if let Command::Add { address, .. } = &args.command {
                println!("added {}", address.to_ascii_lowercase());
            }
            if let Some(p) = generated {
                println!("password: {p}");
            }
        }
        Reply::Totp { secret } => {
            let address = match &args.command {
                Command::Totp { address, .. } => address.to_ascii_lowercase(),
                _ => String::new(),
            };
            println!(
                "{}",
                pec_provider::totp::uri(&config.provider_name, &address, &secret)
            );
        }
        Reply::Caselle { caselle } => {
            for m in caselle {
                let quota = if m.quota == 0 {
                    "unlimited".to_string()
                } else {
                    m.quota.to_string()
                };
                let state = if m.enabled { "enabled" } else { "disabled" };
                println!("{:<40} {:>12} / {:<12} {state}", m.address, m.used, quota);
            }
        }
        other => bail!("unexpected answer: {other:?}"),
    }
    Ok(())
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
