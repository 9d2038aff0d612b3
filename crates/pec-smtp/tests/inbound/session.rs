//! The session loop: bounded lines, bad commands, timeouts, shutdown, slow readers.

use std::time::Duration;

use pec_smtp::TlsMode;

use crate::util::{test_limits, MemSession};

#[tokio::test]
async fn unknown_command_is_500_5_5_1() {
    let mut s = MemSession::start(TlsMode::StartTls, test_limits()).await;
    s.client.greeting().await;
    let reply = s.client.cmd("FOO bar", 500).await;
    assert!(reply.text().starts_with("5.5.1"), "{reply:?}");
    s.client.cmd("NOOP", 250).await;
}

#[tokio::test]
async fn unimplemented_commands_are_502() {
    let mut s = MemSession::start(TlsMode::StartTls, test_limits()).await;
    s.client.greeting().await;
    s.client.cmd("EXPN list", 502).await;
    s.client.cmd("BDAT 10 LAST", 502).await;
}

#[tokio::test]
async fn too_many_bad_commands_close_with_421() {
    let limits = pec_smtp::Limits {
        max_bad_commands: 3,
        ..test_limits()
    };
    let mut s = MemSession::start(TlsMode::StartTls, limits).await;
    s.client.greeting().await;
    for _ in 0..3 {
        s.client.cmd("FOO", 500).await;
    }
    s.client.cmd("FOO", 421).await;
    assert!(s.client.is_closed().await);
}

#[tokio::test]
async fn line_over_1000_octets_is_500_5_5_2() {
    let mut s = MemSession::start(TlsMode::StartTls, test_limits()).await;
    s.client.greeting().await;
    let long = format!("NOOP {}", "x".repeat(1000));
    let reply = s.client.cmd(&long, 500).await;
    assert!(reply.text().starts_with("5.5.2"), "{reply:?}");
    s.client.cmd("NOOP", 250).await;
}

#[tokio::test]
async fn megabyte_without_newline_gets_one_500_and_session_survives() {
    let mut s = MemSession::start(TlsMode::StartTls, test_limits()).await;
    s.client.greeting().await;
    let junk = vec![b'a'; 1024 * 1024];
    s.client.send(&junk).await;
    s.client.send(b"\r\nNOOP\r\n").await;
    assert_eq!(s.client.read_reply().await.code, 500);
    assert_eq!(s.client.read_reply().await.code, 250);
}

#[tokio::test]
async fn idle_client_gets_421_after_command_timeout() {
    let limits = pec_smtp::Limits {
        command_timeout: Duration::from_millis(200),
        ..test_limits()
    };
    let mut s = MemSession::start(TlsMode::StartTls, limits).await;
    s.client.greeting().await;
    let reply = s.client.read_reply().await;
    assert_eq!(reply.code, 421, "{reply:?}");
    assert!(s.client.is_closed().await);
}

#[tokio::test]
async fn shutdown_closes_idle_session_with_421() {
    let mut s = MemSession::start(TlsMode::StartTls, test_limits()).await;
    s.client.greeting().await;
    s.shutdown.send(true).expect("send");
    let reply = s.client.read_reply().await;
    assert_eq!(reply.code, 421);
    assert!(reply.text().starts_with("4.3.2"), "{reply:?}");
    s.server_result().await.expect("clean end");
}

#[tokio::test]
async fn client_that_never_reads_is_dropped() {
    let limits = pec_smtp::Limits {
        command_timeout: Duration::from_millis(200),
        ..test_limits()
    };
    let mut s = MemSession::start(TlsMode::StartTls, limits).await;
    // 200 000 NOOPs queue ~2 MB of replies; the client reads none of them.
    let flood = "NOOP\r\n".repeat(200_000);
    let writer = s.client.try_send(flood.as_bytes());
    let _ = tokio::time::timeout(Duration::from_secs(3), writer).await;
    let result = s.server_result().await;
    assert!(
        result.is_err(),
        "server should give up on a client that never reads"
    );
}
