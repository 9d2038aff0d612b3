//! clamd lost in the middle of a scan, end to end (issue 6: a scanner that gives no verdict
//! ⇒ SMTP 451, nothing stored, never passed unscanned; PEC-SPEC §9.3).
//!
//! gestore's `[antivirus] clamd` points at a [`Front`]: a TCP server of the test standing
//! where clamd would. Depending on its [`Mode`] it drops the connection after part of the
//! INSTREAM (a clamd that dies), forwards to a real clamd and SIGKILLs it after part of the
//! stream, or forwards everything (clamd is back). The cut happens after a number of bytes,
//! never after a time, so every run cuts at the same place.

use crate::between::deliver_inbound;
use crate::provider::*;
use crate::support::*;
use crate::virus::{antivirus, attached, started, Clamd};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the front does with the next connections.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// Reads this many bytes of what gestore sends, then closes the connection.
    DropAfter(u64),
    /// Forwards this many bytes to the real clamd, SIGKILLs it, then closes the connection.
    KillAfter(u64),
    /// Forwards everything both ways: a working clamd.
    Forward,
}

/// A stand-in for clamd on a free loopback port; its thread ends when it is dropped.
struct Front {
    /// `127.0.0.1:port`, for `[antivirus] clamd`.
    addr: String,
    mode: Arc<Mutex<Mode>>,
    /// Connections cut by [`Mode::DropAfter`] or [`Mode::KillAfter`], counted before the cut.
    cuts: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

/// Where the real clamd is, for the forwarding modes.
#[derive(Clone)]
struct Upstream {
    socket: PathBuf,
    pid_file: PathBuf,
}

impl Front {
    fn start(clamd: &Clamd, mode: Mode) -> Front {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let upstream = Upstream {
            socket: PathBuf::from(&clamd.socket),
            pid_file: clamd.pid_file(),
        };
        let mode = Arc::new(Mutex::new(mode));
        let cuts = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (mode, cuts, stop) = (mode.clone(), cuts.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let now = *mode.lock().unwrap();
                    let (upstream, cuts) = (upstream.clone(), cuts.clone());
                    std::thread::spawn(move || serve(conn, now, &upstream, &cuts));
                }
            })
        };
        Front {
            addr,
            mode,
            cuts,
            stop,
            accept: Some(accept),
        }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn cuts(&self) -> usize {
        self.cuts.load(Ordering::SeqCst)
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then sees `stop`.
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// One connection from gestore's scanner.
fn serve(client: TcpStream, mode: Mode, upstream: &Upstream, cuts: &AtomicUsize) {
    match mode {
        Mode::DropAfter(n) => {
            let _ = std::io::copy(&mut (&client).take(n), &mut std::io::sink());
            cuts.fetch_add(1, Ordering::SeqCst);
            // Closing with unread bytes: the scanner sees a reset, as from a dead clamd.
            let _ = client.shutdown(Shutdown::Both);
        }
        Mode::KillAfter(n) => {
            let Ok(clamd) = UnixStream::connect(&upstream.socket) else {
                return; // the scanner sees the connection closed without a reply
            };
            let back = reply_to(&client, &clamd);
            let _ = std::io::copy(&mut (&client).take(n), &mut &clamd);
            kill9(&upstream.pid_file);
            cuts.fetch_add(1, Ordering::SeqCst);
            let _ = clamd.shutdown(Shutdown::Both);
            let _ = client.shutdown(Shutdown::Both);
            let _ = back.join();
        }
        Mode::Forward => {
            let Ok(clamd) = UnixStream::connect(&upstream.socket) else {
                return;
            };
            let back = reply_to(&client, &clamd);
            let _ = std::io::copy(&mut &client, &mut &clamd);
            let _ = clamd.shutdown(Shutdown::Write);
            let _ = back.join();
        }
    }
}

/// Copies clamd's reply to the client in a thread of its own.
fn reply_to(client: &TcpStream, clamd: &UnixStream) -> JoinHandle<()> {
    let (mut client, mut clamd) = (client.try_clone().unwrap(), clamd.try_clone().unwrap());
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut clamd, &mut client);
        let _ = client.flush();
        let _ = client.shutdown(Shutdown::Write);
    })
}

/// SIGKILLs the clamd of `pid_file` and waits until it is gone (a zombie counts as gone).
fn kill9(pid_file: &std::path::Path) {
    let pid = std::fs::read_to_string(pid_file).unwrap();
    let pid = pid.trim();
    let status = Command::new("kill").args(["-KILL", pid]).status().unwrap();
    assert!(status.success(), "kill -KILL {pid}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while running(pid) {
        assert!(Instant::now() < deadline, "clamd {pid} survived SIGKILL");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// True while `pid` runs (not gone, not a zombie).
fn running(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z')
        })
        .unwrap_or(false)
}

/// A clean message of about 4 MB (3 MB attachment): long enough that the front cuts it.
fn large(from: &str, to: &str, subject: &str) -> String {
    let bytes: Vec<u8> = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit. "
        .iter()
        .copied()
        .cycle()
        .take(3 << 20)
        .collect();
    attached(from, to, subject, "relazione.txt", &bytes)
}

/// The submission and the inbound message of these tests.
struct Messages {
    submission: String,
    inbound: String,
}

impl Messages {
    fn new() -> Self {
        Messages {
            submission: large(&addr("mario"), &addr("anna"), "grande"),
            inbound: large("x@example.org", &addr("anna"), "fuori"),
        }
    }

    /// Submits as mario; the SMTP outcome.
    fn submit(&self, p: &Provider) -> std::process::Output {
        smtplib(p.submission, "mario", &[addr("anna")], &self.submission)
    }

    /// Sends ordinary mail to anna's receiving point; the SMTP outcome.
    fn receive(&self, p: &Provider) -> std::process::Output {
        deliver_inbound(p, "x@example.org", &addr("anna"), self.inbound.as_bytes())
    }
}

/// The SMTP client was told to retry: 451 and why.
fn assert_retry(out: &std::process::Output, what: &str) {
    assert!(!out.status.success(), "{what}: accepted without a verdict");
    let err = text(&out.stderr);
    assert!(err.contains("451"), "{what}: {err}");
    assert!(err.contains("virus scanner unavailable"), "{what}: {err}");
}

/// Nothing was taken in: no event at all since the start.
fn assert_nothing_taken(p: &Provider) {
    for tipo in [
        "invio-ricevuto",
        "accettazione-emessa",
        "busta-emessa",
        "anomalia-emessa",
        "non-accettazione-emessa",
        "virus-rilevato",
        "messaggio-rifiutato",
    ] {
        assert!(p.events(tipo).is_empty(), "{tipo}: {:?}", p.events(tipo));
    }
}

/// With clamd working again, the same two messages are accepted: the server kept running.
/// Then, once stopped, each is stored exactly once (the cut attempts left nothing).
fn assert_accepted_once_clamd_is_back(p: &mut Provider, m: &Messages) {
    let out = m.submit(p);
    assert!(out.status.success(), "submission: {}", text(&out.stderr));
    let out = m.receive(p);
    assert!(out.status.success(), "inbound: {}", text(&out.stderr));
    p.wait_events("consegna-emessa", 1);
    p.wait_events("anomalia-emessa", 1);
    p.stop();
    assert_eq!(p.events("invio-ricevuto").len(), 1);
    let anna = p.messages("anna", "INBOX");
    assert_eq!(
        anna.len(),
        2,
        "anna: the message and the ordinary mail, once each"
    );
    assert_eq!(
        anna.iter()
            .filter(|m| find(m, b"Subject: POSTA CERTIFICATA: grande").is_some())
            .count(),
        1
    );
    assert_eq!(
        anna.iter()
            .filter(|m| find(m, b"ANOMALIA MESSAGGIO: fuori").is_some())
            .count(),
        1
    );
    assert_eq!(
        p.messages("mario", "INBOX").len(),
        2,
        "mario: accettazione, consegna"
    );
    assert!(p.messages("posta-certificata", "Quarantena").is_empty());
}

#[test]
fn a_clamd_that_drops_the_stream_gives_451_and_the_retry_passes_once_it_is_back() {
    let Some(clamd) = Clamd::start() else { return };
    // Cut after 64 KiB of a stream of more than 4 MB.
    let front = Front::start(&clamd, Mode::DropAfter(64 << 10));
    let mut p = started(&antivirus(&front.addr, true));
    let m = Messages::new();
    assert_retry(&m.submit(&p), "submission");
    assert_eq!(front.cuts(), 1, "the submission's scan was cut");
    assert_retry(&m.receive(&p), "inbound");
    assert_eq!(front.cuts(), 2, "the inbound message's scan was cut");
    assert_nothing_taken(&p);

    front.set(Mode::Forward);
    assert_accepted_once_clamd_is_back(&mut p, &m);
    assert_eq!(front.cuts(), 2);
}

#[test]
fn clamd_killed_mid_stream_gives_451_and_the_retry_passes_once_it_is_restarted() {
    let Some(mut clamd) = Clamd::start() else {
        return;
    };
    // SIGKILL after 1 MiB of a stream of more than 4 MB has reached the real clamd.
    let front = Front::start(&clamd, Mode::KillAfter(1 << 20));
    let mut p = started(&antivirus(&front.addr, true));
    let m = Messages::new();
    assert_retry(&m.submit(&p), "submission");
    assert_eq!(front.cuts(), 1, "clamd killed during the submission's scan");
    clamd.restart();
    assert_retry(&m.receive(&p), "inbound");
    assert_eq!(
        front.cuts(),
        2,
        "clamd killed during the inbound message's scan"
    );
    assert_nothing_taken(&p);

    clamd.restart();
    front.set(Mode::Forward);
    assert_accepted_once_clamd_is_back(&mut p, &m);
    assert_eq!(front.cuts(), 2);
}
