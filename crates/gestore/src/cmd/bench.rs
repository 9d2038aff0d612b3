//! `gestore bench`: certified messages per second end to end on this machine.
//!
//! It starts a provider in this process on loopback ports with a fresh data folder, makes one
//! box per client plus a recipient box, and has C clients submit N messages of a given size
//! over SMTP (STARTTLS, AUTH), one session each. It reports: certified messages per second
//! from the first submission to the last delivery receipt stored; p50 and p99 of the time to
//! 250; peak resident memory; and the signing ceiling (RSA sign/s × cores ÷ 3 signatures per
//! message: acceptance, envelope, delivery receipt).

use crate::client::Session;
use crate::config::Config;
use crate::server;
use anyhow::{Context, Result};
use pec_provider::comune::indirizzo as address;
use pec_store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Arguments of `gestore bench`.
#[derive(clap::Args)]
pub struct Args {
    /// Messages in all.
    #[arg(long, default_value_t = 2000)]
    pub messages: usize,
    /// Concurrent SMTP clients.
    #[arg(long, default_value_t = 20)]
    pub clients: usize,
    /// Size of each message in bytes.
    #[arg(long, default_value_t = 10 * 1024)]
    pub size: usize,
    /// Offered load in messages per second, spread over the clients (default: as fast as the
    /// provider answers). With a rate, time to 250 measures latency at that load.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Send to a second provider run as its own `gestore serve` process (relay, receiving
    /// point, presa in carico and delivery receipt back over SMTP): the finish line is the
    /// delivery receipt stored at the sender's provider.
    #[arg(long)]
    pub peer: bool,
    /// Instead: the webmail's pages (folder, message, search) over one box of this many
    /// messages.
    #[arg(long)]
    pub webmail: Option<usize>,
}

/// Signatures per certified message to one local recipient.
const SIGNATURES_PER_MESSAGE: f64 = 3.0;
/// With a peer: acceptance, envelope (ours), presa in carico, delivery receipt (the peer's).
const SIGNATURES_WITH_PEER: f64 = 4.0;
const DOMAIN: &str = "pec.bench.test";
const PEER_DOMAIN: &str = "pec.bench-peer.test";

/// The text of a bench provider's configuration.
fn config_text(
    name: &str,
    domain: &str,
    data: &std::path::Path,
    size: usize,
    extra: &str,
) -> String {
    format!(
        "[provider]\nname = \"{name}\"\nservice_address = \"posta-certificata@{domain}\"\n\
         domains = [\"{domain}\"]\n[listen]\nsubmission = \"127.0.0.1:0\"\nsubmissions = \"\"\nimap = \"\"\nimaps = \"\"\npop3 = \"\"\npop3s = \"\"\n\
         {extra}\n[data]\ndir = {:?}\n[limits]\nmax_message_size = {}\n",
        data.to_string_lossy(),
        (size * 2).max(1 << 20)
    )
}

/// Runs the benchmark and prints the report.
pub fn run(args: &Args) -> Result<()> {
    let clients = args.clients.max(1);
    let data = std::env::temp_dir().join(format!("gestore-bench-{}", std::process::id()));
    // One provider, no receiving point: the single-provider bench and the webmail's.
    let alone = || {
        let text = config_text(
            "Gestore Bench S.p.A.",
            DOMAIN,
            &data,
            args.size,
            "inbound = \"\"",
        );
        Config::parse(&text, &data)
    };
    let result = if let Some(n) = args.webmail {
        alone()
            .map_err(Into::into)
            .and_then(|c| super::bench_web::run(c, n))
    } else if args.peer {
        peer::run(args, clients, &data)
    } else {
        alone()
            .map_err(Into::into)
            .and_then(|c| super::serve::runtime()?.block_on(bench(c, args, clients, None)))
    };
    let _ = std::fs::remove_dir_all(&data);
    result
}

/// The second provider of `gestore bench --peer`: its own `gestore serve` process.
mod peer {
    use super::*;
    use std::io::BufRead;
    use std::process::{Child, Command, Stdio};

    /// The child process, killed when dropped (also when the bench fails).
    pub struct Peer(Child);

    impl Drop for Peer {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn free_port() -> Result<u16> {
        Ok(std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port())
    }

    /// Sets both providers up (keys, TLS, one index, routes to each other), starts the peer
    /// and runs the bench against it.
    pub fn run(args: &Args, clients: usize, data: &std::path::Path) -> Result<()> {
        let (data_a, data_b) = (data.join("a"), data.join("b"));
        let hosts = vec!["localhost".to_string()];
        for d in [&data_a, &data_b] {
            std::fs::create_dir_all(d)?;
            pec_listen::tls::dev_tls(&d.join("tls"), &hosts).context("dev TLS")?;
        }
        let (in_a, in_b) = (free_port()?, free_port()?);
        let index = data.join("providers.ldif");
        let extra =
            |inbound: u16, peer_domain: &str, peer_port: u16, peer_data: &std::path::Path| {
                format!(
                "inbound = \"127.0.0.1:{inbound}\"\n[index]\nfile = {:?}\n[relay]\nmx = false\n\
                 routes = {{ {:?} = \"localhost:{peer_port}\" }}\ntls_roots = [{:?}]",
                index.to_string_lossy(),
                peer_domain,
                peer_data.join("tls/dev-smtp-cert.pem").to_string_lossy()
            )
            };
        let text_a = config_text(
            "Gestore Bench S.p.A.",
            DOMAIN,
            &data_a,
            args.size,
            &extra(in_a, PEER_DOMAIN, in_b, &data_b),
        );
        let text_b = config_text(
            "Gestore Bench Peer S.p.A.",
            PEER_DOMAIN,
            &data_b,
            args.size,
            &extra(in_b, DOMAIN, in_a, &data_a),
        );
        let config_b_path = data.join("peer.toml");
        std::fs::write(&config_b_path, &text_b)?;
        let config_a = Config::parse(&text_a, &data_a)?;
        let config_b = Config::parse(&text_b, &data_b)?;
        let mut ldif = String::from("version: 1\n\n");
        ldif.push_str(&crate::cmd::index::export(&config_a, false)?);
        ldif.push_str(&crate::cmd::index::export(&config_b, false)?);
        std::fs::write(&index, ldif)?;
        let mut child = Command::new(std::env::current_exe()?)
            .args(["serve", "--config"])
            .arg(&config_b_path)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the peer")?;
        let stdout = child.stdout.take().context("peer stdout")?;
        let peer = Peer(child);
        let mut lines = std::io::BufReader::new(stdout).lines();
        loop {
            match lines.next() {
                Some(Ok(l)) if l == "ready" => break,
                Some(Ok(_)) => {}
                _ => anyhow::bail!("the peer stopped before it was ready"),
            }
        }
        // Keep draining the peer's event trail so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        super::super::ask(
            &config_b,
            crate::server::admin::Request::Add {
                address: format!("dest@{PEER_DOMAIN}"),
                password: "pw-dest".into(),
                quota: 0,
            },
        )?;
        let result = super::super::serve::runtime()?.block_on(bench(
            config_a,
            args,
            clients,
            Some(format!("dest@{PEER_DOMAIN}")),
        ));
        drop(peer);
        result
    }
}

async fn bench(config: Config, args: &Args, clients: usize, remote: Option<String>) -> Result<()> {
    let running = server::start(config).await?;
    running.gestore.registro().traccia(false);
    let store = running.gestore.store();
    let smtp = running.submission.context("no submission listener")?;
    let dest = match &remote {
        Some(r) => r.clone(),
        None => {
            let dest = format!("dest@{DOMAIN}");
            store.add_mailbox(&address(&dest)?, "pw-dest", 0).await?;
            dest
        }
    };
    for c in 0..clients {
        store
            .add_mailbox(&address(&format!("s{c}@{DOMAIN}"))?, &format!("pw-{c}"), 0)
            .await?;
    }
    let ceiling = signing_ceiling(running.gestore.firma().signer())?;
    let signatures = if remote.is_some() {
        SIGNATURES_WITH_PEER
    } else {
        SIGNATURES_PER_MESSAGE
    };
    println!(
        "gestore bench: {} messages of {} bytes from {clients} SMTP clients, {}, {}",
        args.messages,
        args.size,
        if remote.is_some() {
            "one recipient at a second provider (its own process)"
        } else {
            "one local recipient"
        },
        args.rate
            .map(|r| format!("offered {r:.0} messages/s"))
            .unwrap_or_else(|| "as fast as possible".into())
    );

    // Every client connects and logs in first (TLS handshake, an Argon2 check each): the clock
    // starts when the last one is ready, so the rate is the certified-message rate, not
    // session setup.
    let ready = Arc::new(tokio::sync::Barrier::new(clients + 1));
    let mut tasks = tokio::task::JoinSet::new();
    let per_client = args.messages.div_ceil(clients);
    let size = args.size;
    // With a rate, each client sends every `clients / rate` seconds, offset so the clients
    // interleave.
    let interval = args
        .rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(clients as f64 / r));
    for c in 0..clients {
        let count = per_client.min(args.messages.saturating_sub(c * per_client));
        let pacing = interval.map(|i| (i, i.mul_f64(c as f64 / clients as f64)));
        let (ready, dest) = (ready.clone(), dest.clone());
        tasks.spawn(async move { client(smtp, c, count, size, pacing, ready, dest).await });
    }
    ready.wait().await;
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(args.messages);
    while let Some(r) = tasks.join_next().await {
        latencies.extend(r.context("client task")??);
    }
    let submitted = started.elapsed();
    let total = latencies.len() as u64;
    // The finish line: the delivery receipt stored in the sender's box (ours, or the one the
    // peer sent back).
    let g = running.gestore.clone();
    let done = move || {
        if remote.is_some() {
            g.contatori().chiusi_remoti()
        } else {
            g.contatori().consegne()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    while done() < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let delivered = done();
    running.stop().await;

    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let rate = delivered as f64 / elapsed.as_secs_f64();
    println!("certified messages:      {delivered} of {total} delivered with receipts");
    println!(
        "end to end:              {rate:.0} certified messages/s ({:.2} s; all 250s after {:.2} s)",
        elapsed.as_secs_f64(),
        submitted.as_secs_f64()
    );
    println!(
        "time to 250:             p50 {:.1} ms, p99 {:.1} ms",
        ms(pct(0.50)),
        ms(pct(0.99))
    );
    println!(
        "peak memory (RSS):       {} MB",
        peak_rss_kb().unwrap_or(0) / 1024
    );
    println!(
        "signing ceiling:         {:.0} sign/s x {} cores / {signatures} = {:.0} certified messages/s",
        ceiling.0,
        ceiling.1,
        ceiling.0 * ceiling.1 as f64 / signatures
    );
    Ok(())
}

/// One client: a session, `count` messages (paced by `(interval, offset)` when given), the
/// time to 250 of each.
async fn client(
    smtp: std::net::SocketAddr,
    c: usize,
    count: usize,
    size: usize,
    pacing: Option<(Duration, Duration)>,
    ready: Arc<tokio::sync::Barrier>,
    dest: String,
) -> Result<Vec<Duration>> {
    let user = format!("s{c}@{DOMAIN}");
    let to = vec![dest];
    let session = Session::connect(smtp, &user, &format!("pw-{c}")).await;
    // Always reach the barrier, or the others would wait forever for a client that failed.
    ready.wait().await;
    let mut session = session?;
    let mut times = Vec::with_capacity(count);
    let start = tokio::time::Instant::now();
    for i in 0..count {
        if let Some((interval, offset)) = pacing {
            tokio::time::sleep_until(start + offset + interval.mul_f64(i as f64)).await;
        }
        let body = message(&user, &to[0], c, i, size);
        let t = Instant::now();
        session.send(&to, &body).await?;
        times.push(t.elapsed());
    }
    session.quit().await;
    Ok(times)
}

fn message(from: &str, to: &str, c: usize, i: usize, size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: bench {c}-{i}\r\nMessage-ID: <bench-{c}-{i}@client>\r\n\r\n"
    )
    .into_bytes();
    let line =
        b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n";
    while m.len() + line.len() <= size {
        m.extend_from_slice(line);
    }
    m
}

/// RSA signatures per second on one core with the provider key, and the number of cores.
fn signing_ceiling(signer: &Arc<pec_smime::Signer>) -> Result<(f64, usize)> {
    let key = signer.private_key();
    let t = Instant::now();
    let mut n = 0u32;
    while t.elapsed() < Duration::from_millis(500) {
        let mut s = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), key)?;
        s.update(b"gestore bench: one bare signature")?;
        s.sign_to_vec()?;
        n += 1;
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    Ok((f64::from(n) / t.elapsed().as_secs_f64(), cores))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// VmHWM of this process, in kB.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
