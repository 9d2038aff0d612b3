//! Administration while the provider runs: the store allows one process per data folder, so
//! `gestore mailbox` and `gestore log` talk to a running `serve` through a Unix socket in the
//! data folder (`admin.sock`, mode 0600: only the provider's own user). Without a running
//! server they open the store themselves. Both paths run the same [`execute`].
//!
//! Protocol: one JSON [`Request`] line, one JSON [`Reply`] line.

use crate::config::Config;
use anyhow::{Context, Result};
use pec_provider::clock::Clock;
use pec_store::{Address, LogQuery, SqliteStore, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

/// The socket's file name in the data folder.
pub const SOCKET: &str = "admin.sock";
/// Longest request line accepted (passwords and addresses are short).
const MAX_REQUEST: usize = 64 * 1024;

/// What an operator asks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    /// Create a box.
    Add {
        /// Address.
        address: String,
        /// Password in clear (hashed by the store).
        password: String,
        /// Quota in bytes, 0 = none.
        quota: u64,
    },
    /// All boxes.
    List,
    /// New password.
    Passwd {
        /// Address.
        address: String,
        /// Password.
        password: String,
    },
    /// New quota.
    Quota {
        /// Address.
        address: String,
        /// Bytes, 0 = none.
        bytes: u64,
    },
    /// Enable or disable.
    Enabled {
        /// Address.
        address: String,
        /// New state.
        enabled: bool,
    },
    /// Remove a box and its messages.
    Remove {
        /// Address.
        address: String,
    },
    /// The webmail's second factor on (a new secret) or off.
    Totp {
        /// Address.
        address: String,
        /// On or off.
        enable: bool,
    },
    /// Log events.
    LogSearch {
        /// A message identifier.
        msgid: Option<String>,
        /// An original sender.
        sender: Option<String>,
        /// Not before.
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// At most.
        limit: u32,
    },
    /// Check the log chain.
    LogVerify,
    /// The full integrity check of the store.
    StoreCheck,
    /// Move the running provider's clock forward (only with `[dev] adjustable_clock`).
    ClockAdvance {
        /// Seconds.
        seconds: u64,
    },
}

/// One box in a listing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Casella {
    /// Address.
    pub address: String,
    /// Bytes used.
    pub used: u64,
    /// Quota, 0 = none.
    pub quota: u64,
    /// Enabled.
    pub enabled: bool,
}

/// The answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Reply {
    /// Done.
    Ok,
    /// The new TOTP secret (base32), to enrol in an authenticator app.
    Totp {
        /// The secret.
        secret: String,
    },
    /// Boxes.
    Caselle {
        /// The boxes.
        caselle: Vec<Casella>,
    },
    /// Log lines: sequence, time, event.
    Log {
        /// `(seq, RFC 3339 time, JSON line)`.
        events: Vec<(u64, String, String)>,
    },
    /// The chain verifies up to this head.
    LogIntact {
        /// Events.
        seq: u64,
        /// Head hash, hex.
        head: String,
    },
    /// The chain breaks here.
    LogTampered {
        /// First bad event.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// What the full integrity check found.
    StoreCheck {
        /// The findings.
        report: StoreReport,
    },
    /// The provider's clock after the change.
    Clock {
        /// Now, RFC 3339.
        now: String,
    },
    /// The request failed.
    Error {
        /// One line.
        error: String,
    },
}

/// [`pec_store::CheckReport`] on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreReport {
    /// Events chained.
    pub eventi: u64,
    /// The head `log.head` records.
    pub testa_registrata: Option<u64>,
    /// Bodies read back.
    pub corpi: u64,
    /// One line per problem.
    pub problemi: Vec<String>,
}

impl StoreReport {
    /// Nothing wrong.
    pub fn intatto(&self) -> bool {
        self.problemi.is_empty()
    }
}

impl From<pec_store::CheckReport> for StoreReport {
    fn from(r: pec_store::CheckReport) -> Self {
        Self {
            eventi: r.eventi,
            testa_registrata: r.testa_registrata,
            corpi: r.corpi,
            problemi: r.problemi,
        }
    }
}

/// Runs one request against the store.
pub async fn execute(
    store: &SqliteStore,
    config: &Config,
    clock: Option<&Clock>,
    request: Request,
) -> Reply {
    match run(store, config, clock, request).await {
        Ok(reply) => reply,
        Err(e) => Reply::Error {
            error: format!("{e:#}").replace('\n', " "),
        },
    }
}

async fn run(
    store: &SqliteStore,
    config: &Config,
    clock: Option<&Clock>,
    request: Request,
) -> Result<Reply> {
    let addr = |a: &str| Address::parse(a).map_err(|e| anyhow::anyhow!("{a:?}: {e}"));
    Ok(match request {
        Request::Add {
            address,
            password,
            quota,
        } => {
            // Boxes live in our PEC domains, whoever asks (CLI or socket).
            anyhow::ensure!(
                config.is_local(&address),
                "{address} is not in the provider's PEC domains ({})",
                config.domains.join(", ")
            );
            store
                .add_mailbox(&addr(&address)?, &password, quota)
                .await?;
            Reply::Ok
        }
        Request::List => Reply::Caselle {
            caselle: store
                .list_mailboxes()
                .await?
                .into_iter()
                .map(|m| Casella {
                    address: m.address.to_string(),
                    used: m.used_bytes,
                    quota: m.quota_bytes,
                    enabled: m.enabled,
                })
                .collect(),
        },
        Request::Passwd { address, password } => {
            store.set_password(&addr(&address)?, &password).await?;
            Reply::Ok
        }
        Request::Quota { address, bytes } => {
            store.set_quota(&addr(&address)?, bytes).await?;
            Reply::Ok
        }
        Request::Totp { address, enable } => {
            let address = addr(&address)?;
            if store.mailbox(&address).await?.is_none() {
                anyhow::bail!("no box {address}");
            }
            let secret = match enable {
                true => Some(pec_provider::totp::nuovo_segreto().context("random secret")?),
                false => None,
            };
            let op = pec_store::Operation::SetTotp {
                address,
                secret: secret.clone(),
            };
            store.commit(pec_store::Batch::new().with(op)).await?;
            match secret {
                Some(secret) => Reply::Totp { secret },
                None => Reply::Ok,
            }
        }
        Request::Enabled { address, enabled } => {
            store.set_enabled(&addr(&address)?, enabled).await?;
            Reply::Ok
        }
        Request::Remove { address } => {
            store.remove_mailbox(&addr(&address)?).await?;
            Reply::Ok
        }
        Request::LogSearch {
            msgid,
            sender,
            since,
            limit,
        } => {
            let query = LogQuery {
                msgid,
                sender,
                since,
                limit: Some(limit),
            };
            Reply::Log {
                events: store
                    .log_search(&query)
                    .await?
                    .into_iter()
                    .map(|e| (e.seq, e.time.to_rfc3339(), e.line))
                    .collect(),
            }
        }
        Request::LogVerify => match store.log_verify().await {
            Ok(head) => Reply::LogIntact {
                seq: head.seq,
                head: head.hash.iter().map(|b| format!("{b:02x}")).collect(),
            },
            Err(StoreError::LogTampered(b)) => Reply::LogTampered {
                seq: b.seq,
                reason: b.reason.to_string(),
            },
            Err(e) => return Err(e.into()),
        },
        Request::StoreCheck => Reply::StoreCheck {
            report: store.check().await?.into(),
        },
        Request::ClockAdvance { seconds } => {
            let clock = clock.context("no provider is running on this data folder")?;
            clock.advance(std::time::Duration::from_secs(seconds))?;
            Reply::Clock {
                now: clock.now().to_rfc3339(),
            }
        }
    })
}

/// Serves the socket until `shutdown`; removes a stale socket first and the socket at the end.
pub async fn serve(
    store: SqliteStore,
    config: Arc<Config>,
    clock: Arc<Clock>,
    work: Arc<tokio::sync::Notify>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<()> {
    let path = config.data_dir.join(SOCKET);
    // We hold the store's folder lock, so a socket file left here is from a dead process.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)
        .with_context(|| format!("cannot listen on {}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let (store, config, clock, work) =
                    (store.clone(), config.clone(), clock.clone(), work.clone());
                tokio::spawn(async move {
                    let _ = answer(&store, &config, &clock, stream).await;
                    // A moved clock may have made queue items due.
                    work.notify_one();
                });
            }
        }
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}

async fn answer(
    store: &SqliteStore,
    config: &Config,
    clock: &Clock,
    stream: UnixStream,
) -> Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read).take(MAX_REQUEST as u64);
    reader.read_line(&mut line).await?;
    let reply = match serde_json::from_str::<Request>(&line) {
        Ok(request) => execute(store, config, Some(clock), request).await,
        Err(e) => Reply::Error {
            error: format!("bad request: {e}"),
        },
    };
    let mut out = serde_json::to_vec(&reply)?;
    out.push(b'\n');
    write.write_all(&out).await?;
    Ok(())
}

/// Whether a running server answers on `config`'s admin socket.
pub fn serving(config: &Config) -> bool {
    std::os::unix::net::UnixStream::connect(config.data_dir.join(SOCKET)).is_ok()
}

/// Sends `request` to the running server of `config`'s data folder, or runs it on the store directly
/// when no server answers.
pub async fn request(config: &Config, request: Request) -> Result<Reply> {
    if let Ok(stream) = UnixStream::connect(config.data_dir.join(SOCKET)).await {
        let (read, mut write) = stream.into_split();
        let mut line = serde_json::to_vec(&request)?;
        line.push(b'\n');
        write.write_all(&line).await?;
        let mut answer = String::new();
        BufReader::new(read).read_line(&mut answer).await?;
        return serde_json::from_str(&answer).context("the server's answer");
    }
    let store = super::open_store(config).await?;
    let reply = execute(&store, config, None, request).await;
    Ok(reply)
}

use tokio::io::AsyncReadExt as _;
