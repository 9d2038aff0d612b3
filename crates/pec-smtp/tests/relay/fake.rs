//! The relay client against small fake servers written here: each plays one misbehaviour.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pec_smtp::relay::{self, RcptOutcome, Stage, Timeouts, TlsPolicy};
use pec_smtp::RelayError;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::util::client_tls;

/// A one-connection server running `script`; every line it reads is kept in `seen`.
/// Dropping it stops the server.
struct FakeServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl FakeServer {
    async fn start<F, Fut>(script: F) -> Self
    where
        F: FnOnce(Peer) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let peer_seen = seen.clone();
        let task = tokio::spawn(async move {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            script(Peer {
                io: BufReader::new(socket),
                seen: peer_seen,
            })
            .await;
        });
        FakeServer { addr, seen, task }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().expect("lock").clone()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The server side of one connection.
struct Peer {
    io: BufReader<TcpStream>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Peer {
    async fn send(&mut self, text: &str) {
        let _ = self.io.get_mut().write_all(text.as_bytes()).await;
    }

    /// One line from the client (without CRLF), recorded; `None` at end of stream.
    async fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        let n = self.io.read_line(&mut line).await.ok()?;
        if n == 0 {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        self.seen.lock().expect("lock").push(line.clone());
        Some(line)
    }

    /// Greeting, then answers EHLO with `caps`.
    async fn greet(&mut self, caps: &[&str]) {
        self.send("220 fake.test ESMTP\r\n").await;
        let ehlo = self.line().await.unwrap_or_default();
        assert!(ehlo.starts_with("EHLO "), "{ehlo}");
        let mut reply = String::from("250");
        reply.push(if caps.is_empty() { ' ' } else { '-' });
        reply.push_str("fake.test\r\n");
        for (i, cap) in caps.iter().enumerate() {
            let sep = if i + 1 == caps.len() { ' ' } else { '-' };
            reply.push_str(&format!("250{sep}{cap}\r\n"));
        }
        self.send(&reply).await;
    }

    /// Reads message lines up to the lone `.`.
    async fn data_lines(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Some(line) = self.line().await {
            if line == "." {
                break;
            }
            lines.push(line);
        }
        lines
    }
}

fn quick() -> Timeouts {
    Timeouts::uniform(Duration::from_secs(5))
}

fn rcpts(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

const MESSAGE: &[u8] = b"Subject: t\r\n\r\nbody\r\n";

#[tokio::test]
async fn one_recipient_refused_one_accepted_with_pipelining() {
    let server = FakeServer::start(|mut p| async move {
        p.greet(&["PIPELINING", "SIZE 1000000", "ENHANCEDSTATUSCODES"])
            .await;
        p.line().await; // MAIL
        p.line().await; // RCPT 1
        p.line().await; // RCPT 2
        p.line().await; // DATA
        p.send("250 2.1.0 ok\r\n550 5.1.1 No such user\r\n250 2.1.5 ok\r\n354 go\r\n")
            .await;
        p.data_lines().await;
        p.send("250 2.0.0 queued\r\n").await;
        p.line().await; // QUIT
        p.send("221 bye\r\n").await;
    })
    .await;
    let mut conn = relay::connect(server.addr, "relay.test", TlsPolicy::None, quick())
        .await
        .expect("connect");
    assert!(conn.capabilities().pipelining);
    assert_eq!(conn.capabilities().size, Some(1_000_000));
    let outcomes = conn
        .send("a@gestore.test", &rcpts(&["x@b.test", "y@b.test"]), MESSAGE)
        .await
        .expect("transaction");
    assert_eq!(
        outcomes,
        vec![
            RcptOutcome::Permanent {
                code: 550,
                enhanced: Some("5.1.1".into()),
                text: "No such user".into()
            },
            RcptOutcome::Accepted,
        ]
    );
    conn.quit().await.expect("quit");
    let seen = server.seen();
    assert_eq!(
        seen[1],
        format!("MAIL FROM:<a@gestore.test> SIZE={}", MESSAGE.len())
    );
    assert_eq!(seen[2], "RCPT TO:<x@b.test>");
    assert_eq!(seen[3], "RCPT TO:<y@b.test>");
    assert_eq!(seen[4], "DATA");
}

#[tokio::test]
async fn temporary_failure_at_end_of_data_applies_to_accepted_recipients() {
    let server = FakeServer::start(|mut p| async move {
        p.greet(&[]).await; // no PIPELINING: one command at a time
        p.line().await;
        p.send("250 ok\r\n").await;
        p.line().await;
        p.send("250 ok\r\n").await;
        p.line().await;
        p.send("450 4.2.1 mailbox busy\r\n").await;
        p.line().await;
        p.send("250 ok\r\n").await;
        p.line().await; // DATA
        p.send("354 go\r\n").await;
        p.data_lines().await;
        p.send("451 4.3.0 try later\r\n").await;
        p.line().await;
    })
    .await;
    let mut conn = relay::connect(server.addr, "relay.test", TlsPolicy::None, quick())
        .await
        .expect("connect");
    let outcomes = conn
        .send("", &rcpts(&["x@b.test", "y@b.test", "z@b.test"]), MESSAGE)
        .await
        .expect("transaction");
    let later = RcptOutcome::Temporary {
        code: 451,
        enhanced: Some("4.3.0".into()),
        text: "try later".into(),
    };
    let busy = RcptOutcome::Temporary {
        code: 450,
        enhanced: Some("4.2.1".into()),
        text: "mailbox busy".into(),
    };
    assert_eq!(outcomes, vec![later.clone(), busy, later]);
    assert_eq!(server.seen()[1], "MAIL FROM:<>");
}

#[tokio::test]
async fn refused_mail_from_without_pipelining_sends_no_rcpt() {
    let server = FakeServer::start(|mut p| async move {
        p.greet(&[]).await;
        p.line().await;
        p.send("553 5.7.1 sender refused\r\n").await;
        p.line().await;
    })
    .await;
    let mut conn = relay::connect(server.addr, "relay.test", TlsPolicy::None, quick())
        .await
        .expect("connect");
    let outcomes = conn
        .send("a@gestore.test", &rcpts(&["x@b.test", "y@b.test"]), MESSAGE)
        .await
        .expect("transaction");
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, RcptOutcome::Permanent { code: 553, .. })));
    assert_eq!(outcomes.len(), 2);
    conn.quit().await.ok();
    assert!(!server.seen().iter().any(|l| l.starts_with("RCPT")));
}

#[tokio::test]
async fn server_closing_mid_data_is_an_error_and_kills_the_connection() {
    let server = FakeServer::start(|mut p| async move {
        p.greet(&["PIPELINING"]).await;
        for _ in 0..3 {
            p.line().await;
        }
        p.send("250 ok\r\n250 ok\r\n354 go\r\n").await;
        p.line().await; // one line of the message, then hang up
    })
    .await;
    let mut conn = relay::connect(server.addr, "relay.test", TlsPolicy::None, quick())
        .await
        .expect("connect");
    let big = "x".repeat(70).repeat(20_000) + "\r\n";
    let err = conn
        .send("a@gestore.test", &rcpts(&["x@b.test"]), big.as_bytes())
        .await
        .expect_err("peer hung up");
    assert!(
        matches!(
            err,
            RelayError::Closed(Stage::DataEnd) | RelayError::Io { .. }
        ),
        "{err}"
    );
    let again = conn
        .send("a@gestore.test", &rcpts(&["x@b.test"]), MESSAGE)
        .await;
    assert!(matches!(again, Err(RelayError::Dead)), "{again:?}");
}

#[tokio::test]
async fn silent_server_times_out_quickly() {
    let server = FakeServer::start(|mut p| async move {
        // Accepts, never greets; holds the socket open.
        let _ = p.line().await;
    })
    .await;
    let started = Instant::now();
    let err = relay::connect(
        server.addr,
        "relay.test",
        TlsPolicy::None,
        Timeouts::uniform(Duration::from_millis(300)),
    )
    .await
    .expect_err("no greeting");
    assert!(matches!(err, RelayError::Timeout(Stage::Greeting)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(err.to_string(), "timed out during greeting");
}

#[tokio::test]
async fn required_tls_without_starttls_sends_no_mail() {
    let server = FakeServer::start(|mut p| async move {
        p.greet(&["PIPELINING", "SIZE 100"]).await;
        while let Some(line) = p.line().await {
            if line == "QUIT" {
                p.send("221 bye\r\n").await;
            } else {
                p.send("250 ok\r\n").await;
            }
        }
    })
    .await;
    let name = ServerName::try_from("localhost").expect("name");
    let err = relay::connect(
        server.addr,
        "relay.test",
        TlsPolicy::Required(client_tls(), name),
        quick(),
    )
    .await
    .expect_err("TLS required");
    assert!(matches!(err, RelayError::StartTlsNotOffered), "{err}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let seen = server.seen();
    assert!(seen[0].starts_with("EHLO"), "{seen:?}");
    assert!(!seen.iter().any(|l| l.starts_with("MAIL")), "{seen:?}");
}

#[tokio::test]
async fn opportunistic_tls_falls_back_to_plain_when_not_offered() {
    let server = FakeServer::start(|mut p| async move {
        p.greet(&["8BITMIME"]).await;
        p.line().await;
        p.send("250 ok\r\n").await;
        p.line().await;
        p.send("250 ok\r\n").await;
        p.line().await;
        p.send("354 go\r\n").await;
        p.data_lines().await;
        p.send("250 ok\r\n").await;
        p.line().await;
    })
    .await;
    let name = ServerName::try_from("localhost").expect("name");
    let mut conn = relay::connect(
        server.addr,
        "relay.test",
        TlsPolicy::Opportunistic(client_tls(), name),
        quick(),
    )
    .await
    .expect("plain session");
    assert!(!conn.is_tls());
    let outcomes = conn
        .send(
            "a@x.test",
            &rcpts(&["b@y.test"]),
            "Subject: è\r\n\r\n".as_bytes(),
        )
        .await
        .expect("transaction");
    assert_eq!(outcomes, vec![RcptOutcome::Accepted]);
    assert_eq!(server.seen()[1], "MAIL FROM:<a@x.test> BODY=8BITMIME");
}

#[tokio::test]
async fn endless_reply_line_is_cut_off() {
    let server = FakeServer::start(|mut p| async move {
        let junk = vec![b'a'; 64 * 1024];
        // Up to 64 MiB without a line end, unless the client gives up first.
        for _ in 0..1024 {
            if p.io.get_mut().write_all(&junk).await.is_err() {
                break;
            }
        }
    })
    .await;
    let err = relay::connect(server.addr, "relay.test", TlsPolicy::None, quick())
        .await
        .expect_err("bounded");
    assert!(
        matches!(err, RelayError::ReplyTooLong(Stage::Greeting)),
        "{err}"
    );
}

#[tokio::test]
async fn endless_multi_line_reply_is_cut_off() {
    let server = FakeServer::start(|mut p| async move {
        p.send("220 hi\r\n").await;
        p.line().await;
        for _ in 0..100_000 {
            if p.io.get_mut().write_all(b"250-x\r\n").await.is_err() {
                break;
            }
        }
    })
    .await;
    let err = relay::connect(server.addr, "relay.test", TlsPolicy::None, quick())
        .await
        .expect_err("bounded");
    assert!(
        matches!(err, RelayError::TooManyReplyLines(Stage::Ehlo)),
        "{err}"
    );
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let err = relay::connect(addr, "relay.test", TlsPolicy::None, quick())
        .await
        .expect_err("nobody listens");
    assert!(matches!(err, RelayError::Connect { .. }), "{err}");
    assert!(err
        .to_string()
        .starts_with(&format!("connecting to {addr}")));
}

#[tokio::test]
async fn injected_address_is_refused_before_sending() {
    let server = FakeServer::start(|mut p| async move {
        p.greet(&[]).await;
        while p.line().await.is_some() {}
    })
    .await;
    let mut conn = relay::connect(server.addr, "relay.test", TlsPolicy::None, quick())
        .await
        .expect("connect");
    let err = conn
        .send(
            "a@x.test",
            &rcpts(&["b@y.test>\r\nRCPT TO:<c@z.test"]),
            MESSAGE,
        )
        .await
        .expect_err("invalid");
    assert!(matches!(err, RelayError::InvalidInput(_)), "{err}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!server.seen().iter().any(|l| l.starts_with("MAIL")));
}

#[tokio::test]
async fn refusal_at_data_command_applies_to_accepted_and_next_transaction_resets() {
    let server = FakeServer::start(|mut p| async move {
        p.greet(&["PIPELINING"]).await;
        for _ in 0..3 {
            p.line().await;
        }
        p.send("250 ok\r\n250 ok\r\n554 5.6.0 no thanks\r\n").await;
        // Second transaction: RSET first, then the pipelined batch.
        for _ in 0..4 {
            p.line().await;
        }
        p.send("250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n").await;
        p.data_lines().await;
        p.send("250 ok\r\n").await;
        p.line().await;
    })
    .await;
    let mut conn = relay::connect(server.addr, "relay.test", TlsPolicy::None, quick())
        .await
        .expect("connect");
    let to = rcpts(&["x@b.test"]);
    let outcomes = conn.send("a@x.test", &to, MESSAGE).await.expect("first");
    assert_eq!(
        outcomes,
        vec![RcptOutcome::Permanent {
            code: 554,
            enhanced: Some("5.6.0".into()),
            text: "no thanks".into()
        }]
    );
    let outcomes = conn.send("a@x.test", &to, MESSAGE).await.expect("second");
    assert_eq!(outcomes, vec![RcptOutcome::Accepted]);
    let seen = server.seen();
    assert_eq!(seen[4], "RSET", "{seen:?}");
    assert_eq!(seen[5], "MAIL FROM:<a@x.test>");
}

#[tokio::test]
async fn without_pipelining_rset_waits_for_its_reply() {
    let server = FakeServer::start(|mut p| async move {
        p.greet(&[]).await;
        p.line().await; // MAIL
        p.send("250 ok\r\n").await;
        p.line().await; // RCPT
        p.send("550 5.1.1 unknown\r\n").await;
        // The client must now RSET and wait, before MAIL.
        p.line().await;
        let mut peek = [0u8; 64];
        let pending =
            tokio::time::timeout(Duration::from_millis(200), p.io.get_mut().peek(&mut peek))
                .await
                .map_or(0, |n| n.unwrap_or(0));
        let early = p.io.buffer().len() + pending;
        p.seen
            .lock()
            .expect("lock")
            .push(format!("sent before the RSET reply: {early}"));
        p.send("250 reset\r\n").await;
        p.line().await; // MAIL
        p.send("250 ok\r\n").await;
        p.line().await; // RCPT
        p.send("250 ok\r\n").await;
        p.line().await; // DATA
        p.send("354 go\r\n").await;
        p.data_lines().await;
        p.send("250 ok\r\n").await;
        p.line().await;
    })
    .await;
    let mut conn = relay::connect(server.addr, "relay.test", TlsPolicy::None, quick())
        .await
        .expect("connect");
    let outcomes = conn
        .send("a@x.test", &rcpts(&["x@b.test"]), MESSAGE)
        .await
        .expect("first");
    assert!(matches!(
        outcomes[..],
        [RcptOutcome::Permanent { code: 550, .. }]
    ));
    let outcomes = conn
        .send("a@x.test", &rcpts(&["y@b.test"]), MESSAGE)
        .await
        .expect("second");
    assert_eq!(outcomes, vec![RcptOutcome::Accepted]);
    let seen = server.seen();
    assert_eq!(seen[3], "RSET", "{seen:?}");
    assert_eq!(seen[4], "sent before the RSET reply: 0", "{seen:?}");
    assert_eq!(seen[5], "MAIL FROM:<a@x.test>", "{seen:?}");
}
