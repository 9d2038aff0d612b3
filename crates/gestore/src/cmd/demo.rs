//! `gestore demo`: one provider on loopback ports with three boxes, a first certified message
//! sent through SMTP submission, and its receipts printed as they arrive. It keeps serving
//! until Ctrl-C, so ordinary mail clients can connect with the printed passwords.

use crate::client;
use crate::config::Config;
use crate::server::{self, address};
use anyhow::{Context, Result};
use pec_core::inspect;
use pec_store::Store;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `gestore demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Data folder of the demo provider.
    #[arg(long, default_value_os_t = crate::default_data_dir().join("demo"))]
    pub data: PathBuf,
    /// Port of SMTP submission with STARTTLS (0 picks a free one).
    #[arg(long, default_value_t = 10587)]
    pub submission_port: u16,
    /// Port of SMTP submission over implicit TLS (0 picks a free one).
    #[arg(long, default_value_t = 10465)]
    pub submissions_port: u16,
    /// Port of IMAP with STARTTLS (0 picks a free one).
    #[arg(long, default_value_t = 10143)]
    pub imap_port: u16,
    /// Port of IMAP over implicit TLS (0 picks a free one).
    #[arg(long, default_value_t = 10993)]
    pub imaps_port: u16,
    /// Port of POP3 with STLS (0 picks a free one).
    #[arg(long, default_value_t = 10110)]
    pub pop3_port: u16,
    /// Port of POP3 over implicit TLS (0 picks a free one).
    #[arg(long, default_value_t = 10995)]
    pub pop3s_port: u16,
    /// Stop once the first message's receipts have arrived instead of serving until Ctrl-C.
    #[arg(long)]
    pub once: bool,
}

/// The demo's PEC domain.
pub const DOMAIN: &str = "pec.demo.test";
const BOXES: [&str; 3] = ["mario.rossi", "anna.bianchi", "luca.verdi"];

fn config(args: &Args) -> Result<Config> {
    let data = std::path::absolute(&args.data).context("data folder")?;
    let text = format!(
        r#"
[provider]
name = "Gestore Demo S.p.A."
service_address = "posta-certificata@{DOMAIN}"
domains = ["{DOMAIN}"]
[listen]
submission = "127.0.0.1:{}"
submissions = "127.0.0.1:{}"
imap = "127.0.0.1:{}"
imaps = "127.0.0.1:{}"
pop3 = "127.0.0.1:{}"
pop3s = "127.0.0.1:{}"
[data]
dir = {:?}
"#,
        args.submission_port,
        args.submissions_port,
        args.imap_port,
        args.imaps_port,
        args.pop3_port,
        args.pop3s_port,
        data.to_string_lossy()
    );
    Config::parse(&text, &data).map_err(Into::into)
}

/// Runs the demo.
pub fn run(args: &Args) -> Result<()> {
    let config = config(args)?;
    super::serve::runtime()?.block_on(async move {
        let running = server::start(config).await?;
        // The demo prints receipts as they arrive instead of the operator's event trail.
        running
            .gestore
            .trail
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let store = &running.gestore.store;
        let mut passwords = Vec::new();
        for name in BOXES {
            let a = address(&format!("{name}@{DOMAIN}"))?;
            let password = super::mailbox::generate_password();
            if store.mailbox(&a).await?.is_some() {
                store.set_password(&a, &password).await?;
            } else {
                store.add_mailbox(&a, &password, 1 << 30).await?;
            }
            passwords.push((a, password));
        }
        super::serve::announce(&running);
        let Some(smtp) = running.submission else {
            anyhow::bail!("the demo needs the STARTTLS submission listener");
        };
        println!("\nboxes:");
        for (a, p) in &passwords {
            println!("  {a:<28} password {p}");
        }
        let port = |a: Option<std::net::SocketAddr>| {
            a.map(|a| a.port().to_string())
                .unwrap_or_else(|| "off".into())
        };
        println!(
            "connect a mail client to host 127.0.0.1, user = the box address, password as above:\n\
             \x20 sending (SMTP submission): port {} (STARTTLS) or {} (TLS)\n\
             \x20 reading (IMAP):            port {} (STARTTLS) or {} (TLS)\n\
             \x20 reading (POP3):            port {} (STLS) or {} (TLS)\n\
             the TLS certificate is a self-signed dev one: accept it in the client.\n\
             e.g. curl --insecure imaps://127.0.0.1:{}/INBOX -u {}:{}\n",
            smtp.port(),
            port(running.submissions),
            port(running.imap),
            port(running.imaps),
            port(running.pop3),
            port(running.pop3s),
            port(running.imaps),
            passwords[1].0,
            passwords[1].1,
        );

        let (mario, mario_pw) = (&passwords[0].0, &passwords[0].1);
        let to = vec![passwords[1].0.to_string(), passwords[2].0.to_string()];
        let body = format!(
            "From: {mario}\r\nTo: {}\r\nCc: {}\r\nSubject: Prima PEC della demo\r\n\
             Message-ID: <demo.{}@client.example>\r\nX-TipoRicevuta: completa\r\n\r\n\
             Buongiorno, questo messaggio ha valore legale.\r\n",
            to[0],
            to[1],
            chrono::Utc::now().timestamp_millis()
        );
        let mut session = client::Session::connect(smtp, mario.as_str(), mario_pw).await?;
        session.send(&to, body.as_bytes()).await?;
        session.quit().await;
        println!(
            "{mario} sent \"Prima PEC della demo\" to {} (To) and {} (Cc)",
            to[0], to[1]
        );

        let mut seen = HashSet::new();
        let mut receipts = 0;
        let watched: Vec<_> = passwords.iter().map(|(a, _)| a.clone()).collect();
        loop {
            for a in &watched {
                for m in store.list_messages(a, "INBOX").await? {
                    if !seen.insert((a.clone(), m.uid)) {
                        continue;
                    }
                    let Some(fetched) = store.fetch_message(a, "INBOX", m.uid).await? else {
                        continue;
                    };
                    let ins = inspect::inspect(&fetched.bytes)?;
                    let extra = ins
                        .daticert
                        .as_ref()
                        .and_then(|d| d.as_ref().ok())
                        .and_then(|d| d.dati.consegna.clone())
                        .map(|c| format!(" for {c}"))
                        .unwrap_or_default();
                    println!("  {a:<28} <- {}{extra}", ins.kind.descrizione());
                    if a == mario {
                        receipts += 1;
                    }
                }
            }
            // One acceptance and one delivery receipt per recipient.
            if args.once && receipts > to.len() {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = super::serve::wait_for_signal() => break,
            }
        }
        running.stop().await;
        Ok(())
    })
}
