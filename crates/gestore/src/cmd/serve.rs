//! `gestore serve --config FILE`: run the provider until SIGINT or SIGTERM.

use crate::config::Config;
use crate::server;
use anyhow::Result;
use std::path::PathBuf;

/// Arguments of `gestore serve`.
#[derive(clap::Args)]
pub struct Args {
    /// The configuration file (see `gestore config example`).
    #[arg(long)]
    pub config: PathBuf,
}

/// Runs the provider.
pub fn run(args: &Args) -> Result<()> {
    let config = Config::load(&args.config)?;
    runtime()?.block_on(async move {
        let running = server::start(config).await?;
        announce(&running);
        wait_for_signal().await;
        eprintln!("gestore: stopping");
        running.stop().await;
        Ok(())
    })
}

/// Prints where the provider listens: operators read it, tests parse it.
pub fn announce(running: &server::Running) {
    if let Some(a) = running.submission {
        println!("listening submission {a} (STARTTLS)");
    }
    if let Some(a) = running.submissions {
        println!("listening submissions {a} (implicit TLS)");
    }
    for (name, a, tls) in [
        ("imap", running.imap, "STARTTLS"),
        ("imaps", running.imaps, "implicit TLS"),
        ("pop3", running.pop3, "STLS"),
        ("pop3s", running.pop3s, "implicit TLS"),
        ("inbound", running.inbound, "STARTTLS offered"),
        ("web", running.web, "HTTPS webmail"),
        ("web_http", running.web_http, "plain HTTP webmail, loopback"),
    ] {
        if let Some(a) = a {
            println!("listening {name} {a} ({tls})");
        }
    }
    println!("ready");
}

/// The tokio runtime of the long-running commands.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn wait_for_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
