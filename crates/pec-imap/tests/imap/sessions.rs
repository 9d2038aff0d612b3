//! Two sessions on one box see each other's deliveries, flags and expunges.

use std::time::Duration;

use pec_imap::{ImapLimits, TlsMode};
use tokio::net::TcpStream;

use crate::util::{sample_message, test_limits, Client, TestServer};

#[tokio::test]
async fn idle_session_sees_delivery_flags_and_expunge_from_another() {
    let server = TestServer::implicit().await;
    server.deliver(&sample_message(1)).await;
    server.deliver(&sample_message(2)).await;
    let mut a = server.selected().await;
    let mut b = server.selected().await;
    b.send(b"i IDLE\r\n").await;
    assert!(b.line().await.starts_with('+'));

    server.deliver(&sample_message(3)).await;
    assert_eq!(b.line().await, "* 3 EXISTS");
    assert_eq!(b.line().await, "* 0 RECENT");

    a.ok("a1 STORE 1 +FLAGS (\\Flagged)").await;
    assert_eq!(b.line().await, "* 1 FETCH (UID 1 FLAGS (\\Flagged))");

    a.ok("a2 STORE 2 +FLAGS.SILENT (\\Deleted)").await;
    assert_eq!(b.line().await, "* 2 FETCH (UID 2 FLAGS (\\Deleted))");
    let expunge = a.ok("a3 EXPUNGE").await;
    assert!(expunge.contains(&"* 2 EXPUNGE".to_string()), "{expunge:?}");
    assert_eq!(b.line().await, "* 2 EXPUNGE");

    b.send(b"DONE\r\n").await;
    assert!(b.line().await.starts_with("i OK"));
    let lines = b.ok("f FETCH 1:* (UID)").await;
    assert_eq!(lines[..2], ["* 1 FETCH (UID 1)", "* 2 FETCH (UID 3)"]);
}

#[tokio::test]
async fn expunge_by_another_session_waits_during_fetch_and_shows_at_noop() {
    let server = TestServer::implicit().await;
    for n in 1..=3 {
        server.deliver(&sample_message(n)).await;
    }
    let mut a = server.selected().await;
    let mut b = server.selected().await;
    a.ok("a1 STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    a.ok("a2 EXPUNGE").await;
    // RFC 3501 §7.4.1: no EXPUNGE during FETCH; message numbers stay as B knows them.
    let fetched = b.ok("b1 FETCH 3 (UID)").await;
    assert!(
        fetched.iter().all(|l| !l.contains("EXPUNGE")),
        "{fetched:?}"
    );
    assert!(
        fetched.contains(&"* 3 FETCH (UID 3)".to_string()),
        "{fetched:?}"
    );
    let noop = b.ok("b2 NOOP").await;
    assert!(noop.contains(&"* 1 EXPUNGE".to_string()), "{noop:?}");
    let after = b.ok("b3 FETCH 2 (UID)").await;
    assert!(
        after.contains(&"* 2 FETCH (UID 3)".to_string()),
        "{after:?}"
    );
}

#[tokio::test]
async fn examine_is_read_only_and_fetch_body_does_not_set_seen() {
    let server = TestServer::implicit().await;
    server.deliver(&sample_message(1)).await;
    let mut c = server.client().await;
    c.ok(&format!(
        "l LOGIN {} {}",
        crate::util::USER,
        crate::util::PASSWORD
    ))
    .await;
    let ex = c.ok("e EXAMINE INBOX").await;
    assert!(
        ex.last().is_some_and(|l| l.contains("[READ-ONLY]")),
        "{ex:?}"
    );
    c.ok("f FETCH 1 BODY[]").await;
    let flags = c.ok("g FETCH 1 FLAGS").await;
    assert_eq!(flags[0], "* 1 FETCH (FLAGS ())");
    let store = c.cmd("s STORE 1 +FLAGS (\\Seen)").await;
    assert!(
        store.last().is_some_and(|l| l.starts_with("s NO")),
        "{store:?}"
    );
    c.ok("x SELECT INBOX").await;
    let body = c.ok("f FETCH 1 BODY[]").await;
    assert!(body.iter().any(|l| l.contains("\\Seen")), "{body:?}");
}

#[tokio::test]
async fn size_and_internaldate_come_from_the_backend() {
    let server = TestServer::implicit().await;
    let small = sample_message(1);
    let mut big = sample_message(2);
    big.resize(big.len() + 5000, b'x');
    server.deliver(&small).await;
    server.deliver(&big).await;
    let mut c = server.selected().await;
    let lines = c.ok("f FETCH 1:* FAST").await;
    assert!(
        lines[0].contains(&format!("RFC822.SIZE {}", small.len())),
        "{lines:?}"
    );
    assert!(
        lines[1].contains(&format!("RFC822.SIZE {}", big.len())),
        "{lines:?}"
    );
    assert!(lines[0].contains("INTERNALDATE \""), "{lines:?}");
    assert!(!lines[0].contains("1970"), "{lines:?}");
    let found = c.ok(&format!("s SEARCH LARGER {}", small.len())).await;
    assert_eq!(found[0], "* SEARCH 2");
    let found = c
        .ok("t SEARCH SINCE 1-Jan-2020 NOT BEFORE 1-Jan-2020")
        .await;
    assert_eq!(found[0], "* SEARCH 1 2");
}

#[tokio::test]
async fn authenticate_plain_with_and_without_initial_response() {
    let server = TestServer::implicit().await;
    // base64("\0mario@pec.gestore.test\0segreto")
    let response = "AG1hcmlvQHBlYy5nZXN0b3JlLnRlc3QAc2VncmV0bw==";
    let mut c = server.client().await;
    c.ok(&format!("a AUTHENTICATE PLAIN {response}")).await;
    c.ok("s SELECT INBOX").await;
    let mut c = server.client().await;
    c.send(b"b AUTHENTICATE PLAIN\r\n").await;
    assert!(c.line().await.starts_with('+'));
    c.send(format!("{response}\r\n").as_bytes()).await;
    let lines = c.until_tagged("b").await;
    assert!(
        lines.last().is_some_and(|l| l.starts_with("b OK")),
        "{lines:?}"
    );
    let mut c = server.client().await;
    let lines = c
        .cmd("c AUTHENTICATE PLAIN AG1hcmlvQHBlYy5nZXN0b3JlLnRlc3QAbm8=")
        .await;
    assert!(
        lines.last().is_some_and(|l| l.starts_with("c NO")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_client_that_never_logs_in_is_closed_at_the_login_timeout() {
    // Issue 12, item 6: IMAP used to keep a silent socket for 30 minutes.
    let limits = ImapLimits {
        login_timeout: Duration::from_millis(300),
        ..test_limits()
    };
    let server = TestServer::start(TlsMode::Implicit, limits).await;
    let mut silent = server.client().await;
    silent.ok("c CAPABILITY").await;
    let bye = silent.line().await;
    assert!(bye.starts_with("* BYE Login timeout"), "{bye}");
    assert!(silent.closed_within(Duration::from_secs(2)).await);
    let mut user = server.selected().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    user.ok("n NOOP").await;
}

#[tokio::test]
async fn a_client_that_keeps_sending_commands_is_closed_at_the_login_timeout_too() {
    let limits = ImapLimits {
        login_timeout: Duration::from_millis(300),
        ..test_limits()
    };
    let server = TestServer::start(TlsMode::Implicit, limits).await;
    let mut chatty = server.client().await;
    let started = std::time::Instant::now();
    let mut bye = None;
    'turns: for n in 0..30 {
        chatty.send(format!("n{n} NOOP\r\n").as_bytes()).await;
        loop {
            let Some(l) = chatty.try_line().await else {
                break 'turns;
            };
            if l.starts_with("* BYE") {
                bye = Some(l);
                break 'turns;
            }
            if l.starts_with(&format!("n{n} ")) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let bye = bye.expect("a BYE at the login deadline");
    assert!(bye.starts_with("* BYE Login timeout"), "{bye}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn one_address_cannot_take_every_place() {
    let limits = ImapLimits {
        max_connections: 100,
        max_connections_per_ip: 3,
        ..test_limits()
    };
    let server = TestServer::start(TlsMode::StartTls, limits).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut c = Client::new(TcpStream::connect(server.addr).await.unwrap());
        assert!(c.line().await.starts_with("* OK"));
        held.push(c);
    }
    let mut refused = Client::new(TcpStream::connect(server.addr).await.unwrap());
    let bye = refused.line().await;
    assert!(bye.starts_with("* BYE"), "{bye}");
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut other = Client::new(socket.connect(server.addr).await.unwrap());
    assert!(other.line().await.starts_with("* OK"));
}
