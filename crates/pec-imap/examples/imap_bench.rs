//! Measures the IMAP server on loopback TLS, with the in-memory backend:
//! 1. FETCH 1:1000 BODY.PEEK[] of 1,000 messages of ~10 KB (target: under 1 s);
//! 2. the resident memory of the whole process (server and clients) with 1,000 sessions
//!    logged in, INBOX selected, in IDLE (target: under 100 MB VmRSS).
//!
//! Run: `cargo run --release -p pec-imap --example imap_bench`. Raises the open-files soft
//! limit to the hard limit. The 1,000 idle clients run in a child process (this binary again,
//! with `clients` arguments) so the server's own VmRSS is measured alone; the total of both
//! processes is printed too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pec_imap::memory::MemoryBackend;
use pec_imap::{serve_imap, ImapConfig, TlsMode};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const USER: &str = "bench@pec.gestore.test";
/// A box with an empty INBOX, to tell the cost of a session from the cost of its view.
const EMPTY_USER: &str = "vuota@pec.gestore.test";
const PASSWORD: &str = "bench";
const MESSAGES: usize = 1_000;
const CONNECTIONS: usize = 1_000;

fn raise_nofile() -> libc::rlim_t {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
    lim.rlim_cur
}

fn vm_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn message(n: usize) -> Vec<u8> {
    let mut m = format!("From: a@pec.gestore.test\r\nTo: {USER}\r\nSubject: bench {n}\r\n\r\n")
        .into_bytes();
    while m.len() < 10 * 1024 {
        m.extend_from_slice(
            b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n",
        );
    }
    m
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Reads until a line starting with `tag ` has arrived; returns the bytes read.
async fn until_tagged(s: &mut (impl Io + ?Sized), tag: &str) -> usize {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let needle = format!("\r\n{tag} ");
    let mut found = false;
    loop {
        let n = s.read(&mut chunk).await.expect("read");
        assert!(n > 0, "server closed");
        buf.extend_from_slice(&chunk[..n]);
        let from = buf.len().saturating_sub(n + needle.len());
        found = found
            || buf.starts_with(format!("{tag} ").as_bytes())
            || buf[from..]
                .windows(needle.len())
                .any(|w| w == needle.as_bytes());
        if found && buf.ends_with(b"\r\n") {
            return buf.len();
        }
    }
}

async fn connect(
    user: &str,
    addr: std::net::SocketAddr,
    tls: &tokio_rustls::TlsConnector,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("name");
    let mut s = tls.connect(name, tcp).await.expect("tls");
    let mut greeting = [0u8; 512];
    let _ = s.read(&mut greeting).await.expect("greeting");
    s.write_all(format!("l LOGIN {user} {PASSWORD}\r\n").as_bytes())
        .await
        .expect("login");
    until_tagged(&mut s, "l").await;
    s.write_all(b"s SELECT INBOX\r\n").await.expect("select");
    until_tagged(&mut s, "s").await;
    s
}

fn connector(dir: &std::path::Path) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    {
        use rustls::pki_types::pem::PemObject;
        for cert in CertificateDer::pem_file_iter(dir.join("dev-smtp-cert.pem")).expect("pem") {
            roots.add(cert.expect("cert")).expect("root");
        }
    }
    let client_tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(client_tls))
}

/// Child mode: open `n` sessions in IDLE, say READY, hold them until stdin closes.
async fn clients(user: &str, addr: std::net::SocketAddr, dir: &std::path::Path, n: usize) {
    raise_nofile();
    let connector = connector(dir);
    let mut idle = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = connect(user, addr, &connector).await;
        s.write_all(b"i IDLE\r\n").await.expect("idle");
        let mut cont = [0u8; 64];
        let _ = s.read(&mut cont).await.expect("continuation");
        idle.push(s);
    }
    println!("READY");
    let mut rest = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut rest).await;
    drop(idle);
}

fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("clients") {
        let addr = args[2].parse().expect("addr");
        let n = args[4].parse().expect("n");
        clients(&args[5], addr, std::path::Path::new(&args[3]), n).await;
        return;
    }
    let nofile = raise_nofile();
    let dir = tempfile::tempdir().expect("tempdir");
    let names = ["localhost".to_string()];
    let server_tls = pec_listen::tls::dev_tls(dir.path(), &names).expect("dev tls");
    let connector = connector(dir.path());

    let backend = Arc::new(MemoryBackend::new());
    backend.add_box(USER, PASSWORD);
    backend.add_box(EMPTY_USER, PASSWORD);
    let mut total = 0;
    for n in 0..MESSAGES {
        let m = message(n);
        total += m.len();
        backend.deliver(USER, "INBOX", &m).expect("deliver");
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let config = ImapConfig {
        mode: TlsMode::Implicit,
        ..ImapConfig::default()
    };
    let server = tokio::spawn(serve_imap(listener, server_tls, config, backend, shutdown));

    // 1. FETCH of 1,000 messages.
    let mut s = connect(USER, addr, &connector).await;
    let start = Instant::now();
    s.write_all(b"f FETCH 1:* BODY.PEEK[]\r\n")
        .await
        .expect("fetch");
    let got = until_tagged(&mut s, "f").await;
    let took = start.elapsed();
    println!(
        "FETCH 1:{MESSAGES} BODY.PEEK[]: {:.0} ms for {:.1} MB stored ({:.1} MB on the wire), target < 1000 ms",
        took.as_secs_f64() * 1000.0,
        total as f64 / 1e6,
        got as f64 / 1e6
    );
    drop(s);

    // 2. 1,000 idle sessions, clients in a child process.
    println!("open-files limit: {nofile}");
    for (user, messages) in [(USER, MESSAGES), (EMPTY_USER, 0)] {
        let before = vm_rss_kb();
        let mut child = tokio::process::Command::new(std::env::current_exe().expect("exe"))
            .arg("clients")
            .arg(addr.to_string())
            .arg(dir.path())
            .arg(CONNECTIONS.to_string())
            .arg(user)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn clients");
        let mut out = child.stdout.take().expect("stdout");
        let mut ready = [0u8; 6];
        out.read_exact(&mut ready).await.expect("READY");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = vm_rss_kb();
        let clients_rss = child.id().map_or(0, rss_of);
        println!(
            "{CONNECTIONS} sessions logged in, INBOX ({messages} messages) selected, in IDLE: server VmRSS {:.1} MB (was {:.1} MB before; {:.1} KB per session), target < 100 MB; client process {:.1} MB; both {:.1} MB",
            after as f64 / 1024.0,
            before as f64 / 1024.0,
            (after.saturating_sub(before)) as f64 / CONNECTIONS as f64,
            clients_rss as f64 / 1024.0,
            (after + clients_rss) as f64 / 1024.0,
        );
        drop(child.stdin.take());
        let _ = child.wait().await;
    }
    let _ = stop.send(true);
    let _ = server.await;
}
