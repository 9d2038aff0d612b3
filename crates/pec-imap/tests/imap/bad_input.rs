//! Hostile or broken clients: each is refused or closed with bounded memory, and never
//! disturbs another session.

use std::time::{Duration, Instant};

use pec_imap::TlsMode;
use tokio::io::AsyncWriteExt;

use crate::util::{sample_message, test_limits, Client, TestServer, PASSWORD, USER};

#[tokio::test]
async fn synchronising_literal_of_4_gb_is_refused_and_the_session_goes_on() {
    let server = TestServer::implicit().await;
    let mut c = server.selected().await;
    c.send(b"a APPEND INBOX {4294967295}\r\n").await;
    let reply = c.line().await;
    assert!(reply.starts_with("a BAD"), "{reply}");
    c.ok("b NOOP").await;
}

#[tokio::test]
async fn non_synchronising_literal_of_4_gb_closes_the_connection() {
    let server = TestServer::implicit().await;
    let mut c = server.selected().await;
    c.send(b"a APPEND INBOX {4294967295+}\r\n").await;
    let _ = c.stream.write_all(&[b'x'; 65536]).await;
    assert!(c.closed_within(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn megabyte_command_line_closes_the_connection() {
    let server = TestServer::implicit().await;
    let mut c = server.selected().await;
    let mut line = b"a SEARCH SUBJECT ".to_vec();
    line.resize(1024 * 1024, b'x');
    line.extend_from_slice(b"\r\n");
    // The server may close before we finish writing: ignore write errors.
    let _ = c.stream.write_all(&line).await;
    let mut saw_bye = false;
    while let Some(l) = tokio::time::timeout(Duration::from_secs(5), c.try_line())
        .await
        .expect("closed in time")
    {
        saw_bye |= l.starts_with("* BYE");
    }
    assert!(saw_bye);
}

#[tokio::test]
async fn malformed_sequence_sets_get_bad() {
    let server = TestServer::implicit().await;
    server.deliver(&sample_message(1)).await;
    let mut c = server.selected().await;
    for cmd in [
        "a FETCH 1:x FLAGS",
        "b FETCH 0 FLAGS",
        "c UID STORE :: +FLAGS (\\Seen)",
        "d SEARCH 1,,2",
    ] {
        let lines = c.cmd(cmd).await;
        let tag = &cmd[..1];
        assert!(
            lines
                .last()
                .is_some_and(|l| l.starts_with(&format!("{tag} BAD"))),
            "{cmd} → {lines:?}"
        );
    }
    c.ok("e NOOP").await;
}

#[tokio::test]
async fn unknown_commands_get_bad() {
    let server = TestServer::implicit().await;
    let mut c = server.client().await;
    let lines = c.cmd("a FROBNICATE now").await;
    assert!(
        lines.last().is_some_and(|l| l.starts_with("a BAD")),
        "{lines:?}"
    );
    let lines = c.cmd("b SELECT INBOX").await;
    assert!(
        lines.last().is_some_and(|l| l.starts_with("b NO")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn gigantic_ranges_cost_the_folder_size_not_the_range() {
    let server = TestServer::implicit().await;
    for n in 1..=20 {
        server.deliver(&sample_message(n)).await;
    }
    let mut c = server.selected().await;
    let start = Instant::now();
    let lines = c.ok("a FETCH 1:4294967295 (UID FLAGS)").await;
    assert_eq!(lines.len(), 21);
    let lines = c.ok("b UID SEARCH UID 1:4294967295").await;
    assert!(lines[0].starts_with("* SEARCH 1 2 3"), "{lines:?}");
    c.ok("c UID FETCH 4294967295:* (FLAGS)").await;
    c.ok("d STORE 1:* +FLAGS.SILENT (\\Seen)").await;
    c.ok("e SEARCH 1:4294967295,1:4294967295 NOT 5:4294967295")
        .await;
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn repeated_failed_logins_are_slowed_then_disconnected() {
    let mut limits = test_limits();
    limits.auth_failure_delay = Duration::from_millis(50);
    limits.max_auth_failures = 3;
    let server = TestServer::start(TlsMode::Implicit, limits).await;
    let mut c = server.client().await;
    let start = Instant::now();
    for n in 0..3 {
        let lines = c.cmd(&format!("l{n} LOGIN {USER} wrong")).await;
        assert!(
            lines.last().is_some_and(|l| l.contains(" NO ")),
            "{lines:?}"
        );
    }
    // 50 + 100 + 200 ms
    assert!(
        start.elapsed() >= Duration::from_millis(350),
        "{:?}",
        start.elapsed()
    );
    assert!(c.closed_within(Duration::from_secs(2)).await);
    // Another session is not affected.
    let mut other = server.client().await;
    other.ok(&format!("a LOGIN {USER} {PASSWORD}")).await;
}

#[tokio::test]
async fn client_that_never_reads_is_disconnected() {
    let server = TestServer::implicit().await;
    let big = {
        let mut m = sample_message(1);
        m.resize(m.len() + 512 * 1024, b'a');
        m
    };
    for _ in 0..4 {
        server.deliver(&big).await;
    }
    let mut c = server.selected().await;
    // Ask for ~1 GB of replies and never read them.
    let mut burst = Vec::new();
    for n in 0..500 {
        burst.extend_from_slice(format!("f{n} FETCH 1:* BODY.PEEK[]\r\n").as_bytes());
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), c.stream.write_all(&burst)).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    // The server gave up writing (write_timeout 2 s) and closed: what is buffered drains to EOF.
    assert!(c.closed_within(Duration::from_secs(10)).await);
    let mut other = server.selected().await;
    other.ok("n NOOP").await;
}

#[tokio::test]
async fn login_before_starttls_is_refused() {
    let server = TestServer::start(TlsMode::StartTls, test_limits()).await;
    let tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let mut c = Client::new(tcp);
    let greeting = c.line().await;
    assert!(
        greeting.contains("STARTTLS") && greeting.contains("LOGINDISABLED"),
        "{greeting}"
    );
    let lines = c.cmd(&format!("a LOGIN {USER} {PASSWORD}")).await;
    assert!(
        lines.last().is_some_and(|l| l.starts_with("a NO")),
        "{lines:?}"
    );
    let lines = c.cmd("b AUTHENTICATE PLAIN AG1hcmlvAHNlZ3JldG8=").await;
    assert!(
        lines.last().is_some_and(|l| l.starts_with("b NO")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn folder_names_that_escape_are_refused() {
    let server = TestServer::implicit().await;
    let mut c = server.selected().await;
    for (n, name) in ["../other", "/etc", "a//b", "\"a/../b\""]
        .iter()
        .enumerate()
    {
        let lines = c.cmd(&format!("c{n} CREATE {name}")).await;
        assert!(
            lines.last().is_some_and(
                |l| l.starts_with(&format!("c{n} NO")) || l.starts_with(&format!("c{n} BAD"))
            ),
            "{name}: {lines:?}"
        );
    }
    let lines = c.cmd("s SELECT ../mario@pec.gestore.test/INBOX").await;
    assert!(
        lines.last().is_some_and(|l| l.starts_with("s NO")),
        "{lines:?}"
    );
}
