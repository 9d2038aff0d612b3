//! `gestore config example|check`: the reference configuration and its validation.

use crate::config::Config;
use anyhow::Result;
use std::path::PathBuf;

/// Subcommands of `gestore config`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Print a documented example configuration.
    Example,
    /// Validate a configuration file, reporting every problem at once.
    Check {
        /// The configuration file.
        file: PathBuf,
    },
}

/// Runs the subcommand.
pub fn run(cmd: &Command) -> Result<()> {
    match cmd {
        Command::Example => print!("{}", Config::example()),
        Command::Check { file } => {
            let c = Config::load(file)?;
            println!("provider:     {} <{}>", c.provider_name, c.service_address);
            println!("domains:      {}", c.domains.join(", "));
            let signing = c
                .signing
                .as_ref()
                .map(|(cert, key)| format!("{} + {}", cert.display(), key.display()))
                .unwrap_or_else(|| "dev PKI in the data folder".into());
            println!("signing:      {signing}");
            let show = |a: Option<std::net::SocketAddr>| {
                a.map(|a| a.to_string()).unwrap_or_else(|| "off".into())
            };
            println!("submission:   {} (STARTTLS)", show(c.submission));
            println!("submissions:  {} (implicit TLS)", show(c.submissions));
            println!("imap:         {} (STARTTLS)", show(c.imap));
            println!("imaps:        {} (implicit TLS)", show(c.imaps));
            println!("pop3:         {} (STLS)", show(c.pop3));
            println!("pop3s:        {} (implicit TLS)", show(c.pop3s));
            println!("web:          {} (HTTPS webmail)", show(c.web));
            println!(
                "web_http:     {} (plain HTTP webmail, loopback)",
                show(c.web_http)
            );
            let tls = c
                .tls
                .as_ref()
                .map(|(cert, key)| format!("{} + {}", cert.display(), key.display()))
                .unwrap_or_else(|| format!("dev certificate for {}", c.tls_hostnames.join(", ")));
            println!("tls:          {tls}");
            println!("data:         {}", c.data_dir.display());
            let l = &c.limits;
            println!(
                "limits:       {} recipients, {} bytes size x recipients, {} bytes per message, quota {} bytes",
                l.max_recipients, l.max_total_size, l.max_message_size, l.default_quota
            );
        }
    }
    Ok(())
}
