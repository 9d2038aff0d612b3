//! Test helpers: a dev certificate shared by the whole test process, a POP3 server on
//! 127.0.0.1:0 that stops when dropped, and a raw POP3 client over TCP or TLS.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::banco::Banco;
use pec_imap::{serve_pop3, Pop3Config, Pop3Limits, TlsMode};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub const HOSTNAME: &str = "pop.gestore.test";
pub const USER: &str = "mario@pec.gestore.test";
pub const PASSWORD: &str = "segreto di mario";
pub const OTHER_USER: &str = "anna@pec.gestore.test";
pub const OTHER_PASSWORD: &str = "segreto-di-anna";

/// First message: a body line starting with '.', one with "..", CRLF everywhere.
pub const MSG1: &[u8] = b"From: <a@pec.altro.test>\r\nTo: <mario@pec.gestore.test>\r\n\
Subject: uno\r\n\r\nciao\r\n.una riga col punto\r\n..due punti\r\n.\r\nfine\r\n";
/// Second message.
pub const MSG2: &[u8] =
    b"From: <b@pec.altro.test>\r\nSubject: due\r\n\r\nriga 1\r\nriga 2\r\nriga 3\r\n";

/// How long a test waits for a reply before failing (never reached when things work).
const REPLY_WAIT: Duration = Duration::from_secs(10);

// --- TLS -----------------------------------------------------------------------------------

pub use crate::tls::{client_tls, server_tls};

// --- Server --------------------------------------------------------------------------------

/// Production shape, test speed: short login delays.
pub fn test_limits() -> Pop3Limits {
    Pop3Limits {
        idle_timeout: Duration::from_secs(20),
        write_timeout: Duration::from_secs(5),
        tls_handshake_timeout: Duration::from_secs(5),
        failed_login_delay: Duration::from_millis(20),
        ..Pop3Limits::default()
    }
}

/// A POP3 listener on 127.0.0.1:0 with two boxes; mario's INBOX holds MSG1 and MSG2.
/// Dropping it (also when a test panics) shuts the server down.
pub struct TestServer {
    pub addr: SocketAddr,
    pub mode: TlsMode,
    pub backend: Banco,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<Result<(), pec_imap::Pop3Error>>>,
}

impl TestServer {
    pub async fn start(mode: TlsMode, limits: Pop3Limits) -> Self {
        let backend = Banco::new(&[(USER, PASSWORD), (OTHER_USER, OTHER_PASSWORD)]).await;
        backend.deliver(USER, "INBOX", MSG1).await;
        backend.deliver(USER, "INBOX", MSG2).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (shutdown, rx) = watch::channel(false);
        let config = Pop3Config {
            hostname: HOSTNAME.to_string(),
            mode,
            limits,
        };
        let task = crate::spawn_on!(&backend, |b| serve_pop3(
            listener,
            server_tls(),
            config,
            b,
            rx
        ));
        TestServer {
            addr,
            mode,
            backend,
            shutdown,
            task: Some(task),
        }
    }

    /// A client that read the greeting (and did STLS when the mode needs it).
    pub async fn client(&self) -> Client {
        Client::connect(self.addr, self.mode).await
    }

    /// A logged-in client.
    pub async fn login(&self) -> Client {
        let mut c = self.client().await;
        c.login(USER, PASSWORD).await;
        c
    }

    /// Mario's INBOX now: (uid, bytes) in UID order.
    pub async fn inbox(&self) -> Vec<(u32, Vec<u8>)> {
        let snap = self.backend.snapshot(USER, "INBOX").await;
        let mut out = Vec::new();
        for m in snap.messages {
            let bytes = self
                .backend
                .fetch(USER, "INBOX", m.uid)
                .await
                .expect("present");
            out.push((m.uid, bytes));
        }
        out
    }

    /// Shuts down and waits until every session ended.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            tokio::time::timeout(REPLY_WAIT, task)
                .await
                .expect("server stops in time")
                .expect("server task")
                .expect("server result");
        }
    }

    /// Sends shutdown without waiting.
    pub fn signal_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

// --- Client --------------------------------------------------------------------------------

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A raw POP3 client for tests; upgrades itself on STLS.
pub struct Client {
    stream: Option<Box<dyn Io>>,
    rbuf: Vec<u8>,
}

impl Client {
    /// Connects, handshakes (implicit TLS), reads the greeting, and does STLS in StartTls mode.
    pub async fn connect(addr: SocketAddr, mode: TlsMode) -> Self {
        let mut c = Self::connect_plain(addr, mode).await;
        if mode == TlsMode::StartTls {
            c.stls().await;
        }
        c
    }

    /// A client on an already connected stream; reads nothing.
    pub fn from_stream(stream: impl Io + 'static) -> Self {
        Client {
            stream: Some(Box::new(stream)),
            rbuf: Vec::new(),
        }
    }

    /// Connects and reads the greeting, without STLS.
    pub async fn connect_plain(addr: SocketAddr, mode: TlsMode) -> Self {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        Self::over(tcp, mode).await
    }

    /// [`Client::connect_plain`] on a socket the test connected itself.
    pub async fn over(tcp: TcpStream, mode: TlsMode) -> Self {
        let mut c = Client {
            stream: Some(Box::new(tcp)),
            rbuf: Vec::new(),
        };
        if mode == TlsMode::Implicit {
            c.handshake().await;
        }
        let greeting = c.read_line().await.expect("greeting");
        assert!(greeting.starts_with("+OK "), "{greeting}");
        c
    }

    async fn handshake(&mut self) {
        let plain = self.stream.take().expect("stream");
        let connector = tokio_rustls::TlsConnector::from(client_tls());
        let name = ServerName::try_from("localhost").expect("name");
        let tls = tokio::time::timeout(REPLY_WAIT, connector.connect(name, plain))
            .await
            .expect("handshake in time")
            .expect("handshake");
        self.stream = Some(Box::new(tls));
    }

    /// STLS and the handshake.
    pub async fn stls(&mut self) {
        self.ok("STLS").await;
        assert!(self.rbuf.is_empty(), "bytes after +OK to STLS");
        self.handshake().await;
    }

    /// The handshake alone, after the test sent STLS itself.
    pub async fn stls_handshake_only(&mut self) {
        assert!(self.rbuf.is_empty(), "bytes after +OK to STLS");
        self.handshake().await;
    }

    fn io(&mut self) -> &mut Box<dyn Io> {
        self.stream.as_mut().expect("stream")
    }

    /// Writes raw bytes, reporting failure (the server may hang up).
    pub async fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.io().write_all(bytes).await?;
        self.io().flush().await
    }

    /// Writes raw bytes.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.try_send(bytes).await.expect("send");
    }

    /// Reads one line without CRLF; `None` at end of stream (or a reset).
    pub async fn read_line(&mut self) -> Option<String> {
        let line = self.read_raw_line().await?;
        Some(
            String::from_utf8_lossy(&line)
                .trim_end_matches("\r\n")
                .to_string(),
        )
    }

    async fn read_raw_line(&mut self) -> Option<Vec<u8>> {
        tokio::time::timeout(REPLY_WAIT, async {
            loop {
                if let Some(pos) = self.rbuf.iter().position(|&b| b == b'\n') {
                    return Some(self.rbuf.drain(..=pos).collect());
                }
                let mut chunk = [0u8; 8192];
                let n = self.io().read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                self.rbuf.extend_from_slice(&chunk[..n]);
            }
        })
        .await
        .expect("line or close in time")
    }

    /// Sends a command and returns the status line.
    pub async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.read_line().await.expect("reply")
    }

    /// Sends a command that must answer `+OK`.
    pub async fn ok(&mut self, line: &str) -> String {
        let reply = self.cmd(line).await;
        assert!(reply.starts_with("+OK"), "{line} -> {reply}");
        reply
    }

    /// Sends a command that must answer `-ERR`.
    pub async fn err(&mut self, line: &str) -> String {
        let reply = self.cmd(line).await;
        assert!(reply.starts_with("-ERR"), "{line} -> {reply}");
        reply
    }

    /// Sends a command that must answer `+OK` and a multi-line body; returns the body
    /// un-stuffed, CRLF kept, without the final `.` line.
    pub async fn multi(&mut self, line: &str) -> Vec<u8> {
        self.ok(line).await;
        self.read_body().await
    }

    /// Reads a multi-line body after its status line.
    pub async fn read_body(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let line = self.read_raw_line().await.expect("body line");
            if line == b".\r\n" {
                return body;
            }
            let line = line.strip_prefix(b".").unwrap_or(&line);
            body.extend_from_slice(line);
        }
    }

    /// Lines of a multi-line listing.
    pub async fn listing(&mut self, line: &str) -> Vec<String> {
        let body = self.multi(line).await;
        String::from_utf8(body)
            .expect("utf8")
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// USER + PASS, expecting success.
    pub async fn login(&mut self, user: &str, password: &str) {
        self.ok(&format!("USER {user}")).await;
        self.ok(&format!("PASS {password}")).await;
    }

    /// True when the server closed (end of stream or reset) within the wait.
    pub async fn is_closed(&mut self) -> bool {
        self.read_line().await.is_none()
    }

    /// Reads everything until the server closes; returns how many bytes came.
    pub async fn drain_until_closed(&mut self, wait: Duration) -> usize {
        let mut total = self.rbuf.len();
        self.rbuf.clear();
        let io = self.stream.as_mut().expect("stream");
        tokio::time::timeout(wait, async {
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                match io.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => total += n,
                }
            }
        })
        .await
        .expect("server closes in time");
        total
    }
}

/// base64 (RFC 4648) for AUTH PLAIN in tests.
pub fn b64(input: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// --- External tools ------------------------------------------------------------------------

/// The tool's path, or `None` (printed as a skip); panics under GESTORE_REQUIRE_TOOLS=1.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("GESTORE_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{name} is required (GESTORE_REQUIRE_TOOLS=1) but not installed");
        }
        eprintln!("SKIP: {name} not installed");
    }
    found
}

/// Runs a blocking external command off the runtime, with a time limit.
pub async fn run_tool(mut command: std::process::Command) -> std::process::Output {
    command.stdin(std::process::Stdio::null());
    let child = tokio::process::Command::from(command)
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(20), child)
        .await
        .expect("tool finishes in time")
        .expect("tool runs")
}
