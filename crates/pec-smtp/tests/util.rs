//! Test helpers: an in-memory backend, a dev certificate shared by the whole test process,
//! an SMTP test client over any stream, and servers that stop when dropped.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use pec_smtp::{
    serve_inbound, serve_stream, serve_submission, AuthResult, Backend, InboundConfig, Limits,
    SessionContext, Submission, SubmissionConfig, SubmitError, TlsMode,
};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

pub const HOSTNAME: &str = "mail.gestore.test";
pub const USER: &str = "mario@pec.gestore.test";
pub const PASSWORD: &str = "segreto";

/// How long a test waits for a reply before failing (never reached when things work).
const REPLY_WAIT: Duration = Duration::from_secs(5);

// --- Backend -------------------------------------------------------------------------------

/// Stores submissions in memory; behaviour switches for the failure paths.
#[derive(Default)]
pub struct MemoryBackend {
    users: HashMap<String, String>,
    pub submissions: Mutex<Vec<Submission>>,
    /// Returned by the next `submit` calls instead of storing.
    pub submit_error: Mutex<Option<SubmitError>>,
    /// Recipients `check_rcpt` refuses with 550 5.1.1.
    pub refused_rcpt: Mutex<Vec<String>>,
    /// Directory down: authenticate answers `Unavailable`.
    pub auth_unavailable: Mutex<bool>,
    /// When set, `submit` waits for this before committing (to see that 250 waits for it).
    pub commit_gate: Mutex<Option<Arc<Notify>>>,
    /// Reverse-paths `check_mail_from` refuses with 553 5.7.1.
    pub refused_sender: Mutex<Vec<String>>,
}

impl MemoryBackend {
    pub fn new() -> Arc<Self> {
        let mut users = HashMap::new();
        users.insert(USER.to_string(), PASSWORD.to_string());
        Arc::new(MemoryBackend {
            users,
            ..Default::default()
        })
    }

    pub fn stored(&self) -> Vec<Submission> {
        self.submissions.lock().expect("lock").clone()
    }
}

impl Backend for MemoryBackend {
    async fn authenticate(&self, user: &str, password: &str, _peer: IpAddr) -> AuthResult {
        if *self.auth_unavailable.lock().expect("lock") {
            return AuthResult::Unavailable("directory down".into());
        }
        match self.users.get(user) {
            Some(p) if p == password => AuthResult::Accepted {
                mailbox: user.to_string(),
            },
            _ => AuthResult::Rejected,
        }
    }

    async fn check_mail_from(&self, _authenticated: &str, from: &str) -> Result<(), SubmitError> {
        if self
            .refused_sender
            .lock()
            .expect("lock")
            .iter()
            .any(|r| r == from)
        {
            return Err(SubmitError::Permanent(
                553,
                "5.7.1".into(),
                "Sender address rejected".into(),
            ));
        }
        Ok(())
    }

    async fn check_rcpt(&self, _authenticated: &str, rcpt: &str) -> Result<(), SubmitError> {
        if self
            .refused_rcpt
            .lock()
            .expect("lock")
            .iter()
            .any(|r| r == rcpt)
        {
            return Err(SubmitError::Permanent(
                550,
                "5.1.1".into(),
                "No such recipient".into(),
            ));
        }
        Ok(())
    }

    async fn submit(&self, submission: Submission) -> Result<(), SubmitError> {
        let gate = self.commit_gate.lock().expect("lock").clone();
        if let Some(gate) = gate {
            gate.notified().await;
        }
        if let Some(err) = self.submit_error.lock().expect("lock").clone() {
            return Err(err);
        }
        self.submissions.lock().expect("lock").push(submission);
        Ok(())
    }
}

// --- TLS -----------------------------------------------------------------------------------

fn dev_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pec-smtp-dev-tls")
}

/// The dev certificate, made once per test process with `dev_tls`.
pub fn server_tls() -> Arc<rustls::ServerConfig> {
    static TLS: OnceLock<Arc<rustls::ServerConfig>> = OnceLock::new();
    TLS.get_or_init(|| {
        let names = ["localhost".to_string(), "127.0.0.1".to_string()];
        pec_smtp::dev_tls(&dev_dir(), &names).expect("dev tls")
    })
    .clone()
}

/// Path of the dev certificate PEM (exists after `server_tls()`).
pub fn dev_cert_path() -> PathBuf {
    server_tls();
    dev_dir().join("dev-smtp-cert.pem")
}

/// A client configuration trusting exactly the dev certificate.
pub fn client_tls() -> Arc<rustls::ClientConfig> {
    static TLS: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    TLS.get_or_init(|| {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(dev_cert_path()).expect("pem") {
            roots.add(cert.expect("cert")).expect("root");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    })
    .clone()
}

// --- Limits --------------------------------------------------------------------------------

/// Production shape, test speed: short timeouts and auth delays.
pub fn test_limits() -> Limits {
    Limits {
        max_message_size: 64 * 1024,
        max_recipients: 5,
        command_timeout: Duration::from_secs(10),
        data_timeout: Duration::from_secs(10),
        tls_handshake_timeout: Duration::from_secs(5),
        auth_failure_delay: Duration::from_millis(10),
        auth_failure_delay_max: Duration::from_millis(30),
        ..Limits::default()
    }
}

pub fn config(mode: TlsMode, limits: Limits) -> SubmissionConfig {
    SubmissionConfig {
        hostname: HOSTNAME.to_string(),
        mode,
        limits,
    }
}

// --- Client --------------------------------------------------------------------------------

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One SMTP reply: its code and the text of each line (after `NNN-` / `NNN `).
#[derive(Debug)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
    pub fn has_line(&self, line: &str) -> bool {
        self.lines.iter().any(|l| l == line)
    }
}

/// An SMTP client for tests, over any stream; upgrades itself on STARTTLS.
pub struct Client {
    stream: Option<Box<dyn Io>>,
    rbuf: Vec<u8>,
}

impl Client {
    pub fn new(stream: impl Io + 'static) -> Self {
        Client {
            stream: Some(Box::new(stream)),
            rbuf: Vec::new(),
        }
    }

    /// Connects over TLS from the first byte (implicit TLS).
    pub async fn new_tls(stream: impl Io + 'static) -> Self {
        let mut client = Client::new(stream);
        client.handshake().await;
        client
    }

    fn io(&mut self) -> &mut Box<dyn Io> {
        self.stream.as_mut().expect("stream present")
    }

    /// The TLS handshake alone (after the test sent STARTTLS itself).
    pub async fn handshake_only(&mut self) {
        assert!(self.rbuf.is_empty(), "server sent bytes after 220 STARTTLS");
        self.handshake().await;
    }

    async fn handshake(&mut self) {
        let plain = self.stream.take().expect("stream present");
        let connector = tokio_rustls::TlsConnector::from(client_tls());
        let name = ServerName::try_from("localhost").expect("name");
        let tls = tokio::time::timeout(REPLY_WAIT, connector.connect(name, plain))
            .await
            .expect("handshake in time")
            .expect("handshake");
        self.stream = Some(Box::new(tls));
    }

    /// Writes raw bytes.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.io().write_all(bytes).await.expect("write");
        self.io().flush().await.expect("flush");
    }

    /// Writes raw bytes, reporting failure instead of panicking (the server may hang up).
    pub async fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.io().write_all(bytes).await?;
        self.io().flush().await
    }

    /// Reads one (possibly multi-line) reply.
    pub async fn read_reply(&mut self) -> Reply {
        tokio::time::timeout(REPLY_WAIT, self.read_reply_inner())
            .await
            .expect("reply in time")
            .expect("a reply, not end of stream")
    }

    /// Like `read_reply` but `None` when the server closed the connection.
    pub async fn try_read_reply(&mut self) -> Option<Reply> {
        tokio::time::timeout(REPLY_WAIT, self.read_reply_inner())
            .await
            .expect("reply or close in time")
    }

    async fn read_reply_inner(&mut self) -> Option<Reply> {
        let mut lines = Vec::new();
        loop {
            let line = self.read_line().await?;
            let code: u16 = line.get(..3)?.parse().ok()?;
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").to_string());
            if last {
                return Some(Reply { code, lines });
            }
        }
    }

    async fn read_line(&mut self) -> Option<String> {
        loop {
            if let Some(pos) = self.rbuf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.rbuf.drain(..=pos).collect();
                let line = String::from_utf8_lossy(&line);
                return Some(line.trim_end_matches(['\r', '\n']).to_string());
            }
            let mut chunk = [0u8; 4096];
            let n = self.io().read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            self.rbuf.extend_from_slice(&chunk[..n]);
        }
    }

    /// True when the server closed the connection (no reply, end of stream).
    pub async fn is_closed(&mut self) -> bool {
        self.try_read_reply().await.is_none()
    }

    /// Sends one command line and checks the reply code.
    pub async fn cmd(&mut self, line: &str, expect: u16) -> Reply {
        self.send(format!("{line}\r\n").as_bytes()).await;
        let reply = self.read_reply().await;
        assert_eq!(reply.code, expect, "{line} -> {reply:?}");
        reply
    }

    /// Reads the greeting.
    pub async fn greeting(&mut self) -> Reply {
        let reply = self.read_reply().await;
        assert_eq!(reply.code, 220, "greeting {reply:?}");
        reply
    }

    /// STARTTLS, handshake, EHLO again.
    pub async fn starttls(&mut self) -> Reply {
        self.cmd("STARTTLS", 220).await;
        assert!(self.rbuf.is_empty(), "nothing after 220 STARTTLS");
        self.handshake().await;
        self.cmd("EHLO client.test", 250).await
    }

    /// AUTH PLAIN with an initial response.
    pub async fn login(&mut self, user: &str, password: &str, expect: u16) -> Reply {
        let line = format!("AUTH PLAIN {}", plain(user, password));
        self.cmd(&line, expect).await
    }

    /// Greeting, EHLO, STARTTLS (when the mode needs it), AUTH: ready for MAIL FROM.
    pub async fn ready(&mut self, mode: TlsMode) {
        self.greeting().await;
        self.cmd("EHLO client.test", 250).await;
        if mode == TlsMode::StartTls {
            self.starttls().await;
        }
        self.login(USER, PASSWORD, 235).await;
    }

    /// MAIL, RCPT, DATA, body (already CRLF and dot-stuffed, without the final dot line).
    pub async fn send_message(&mut self, rcpt: &[&str], body: &str) -> Reply {
        self.cmd(&format!("MAIL FROM:<{USER}>"), 250).await;
        for r in rcpt {
            self.cmd(&format!("RCPT TO:<{r}>"), 250).await;
        }
        self.cmd("DATA", 354).await;
        self.send(body.as_bytes()).await;
        self.send(b".\r\n").await;
        self.read_reply().await
    }
}

pub fn plain(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"))
}

pub fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

// --- Servers -------------------------------------------------------------------------------

/// A session on an in-memory duplex stream. Dropping it stops the server side.
pub struct MemSession {
    pub client: Client,
    pub backend: Arc<MemoryBackend>,
    pub shutdown: watch::Sender<bool>,
    task: JoinHandle<Result<(), pec_smtp::Error>>,
}

impl MemSession {
    /// Starts a server session; with `Implicit` the client handshakes first.
    pub async fn start(mode: TlsMode, limits: Limits) -> Self {
        Self::start_with(mode, limits, MemoryBackend::new()).await
    }

    pub async fn start_with(mode: TlsMode, limits: Limits, backend: Arc<MemoryBackend>) -> Self {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let (shutdown, rx) = watch::channel(false);
        let ctx = Arc::new(SessionContext::new(
            config(mode, limits),
            server_tls(),
            backend.clone(),
        ));
        let peer: SocketAddr = "192.0.2.1:50000".parse().expect("addr");
        let task = tokio::spawn(serve_stream(server_io, peer, ctx, rx));
        let client = match mode {
            TlsMode::StartTls => Client::new(client_io),
            TlsMode::Implicit => Client::new_tls(client_io).await,
        };
        MemSession {
            client,
            backend,
            shutdown,
            task,
        }
    }

    /// Started and authenticated, ready for MAIL FROM.
    pub async fn ready(mode: TlsMode, limits: Limits) -> Self {
        let mut s = Self::start(mode, limits).await;
        s.client.ready(mode).await;
        s
    }

    /// Waits for the server side to end and returns its result.
    pub async fn server_result(&mut self) -> Result<(), pec_smtp::Error> {
        tokio::time::timeout(REPLY_WAIT, &mut self.task)
            .await
            .expect("server ends in time")
            .expect("server task did not panic")
    }
}

impl Drop for MemSession {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A real listener on 127.0.0.1, port 0. Dropping it shuts it down (also on test failure).
pub struct TestServer {
    pub addr: SocketAddr,
    pub backend: Arc<MemoryBackend>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<Result<(), pec_smtp::Error>>>,
}

impl TestServer {
    pub async fn start(mode: TlsMode, limits: Limits) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let backend = MemoryBackend::new();
        let (shutdown, rx) = watch::channel(false);
        let task = tokio::spawn(serve_submission(
            listener,
            server_tls(),
            config(mode, limits),
            backend.clone(),
            rx,
        ));
        TestServer {
            addr,
            backend,
            shutdown,
            task: Some(task),
        }
    }

    /// The receiving point (inbound, "port 25") on 127.0.0.1, port 0.
    pub async fn start_inbound(limits: Limits) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let backend = MemoryBackend::new();
        let (shutdown, rx) = watch::channel(false);
        let config = InboundConfig {
            hostname: HOSTNAME.to_string(),
            limits,
        };
        let task = tokio::spawn(serve_inbound(
            listener,
            server_tls(),
            config,
            backend.clone(),
            rx,
        ));
        TestServer {
            addr,
            backend,
            shutdown,
            task: Some(task),
        }
    }

    pub async fn connect(&self) -> Client {
        Client::new(TcpStream::connect(self.addr).await.expect("connect"))
    }

    pub async fn connect_tls(&self) -> Client {
        Client::new_tls(TcpStream::connect(self.addr).await.expect("connect")).await
    }

    /// Graceful stop: signals shutdown and waits for `serve_submission` to return.
    pub async fn stop(mut self) -> Result<(), pec_smtp::Error> {
        let _ = self.shutdown.send(true);
        let task = self.task.take().expect("running");
        tokio::time::timeout(REPLY_WAIT, task)
            .await
            .expect("server stops in time")
            .expect("server task did not panic")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// For external tools: `Some(path)` when installed; otherwise fails under
/// `GESTORE_REQUIRE_TOOLS=1`, or prints a skip note and returns `None`.
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
