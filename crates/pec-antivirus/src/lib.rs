//! Antivirus adapter of gestore: asks a ClamAV daemon (clamd) whether bytes carry a virus.
//!
//! PEC-SPEC §9.3 wants a continuously updated antivirus at the access point (outbound) and at the
//! receiving point (inbound). This crate is the part that talks to the scanner: a [`Scanner`]
//! opens one connection to clamd per scan (Unix socket or TCP), streams the bytes with clamd's
//! `INSTREAM` command and turns the one-line reply into a [`Verdetto`].
//!
//! # Invariant: an unanswered scan is never "clean"
//!
//! Every way a scan can fail — clamd down or unreachable, the connection lost mid-scan, no reply
//! within the timeout, clamd's own `... ERROR` (including "INSTREAM size limit exceeded"), a reply
//! we cannot read — is a [`ScanError`], never [`Verdetto::Pulito`]. The caller keeps the message
//! queued (4xx at SMTP time); whether a size-limit refusal should rather be a permanent decision
//! is the caller's choice, so it is a variant of its own ([`ScanError::SizeLimit`]).
//!
//! # What it does not do (yet)
//!
//! No wiring into the access and receiving points, no avviso di non accettazione / rilevazione
//! virus / mancata consegna per virus (PEC-SPEC §4.5, §4.10, §4.11), no 30-month quarantine, no
//! per-point configuration: those come with the rest of issue 6 and live in pec-core (the
//! decisions), pec-store (the quarantine) and gestore (the config). It does not manage clamd
//! either: `scripts/clamd` starts a private one for the tests, production runs its own.
//!
//! # Design choice: our own 150-line INSTREAM client instead of `clamav-client`
//!
//! `clamav-client` (the crate ARCHITECTURE.md names) builds with our tokio, but it reads clamd's
//! reply with `read_to_end` into an unbounded buffer, writes the whole stream before reading, so a
//! clamd that refuses the stream early ("size limit exceeded", then close) surfaces as a bare
//! broken pipe instead of its reply, and it has no timeout. The protocol is small (`zINSTREAM\0`,
//! chunks each preceded by a 4-byte big-endian length, a zero length to end, one NUL-terminated
//! reply), so we write it here: the reply is read while we send, bounded to [`MAX_REPLY`] bytes,
//! and the whole exchange runs under one deadline. Cost: we maintain the protocol code ourselves.
#![deny(missing_docs)]

mod reply;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

pub use reply::MAX_REPLY;

/// A stream to clamd, whichever transport.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// What clamd found in the bytes it scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdetto {
    /// clamd scanned every byte and matched no signature (`stream: OK`).
    Pulito,
    /// clamd matched a signature (`stream: <nome> FOUND`). With `AlertExceedsMax` (see
    /// docs/configuration.md) also what clamd could not scan within its limits, e.g. a zip
    /// bomb: `Heuristics.Limits.Exceeded.MaxScanSize`, never [`Verdetto::Pulito`].
    Infetto {
        /// The signature name as clamd reports it, e.g. `Gestore.Test.Virus.UNOFFICIAL`: the
        /// "id of the detected content" the virus notices quote (PEC-SPEC §4.5, §4.10).
        nome: String,
    },
}

/// Where clamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClamdAddr {
    /// A Unix stream socket (clamd's `LocalSocket`).
    Unix(PathBuf),
    /// A TCP address `host:port` (clamd's `TCPAddr` + `TCPSocket`), resolved at each scan.
    Tcp(String),
}

impl fmt::Display for ClamdAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClamdAddr::Unix(path) => write!(f, "unix:{}", path.display()),
            ClamdAddr::Tcp(addr) => write!(f, "tcp:{addr}"),
        }
    }
}

/// Why a scan gave no verdict. Every variant means "not scanned": the fault is ours or the
/// scanner's, never the user's, so the caller retries later (4xx), it never passes the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// No connection could be opened (clamd down, socket missing, port closed).
    #[error("clamd at {addr} is unreachable: {source}")]
    Unreachable {
        /// The address tried.
        addr: ClamdAddr,
        /// The connect error.
        source: io::Error,
    },
    /// The connection broke, or clamd closed it, before a complete reply.
    #[error("clamd at {addr} dropped the connection: {reason}")]
    ConnectionLost {
        /// The address used.
        addr: ClamdAddr,
        /// What happened (the I/O error, or "closed without a reply").
        reason: String,
    },
    /// No complete reply within the scanner's timeout.
    #[error("clamd at {addr} did not answer within {timeout:?}")]
    Timeout {
        /// The address used.
        addr: ClamdAddr,
        /// The deadline that passed (connect, send and reply together).
        timeout: Duration,
    },
    /// clamd refused the stream: it is longer than its `StreamMaxLength`.
    #[error("clamd at {addr} refused the stream: longer than its StreamMaxLength")]
    SizeLimit {
        /// The address used.
        addr: ClamdAddr,
    },
    /// clamd answered with an error of its own (`... ERROR`), e.g. out of memory or a scan limit.
    #[error("clamd at {addr} reported an error: {reply}")]
    Clamd {
        /// The address used.
        addr: ClamdAddr,
        /// clamd's reply, without the trailing NUL.
        reply: String,
    },
    /// clamd's reply was not one we know, or longer than [`MAX_REPLY`] bytes.
    #[error("clamd at {addr} sent an unexpected reply: {reply:?}")]
    BadReply {
        /// The address used.
        addr: ClamdAddr,
        /// The reply, cut to [`MAX_REPLY`] bytes, lossily decoded.
        reply: String,
    },
}

/// A client of one clamd. Cheap to clone; opens one connection per call.
#[derive(Debug, Clone)]
pub struct Scanner {
    /// Where clamd listens.
    addr: ClamdAddr,
    /// Deadline of one whole call (connect, send, reply): a scanner that hangs must not hold
    /// a message (or an SMTP session) forever.
    timeout: Duration,
}

/// Size of the chunks sent to clamd: large enough to keep syscalls few, small enough that a
/// refused stream is noticed early.
const CHUNK: usize = 64 * 1024;

impl Scanner {
    /// Default deadline of one call: 60 s, enough for a 50 MB message on a loaded clamd.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

    /// A scanner for the clamd at `addr`, with [`Scanner::DEFAULT_TIMEOUT`].
    pub fn new(addr: ClamdAddr) -> Self {
        Scanner {
            addr,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// The same scanner with another deadline for each call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Where this scanner sends its requests.
    pub fn addr(&self) -> &ClamdAddr {
        &self.addr
    }

    /// Scans `bytes` (e.g. a whole RFC 5322 message: clamd decodes MIME parts itself).
    pub async fn scan(&self, bytes: &[u8]) -> Result<Verdetto, ScanError> {
        self.scan_reader(bytes).await
    }

    /// Scans what `reader` yields until its end, without holding it all in memory.
    /// An error reading `reader` is reported as [`ScanError::ConnectionLost`] (nothing scanned).
    pub async fn scan_reader<R: AsyncRead + Unpin>(
        &self,
        reader: R,
    ) -> Result<Verdetto, ScanError> {
        let reply = self
            .deadline(async { self.instream(self.connect().await?, reader).await })
            .await?;
        reply::parse_scan(&reply, &self.addr)
    }

    /// Checks that clamd answers `PING` with `PONG`.
    pub async fn ping(&self) -> Result<(), ScanError> {
        let reply = self
            .deadline(async { self.command(self.connect().await?, b"zPING\0").await })
            .await?;
        reply::parse_ping(&reply, &self.addr)
    }

    /// A connection to clamd, over TCP or its Unix socket.
    async fn connect(&self) -> Result<Box<dyn Io>, ScanError> {
        let stream: Box<dyn Io> = match &self.addr {
            ClamdAddr::Tcp(addr) => Box::new(
                TcpStream::connect(addr.as_str())
                    .await
                    .map_err(|e| self.unreachable(e))?,
            ),
            ClamdAddr::Unix(path) => {
                Box::new(connect_unix(path).await.map_err(|e| self.unreachable(e))?)
            }
        };
        Ok(stream)
    }

    async fn deadline<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, ScanError>>,
    ) -> Result<T, ScanError> {
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| ScanError::Timeout {
                addr: self.addr.clone(),
                timeout: self.timeout,
            })?
    }

    fn unreachable(&self, source: io::Error) -> ScanError {
        ScanError::Unreachable {
            addr: self.addr.clone(),
            source,
        }
    }

    fn lost(&self, reason: impl fmt::Display) -> ScanError {
        ScanError::ConnectionLost {
            addr: self.addr.clone(),
            reason: reason.to_string(),
        }
    }

    /// Sends a one-word command and reads its reply.
    async fn command<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut stream: S,
        command: &[u8],
    ) -> Result<Vec<u8>, ScanError> {
        stream.write_all(command).await.map_err(|e| self.lost(e))?;
        stream.flush().await.map_err(|e| self.lost(e))?;
        self.read_reply(&mut stream).await
    }

    /// `zINSTREAM\0`, then chunks, then a zero length; the reply is read while sending, so an
    /// early refusal (size limit) is seen even when clamd closes before we finish writing.
    async fn instream<S: AsyncRead + AsyncWrite + Unpin, R: AsyncRead + Unpin>(
        &self,
        stream: S,
        reader: R,
    ) -> Result<Vec<u8>, ScanError> {
        let (mut rx, mut tx) = tokio::io::split(stream);
        let send = send_stream(&mut tx, reader);
        let receive = self.read_reply(&mut rx);
        tokio::pin!(send);
        tokio::pin!(receive);
        let mut send_error: Option<SendError> = None;
        let mut sending = true;
        loop {
            tokio::select! {
                reply = &mut receive => {
                    return match (reply, send_error) {
                        // A reply of clamd wins over our write error (it explains it).
                        (Ok(reply), _) => Ok(reply),
                        // Reading our own input failed: nothing was scanned.
                        (Err(_), Some(SendError::Input(e))) => {
                            Err(self.lost(format_args!("reading the input to scan: {e}")))
                        }
                        (Err(_), Some(SendError::Clamd(e))) => Err(self.lost(e)),
                        (Err(e), None) => Err(e),
                    };
                }
                sent = &mut send, if sending => {
                    sending = false;
                    match sent {
                        Ok(()) => {}
                        // Our input failed: clamd would scan a truncated stream, stop here.
                        Err(SendError::Input(e)) => {
                            return Err(self.lost(format_args!("reading the input to scan: {e}")));
                        }
                        // clamd stopped reading: its reply (if any) tells why.
                        Err(e @ SendError::Clamd(_)) => send_error = Some(e),
                    }
                }
            }
        }
    }

    /// Reads one NUL-terminated reply, at most [`MAX_REPLY`] bytes.
    async fn read_reply<S: AsyncRead + Unpin>(&self, rx: &mut S) -> Result<Vec<u8>, ScanError> {
        let mut reply = Vec::with_capacity(64);
        let mut buf = [0u8; 512];
        loop {
            let n = rx.read(&mut buf).await.map_err(|e| self.lost(e))?;
            if n == 0 {
                // clamd ends replies with NUL; a reply cut by EOF is still read (older clamd
                // versions end some errors with a newline), an empty one is a lost connection.
                return if reply.is_empty() {
                    Err(self.lost("closed without a reply"))
                } else {
                    Ok(reply)
                };
            }
            let data = &buf[..n];
            if let Some(end) = data.iter().position(|&b| b == 0) {
                reply.extend_from_slice(&data[..end]);
                return Ok(reply);
            }
            reply.extend_from_slice(data);
            if reply.len() > MAX_REPLY {
                reply.truncate(MAX_REPLY);
                return Err(ScanError::BadReply {
                    addr: self.addr.clone(),
                    reply: format!(
                        "{} (over {MAX_REPLY} bytes)",
                        String::from_utf8_lossy(&reply)
                    ),
                });
            }
        }
    }
}

/// Where sending the stream failed.
enum SendError {
    /// Reading the caller's input.
    Input(io::Error),
    /// Writing to clamd.
    Clamd(io::Error),
}

async fn send_stream<W: AsyncWrite + Unpin, R: AsyncRead + Unpin>(
    tx: &mut W,
    mut reader: R,
) -> Result<(), SendError> {
    tx.write_all(b"zINSTREAM\0")
        .await
        .map_err(SendError::Clamd)?;
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = reader.read(&mut chunk).await.map_err(SendError::Input)?;
        if n == 0 {
            break;
        }
        // n <= CHUNK (64 KiB): the conversion cannot fail, but never send a wrong length.
        let len = u32::try_from(n)
            .map_err(|_| SendError::Input(io::Error::other("chunk longer than 4 GiB")))?
            .to_be_bytes();
        tx.write_all(&len).await.map_err(SendError::Clamd)?;
        tx.write_all(&chunk[..n]).await.map_err(SendError::Clamd)?;
    }
    tx.write_all(&[0, 0, 0, 0])
        .await
        .map_err(SendError::Clamd)?;
    tx.flush().await.map_err(SendError::Clamd)
}

#[cfg(unix)]
async fn connect_unix(path: &std::path::Path) -> io::Result<tokio::net::UnixStream> {
    tokio::net::UnixStream::connect(path).await
}

#[cfg(not(unix))]
async fn connect_unix(_path: &std::path::Path) -> io::Result<TcpStream> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "Unix sockets are not available on this platform",
    ))
}
