//! Test helpers: a server on port 0 that stops when dropped, a raw IMAP client over TLS, and
//! the external tools (python3, curl) with the skip/require rule.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use crate::banco::Banco;
use pec_imap::{serve_imap, ImapConfig, ImapLimits, TlsMode};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub const USER: &str = "mario@pec.gestore.test";
pub const PASSWORD: &str = "segreto";
const WAIT: Duration = Duration::from_secs(10);

/// A small signed-looking message; CRLF, a multipart, and a line of 8-bit bytes.
pub fn sample_message(n: usize) -> Vec<u8> {
    format!(
        "From: Posta Certificata <posta-certificata@pec.gestore.test>\r\n\
         To: mario@pec.gestore.test\r\n\
         Subject: POSTA CERTIFICATA: prova {n}\r\n\
         Date: Mon, 2 Mar 2026 10:00:00 +0100\r\n\
         Message-ID: <m{n}@pec.gestore.test>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"B{n}\"\r\n\
         \r\n\
         --B{n}\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         Il messaggio {n} è stato consegnato. parola-chiave-{n}\r\n\
         \r\n\
         --B{n}\r\n\
         Content-Type: application/pkcs7-signature; name=smime.p7s\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwGggCSABIIB\r\n\
         --B{n}--\r\n"
    )
    .into_bytes()
}

pub use crate::tls::{client_tls, server_tls};

/// Production shape, test speed.
pub fn test_limits() -> ImapLimits {
    ImapLimits {
        auth_failure_delay: Duration::from_millis(20),
        write_timeout: Duration::from_secs(2),
        tls_handshake_timeout: Duration::from_secs(5),
        ..ImapLimits::default()
    }
}

/// A running server; dropping it stops the listener and every session.
pub struct TestServer {
    pub addr: SocketAddr,
    pub backend: Banco,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.task.abort();
    }
}

impl TestServer {
    pub async fn start(mode: TlsMode, limits: ImapLimits) -> TestServer {
        let backend = Banco::new(&[(USER, PASSWORD)]).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, shutdown) = watch::channel(false);
        let config = ImapConfig {
            hostname: "imap.gestore.test".into(),
            mode,
            limits,
        };
        let task = crate::spawn_on!(&backend, |b| async move {
            let _ = serve_imap(listener, server_tls(), config, b, shutdown).await;
        });
        TestServer {
            addr,
            backend,
            stop,
            task,
        }
    }

    pub async fn implicit() -> TestServer {
        Self::start(TlsMode::Implicit, test_limits()).await
    }

    pub async fn deliver(&self, bytes: &[u8]) -> u32 {
        self.backend.deliver(USER, "INBOX", bytes).await
    }

    /// A raw client, TLS from the first byte, greeting read.
    pub async fn client(&self) -> Client {
        let tcp = TcpStream::connect(self.addr).await.expect("connect");
        let connector = tokio_rustls::TlsConnector::from(client_tls());
        let name = ServerName::try_from("localhost").expect("name");
        let tls = connector.connect(name, tcp).await.expect("handshake");
        let mut c = Client {
            stream: Box::new(tls),
            buf: Vec::new(),
        };
        let greeting = c.line().await;
        assert!(greeting.starts_with("* OK"), "{greeting}");
        c
    }

    /// A raw client, logged in, INBOX selected.
    pub async fn selected(&self) -> Client {
        let mut c = self.client().await;
        c.ok(&format!("l LOGIN {USER} {PASSWORD}")).await;
        c.ok("s SELECT INBOX").await;
        c
    }
}

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub struct Client {
    pub stream: Box<dyn Io>,
    buf: Vec<u8>,
}

impl Client {
    pub fn new(stream: impl Io + 'static) -> Self {
        Client {
            stream: Box::new(stream),
            buf: Vec::new(),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
        self.stream.flush().await.expect("flush");
    }

    /// One line without CRLF (panics after [`WAIT`] or at end of stream).
    pub async fn line(&mut self) -> String {
        tokio::time::timeout(WAIT, self.try_line())
            .await
            .expect("reply in time")
            .expect("line before end of stream")
    }

    /// One line, or `None` at end of stream / on error.
    pub async fn try_line(&mut self) -> Option<String> {
        loop {
            if let Some(at) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=at).collect();
                return Some(String::from_utf8_lossy(&line).trim_end().to_string());
            }
            let mut chunk = [0u8; 16384];
            match self.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Sends `line` and collects every line up to the tagged reply (the last one returned).
    pub async fn cmd(&mut self, line: &str) -> Vec<String> {
        let tag = line.split(' ').next().unwrap_or_default().to_string();
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.until_tagged(&tag).await
    }

    pub async fn until_tagged(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let l = self.line().await;
            let done = l.starts_with(&format!("{tag} "));
            lines.push(l);
            if done {
                return lines;
            }
        }
    }

    /// Sends `line` and asserts a tagged OK.
    pub async fn ok(&mut self, line: &str) -> Vec<String> {
        let lines = self.cmd(line).await;
        let last = lines.last().cloned().unwrap_or_default();
        let tag = line.split(' ').next().unwrap_or_default();
        assert!(last.starts_with(&format!("{tag} OK")), "{line} → {lines:?}");
        lines
    }

    /// Reads until the server closes; true if it did within `wait`.
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, async {
            let mut chunk = vec![0u8; 65536];
            loop {
                match self.stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await
        .is_ok()
    }
}

/// Whether `tool` runs; when it does not, the test fails under `GESTORE_REQUIRE_TOOLS=1` and
/// is skipped (with a message) otherwise.
pub fn have_tool(tool: &str) -> bool {
    let found = std::process::Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("GESTORE_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "{tool} is required (GESTORE_REQUIRE_TOOLS=1) but missing"
        );
        eprintln!("skipping: {tool} not installed");
    }
    found
}

/// Runs a Python script with `PORT`, `USER`, `PASSWORD` in its environment; returns stdout,
/// failing the test with stderr if the script fails.
pub async fn python(script: &str, port: u16, extra_env: &[(&str, String)]) -> Vec<u8> {
    let mut cmd = tokio::process::Command::new("python3");
    cmd.arg("-c")
        .arg(script)
        .env("PORT", port.to_string())
        .env("USER_", USER)
        .env("PASSWORD", PASSWORD)
        .kill_on_drop(true);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("python in time")
        .expect("python runs");
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
