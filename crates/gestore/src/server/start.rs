//! Starting and stopping a provider: store, signer, TLS, listeners and the delivery worker.

use super::imap::boxes;
use super::smtp::{Arrivi, Invii};
use crate::config::Config;
use anyhow::{Context, Result};
use pec_provider::clock::Clock;
use pec_provider::indice::Directory;
use pec_provider::sigillo::SigilloFirma;
use pec_provider::Gestore;
use pec_smime::pki::{self, PkiOptions, PkiPaths};
use pec_smime::Signer;
use pec_smtp::{Limits, SubmissionConfig, TlsMode};
use pec_store::SqliteStore;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// A provider that is running.
pub struct Running {
    /// The provider's points (the demo and the bench reach the store through it).
    pub gestore: Arc<Gestore>,
    /// Its configuration.
    pub config: Arc<Config>,
    /// The STARTTLS submission listener's address, when enabled.
    pub submission: Option<SocketAddr>,
    /// The implicit-TLS submission listener's address, when enabled.
    pub submissions: Option<SocketAddr>,
    /// The IMAP (STARTTLS) listener's address, when enabled.
    pub imap: Option<SocketAddr>,
    /// The IMAP (implicit TLS) listener's address, when enabled.
    pub imaps: Option<SocketAddr>,
    /// The POP3 (STLS) listener's address, when enabled.
    pub pop3: Option<SocketAddr>,
    /// The POP3 (implicit TLS) listener's address, when enabled.
    pub pop3s: Option<SocketAddr>,
    /// The receiving point's SMTP listener, when enabled.
    pub inbound: Option<SocketAddr>,
    /// The webmail over HTTPS, when enabled.
    pub web: Option<SocketAddr>,
    /// The webmail over plain HTTP (loopback), when enabled.
    pub web_http: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Running {
    /// Asks every listener and worker to stop, waits for them, then closes the store (its
    /// last log head reaches `log.head`).
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
        self.gestore.store().close().await;
    }
}

/// The signer: configured files, or the dev PKI in `DATA/pki`, made on first start.
pub fn signer(config: &Config) -> Result<Signer> {
    if let Some(s) = existing_signer(config)? {
        return Ok(s);
    }
    let dir = config.data_dir.join("pki");
    pki::init(
        &dir,
        &PkiOptions::new(&config.provider_name, &config.service_address),
    )
    .with_context(|| format!("cannot create the dev PKI in {}", dir.display()))?;
    Signer::from_pki_dir(&dir).context("the dev PKI")
}

/// The signer if there is one already (configured files, or a dev PKI made before): what
/// commands that must not make a new key use.
pub fn existing_signer(config: &Config) -> Result<Option<Signer>> {
    if let Some((cert, key)) = &config.signing {
        return Ok(Some(
            Signer::from_files(cert, key).context("the signing certificate")?,
        ));
    }
    let dir = config.data_dir.join("pki");
    if !PkiPaths::in_dir(&dir).provider_cert.exists() {
        return Ok(None);
    }
    Ok(Some(Signer::from_pki_dir(&dir).context("the dev PKI")?))
}

fn tls(config: &Config) -> Result<Arc<rustls::ServerConfig>> {
    match &config.tls {
        Some((cert, key)) => pec_listen::tls::load_tls(cert, key).context("the TLS certificate"),
        None => pec_listen::tls::dev_tls(&config.data_dir.join("tls"), &config.tls_hostnames)
            .context("the dev TLS certificate"),
    }
}

fn ldap_source(ldap: &crate::config::LdapSync) -> pec_directory::ldap::LdapSource {
    pec_directory::ldap::LdapSource {
        url: ldap.url.clone(),
        bind: ldap.bind.clone(),
        tls: ldap.tls.clone(),
        timeout: std::time::Duration::from_secs(60),
    }
}

/// With an LDAP source and no local copy yet, the first copy comes from the server: there is
/// no last good index to fall back on. The TLS files are checked here in any case, so a wrong
/// path stops the start instead of failing every sync.
async fn first_ldap_copy(config: &Config) -> Result<()> {
    let (Some(ldap), Some(file)) = (&config.ldap, &config.index_file) else {
        return Ok(());
    };
    if ldap.url.starts_with("ldaps://") || ldap.tls.is_set() {
        ldap.tls
            .client_config()
            .with_context(|| format!("the providers' index: TLS towards {}", ldap.url))?;
    }
    if file.exists() {
        return Ok(());
    }
    let empty = Arc::new(pec_directory::Indice::from_gestori([]));
    pec_directory::ldap::IndiceLdap::with_last_good(ldap_source(ldap), empty)
        .with_local_copy(file)
        .sync()
        .await
        .with_context(|| {
            format!(
                "the providers' index: no local copy yet and {} failed",
                ldap.url
            )
        })?;
    Ok(())
}

/// Syncs the index from LDAP into its local copy now and then every `ldap.every`; the file
/// watcher (`refresh_index`) applies it. A failed sync keeps the last good copy.
async fn sync_ldap(
    directory: Arc<Directory>,
    ldap: crate::config::LdapSync,
    file: std::path::PathBuf,
    mut stop: watch::Receiver<bool>,
) {
    let mut source =
        pec_directory::ldap::IndiceLdap::with_last_good(ldap_source(&ldap), directory.indice())
            .with_local_copy(&file);
    loop {
        match source.sync().await {
            Ok(true) => tracing::info!("index: synced from {} into {}", ldap.url, file.display()),
            Ok(false) => {}
            Err(e) => tracing::warn!(
                "index: sync from {} failed, the last good copy stays in force: {e}",
                ldap.url
            ),
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(ldap.every) => {}
        }
    }
}

/// The connection caps every listener gets (issue 12, item 6): `[limits]`, with the
/// per-listener cap lowered when the open-files limit, raised to the system's hard limit,
/// cannot hold every listener full.
#[derive(Clone, Copy)]
struct Caps {
    max_connections: usize,
    per_ip: usize,
    login_timeout: std::time::Duration,
}

impl Caps {
    fn of(config: &Config) -> Self {
        let l = &config.limits;
        let listeners = [
            config.submission,
            config.submissions,
            config.imap,
            config.imaps,
            config.pop3,
            config.pop3s,
            config.inbound,
        ]
        .iter()
        .filter(|a| a.is_some())
        .count();
        let mut max_connections = l.max_connections;
        match pec_listen::fd::raise_nofile() {
            Ok(nofile) => {
                if let Some(fitted) = pec_listen::fd::fit(max_connections, listeners, nofile) {
                    tracing::warn!(
                        "open files limit {nofile}: each listener serves at most {fitted} \
                         connections instead of {max_connections}; raise the hard limit \
                         (ulimit -Hn, LimitNOFILE=) to serve more"
                    );
                    max_connections = fitted;
                }
            }
            Err(e) => tracing::warn!("cannot read the open files limit: {e}"),
        }
        Self {
            max_connections,
            per_ip: l.max_connections_per_ip.min(max_connections),
            login_timeout: std::time::Duration::from_secs(l.login_timeout_seconds),
        }
    }
}

/// Opens the store (waiting for the data folder lock), with `log.head` sealed by the
/// provider's key. Makes the dev PKI on first start.
pub async fn open_store(config: &Config) -> Result<SqliteStore> {
    Ok(open_with_signer(config).await?.0)
}

/// [`open_store`], also handing back the signer it sealed with.
async fn open_with_signer(config: &Config) -> Result<(SqliteStore, Arc<Signer>)> {
    let data_dir = &config.data_dir;
    // A data folder others can read is refused here, before the dev PKI or the TLS key are
    // written into it.
    pec_store::prepare_data_dir(data_dir)?;
    let signer = Arc::new(signer(config)?);
    let sigillo: Arc<dyn pec_store::Sigillo> = Arc::new(SigilloFirma(signer.clone()));
    let store = SqliteStore::open_sealed(data_dir, Some(sigillo))
        .await
        .with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
    Ok((store, signer))
}

/// Starts everything the configuration enables.
pub async fn start(config: Config) -> Result<Running> {
    let config = Arc::new(config);
    let (store, signer) = open_with_signer(&config).await?;
    first_ldap_copy(&config).await?;
    let tls = tls(&config)?;
    let clock = Arc::new(if config.adjustable_clock {
        Clock::adjustable(&config.data_dir)?
    } else {
        Clock::system()
    });
    let gestore = Arc::new(Gestore::new(&config.impostazioni(), store, signer, clock)?);
    gestore.caselle().crea_servizio().await?;
    let (shutdown, stop) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let caps = Caps::of(&config);
    let limits = Limits {
        max_message_size: usize::try_from(config.limits.max_message_size).unwrap_or(usize::MAX),
        max_recipients: config.limits.max_recipients,
        max_connections: caps.max_connections,
        max_connections_per_ip: caps.per_ip,
        login_timeout: caps.login_timeout,
        ..Limits::default()
    };
    let hostname = config
        .tls_hostnames
        .first()
        .cloned()
        .unwrap_or_else(|| "localhost".into());
    let mut bound = [None, None];
    for (i, (addr, mode)) in [
        (config.submission, TlsMode::StartTls),
        (config.submissions, TlsMode::Implicit),
    ]
    .into_iter()
    .enumerate()
    {
        let Some(addr) = addr else { continue };
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        bound[i] = Some(listener.local_addr()?);
        let cfg = SubmissionConfig {
            hostname: hostname.clone(),
            mode,
            limits: limits.clone(),
        };
        let backend = Arc::new(Invii {
            accesso: gestore.accesso(),
            caselle: gestore.caselle(),
        });
        let (tls, stop) = (tls.clone(), stop.clone());
        tasks.spawn(async move {
            if let Err(e) = pec_smtp::serve_submission(listener, tls, cfg, backend, stop).await {
                tracing::error!("listener {addr}: {e}");
            }
        });
    }
    // Mailbox access: IMAP and POP3, each in its STARTTLS and implicit-TLS flavour.
    let mut access = [None, None, None, None];
    for (i, (addr, pop, mode)) in [
        (config.imap, false, pec_imap::TlsMode::StartTls),
        (config.imaps, false, pec_imap::TlsMode::Implicit),
        (config.pop3, true, pec_imap::TlsMode::StartTls),
        (config.pop3s, true, pec_imap::TlsMode::Implicit),
    ]
    .into_iter()
    .enumerate()
    {
        let Some(addr) = addr else { continue };
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        access[i] = Some(listener.local_addr()?);
        let backend = Arc::new(boxes(gestore.caselle()));
        let (tls, stop) = (tls.clone(), stop.clone());
        let hostname = hostname.clone();
        let fetch_memory = config.limits.imap_fetch_memory_mb.saturating_mul(1 << 20);
        tasks.spawn(async move {
            let served = if pop {
                let cfg = pec_imap::Pop3Config {
                    hostname,
                    mode,
                    limits: pec_imap::Pop3Limits {
                        max_connections: caps.max_connections,
                        max_connections_per_ip: caps.per_ip,
                        login_timeout: caps.login_timeout,
                        retr_memory: fetch_memory,
                        ..Default::default()
                    },
                };
                pec_imap::serve_pop3(listener, tls, cfg, backend, stop)
                    .await
                    .map_err(anyhow::Error::from)
            } else {
                let cfg = pec_imap::ImapConfig {
                    hostname,
                    mode,
                    limits: pec_imap::ImapLimits {
                        max_connections: caps.max_connections,
                        // Mail clients open several connections each.
                        max_connections_per_ip: caps.per_ip.saturating_mul(2),
                        login_timeout: caps.login_timeout,
                        fetch_memory,
                        ..Default::default()
                    },
                };
                pec_imap::serve_imap(listener, tls, cfg, backend, stop)
                    .await
                    .map_err(anyhow::Error::from)
            };
            if let Err(e) = served {
                tracing::error!("listener {addr}: {e:#}");
            }
        });
    }
    // The receiving point: other providers and Internet mail (PEC-SPEC §2.3).
    let mut inbound = None;
    if let Some(addr) = config.inbound {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        inbound = Some(listener.local_addr()?);
        let cfg = pec_smtp::InboundConfig {
            hostname: hostname.clone(),
            limits: limits.clone(),
        };
        let backend = Arc::new(Arrivi(gestore.ricezione()));
        let (tls, stop) = (tls.clone(), stop.clone());
        tasks.spawn(async move {
            if let Err(e) = pec_smtp::serve_inbound(listener, tls, cfg, backend, stop).await {
                tracing::error!("listener {addr}: {e}");
            }
        });
    }
    // The webmail (issue 14): the same points and store, in-process.
    let mut web = [None, None];
    if config.web.is_some() || config.web_http.is_some() {
        let upload = usize::try_from(config.limits.max_message_size).unwrap_or(usize::MAX);
        let app = pec_web::Web::new(gestore.clone(), &config.provider_name, upload).router();
        for (i, (addr, tls)) in [(config.web, Some(tls.clone())), (config.web_http, None)]
            .into_iter()
            .enumerate()
        {
            let Some(addr) = addr else { continue };
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            web[i] = Some(listener.local_addr()?);
            let (app, stop) = (app.clone(), stop.clone());
            tasks.spawn(async move {
                if let Err(e) = pec_web::servizio::serve(listener, tls, app, stop).await {
                    tracing::error!("listener {addr}: {e}");
                }
            });
        }
    }
    let (store, admin_config, admin_stop) = (gestore.store().clone(), config.clone(), stop.clone());
    let (clock, work) = (gestore.clock(), gestore.lavoro());
    tasks.spawn(async move {
        if let Err(e) = super::admin::serve(store, admin_config, clock, work, admin_stop).await {
            tracing::error!("admin socket: {e:#}");
        }
    });
    if let Some(av) = &config.antivirus {
        println!(
            "antivirus clamd {} within {} s (access point: {}, receiving point: {})",
            av.clamd,
            av.timeout.as_secs(),
            if av.access { "scanned" } else { "not scanned" },
            if av.receiving {
                "scanned"
            } else {
                "not scanned"
            }
        );
    }
    if let (Some(ldap), Some(file)) = (config.ldap.clone(), config.index_file.clone()) {
        tasks.spawn(sync_ldap(gestore.indice(), ldap, file, stop.clone()));
    }
    gestore.avvia(&mut tasks, &stop);
    Ok(Running {
        gestore,
        config,
        submission: bound[0],
        submissions: bound[1],
        imap: access[0],
        imaps: access[1],
        pop3: access[2],
        pop3s: access[3],
        inbound,
        web: web[0],
        web_http: web[1],
        shutdown,
        tasks,
    })
}
