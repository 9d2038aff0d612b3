//! The inbound listener (receiving point, `serve_inbound`): mail from anyone, no AUTH,
//! STARTTLS offered but optional (PEC-SPEC §2.3 InP 1, §9.2).

use std::time::Duration;

use pec_smtp::Limits;

use crate::util::{plain, test_limits, TestServer, PASSWORD, USER};

const BODY: &str = "From: <a@other.test>\r\nSubject: hi\r\n\r\nciao\r\n";

#[tokio::test]
async fn plaintext_session_delivers_without_auth() {
    let server = TestServer::start_inbound(test_limits()).await;
    let mut client = server.connect().await;
    let greeting = client.greeting().await;
    assert!(!greeting.text().contains("submission"), "{greeting:?}");
    let ehlo = client.cmd("EHLO mx.other.test", 250).await;
    assert!(ehlo.has_line("STARTTLS"), "{ehlo:?}");
    assert!(ehlo.has_line("PIPELINING"), "{ehlo:?}");
    assert!(ehlo.has_line("8BITMIME"), "{ehlo:?}");
    assert!(
        !ehlo.lines.iter().any(|l| l.starts_with("AUTH")),
        "{ehlo:?}"
    );
    client.cmd("MAIL FROM:<a@other.test>", 250).await;
    client.cmd("RCPT TO:<mario@pec.gestore.test>", 250).await;
    client.cmd("DATA", 354).await;
    client.send(BODY.as_bytes()).await;
    client.send(b".\r\n").await;
    assert_eq!(client.read_reply().await.code, 250);
    client.cmd("QUIT", 221).await;

    let stored = server.backend.stored();
    assert_eq!(stored.len(), 1);
    let s = &stored[0];
    assert_eq!(s.authenticated, "");
    assert_eq!(s.mail_from, "a@other.test");
    assert_eq!(s.rcpt_to, vec!["mario@pec.gestore.test".to_string()]);
    assert_eq!(s.data, BODY.as_bytes());
    assert_eq!(s.helo, "mx.other.test");
    assert!(!s.tls, "plaintext session reported as TLS");
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn null_reverse_path_is_accepted() {
    let server = TestServer::start_inbound(test_limits()).await;
    let mut client = server.connect().await;
    client.greeting().await;
    client.cmd("EHLO mx.other.test", 250).await;
    client.cmd("MAIL FROM:<>", 250).await;
    client.cmd("RCPT TO:<mario@pec.gestore.test>", 250).await;
    client.cmd("DATA", 354).await;
    client.send(BODY.as_bytes()).await;
    client.send(b".\r\n").await;
    assert_eq!(client.read_reply().await.code, 250);
    let stored = server.backend.stored();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].mail_from, "");
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn starttls_then_deliver_reports_tls() {
    let server = TestServer::start_inbound(test_limits()).await;
    let mut client = server.connect().await;
    client.greeting().await;
    client.cmd("EHLO mx.other.test", 250).await;
    let ehlo = client.starttls().await;
    assert!(!ehlo.has_line("STARTTLS"), "{ehlo:?}");
    assert!(
        !ehlo.lines.iter().any(|l| l.starts_with("AUTH")),
        "{ehlo:?}"
    );
    client.cmd("MAIL FROM:<a@other.test>", 250).await;
    client.cmd("RCPT TO:<mario@pec.gestore.test>", 250).await;
    client.cmd("DATA", 354).await;
    client.send(BODY.as_bytes()).await;
    client.send(b".\r\n").await;
    assert_eq!(client.read_reply().await.code, 250);
    let stored = server.backend.stored();
    assert_eq!(stored.len(), 1);
    assert!(
        stored[0].tls,
        "session after STARTTLS reported as plaintext"
    );
    assert_eq!(
        stored[0].helo, "client.test",
        "EHLO after STARTTLS is the one kept"
    );
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn auth_is_refused_in_clear_and_over_tls() {
    let server = TestServer::start_inbound(test_limits()).await;
    let mut client = server.connect().await;
    client.greeting().await;
    client.cmd("EHLO mx.other.test", 250).await;
    client
        .cmd(&format!("AUTH PLAIN {}", plain(USER, PASSWORD)), 502)
        .await;
    client.starttls().await;
    client
        .cmd(&format!("AUTH PLAIN {}", plain(USER, PASSWORD)), 502)
        .await;
    client.cmd("AUTH LOGIN", 502).await;
    // The session goes on: AUTH was refused, not the client.
    client.cmd("MAIL FROM:<a@other.test>", 250).await;
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn recipient_refused_by_the_backend_gets_its_reply() {
    let server = TestServer::start_inbound(test_limits()).await;
    server
        .backend
        .refused_rcpt
        .lock()
        .expect("lock")
        .push("x@elsewhere.test".into());
    let mut client = server.connect().await;
    client.greeting().await;
    client.cmd("EHLO mx.other.test", 250).await;
    client.cmd("MAIL FROM:<a@other.test>", 250).await;
    let reply = client.cmd("RCPT TO:<x@elsewhere.test>", 550).await;
    assert!(reply.text().starts_with("5.1.1"), "{reply:?}");
    client.cmd("RCPT TO:<mario@pec.gestore.test>", 250).await;
    client.cmd("DATA", 354).await;
    client.send(BODY.as_bytes()).await;
    client.send(b".\r\n").await;
    assert_eq!(client.read_reply().await.code, 250);
    let stored = server.backend.stored();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].rcpt_to,
        vec!["mario@pec.gestore.test".to_string()]
    );
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn client_dropping_mid_data_stores_nothing() {
    let server = TestServer::start_inbound(test_limits()).await;
    let mut client = server.connect().await;
    client.greeting().await;
    client.cmd("EHLO mx.other.test", 250).await;
    client.cmd("MAIL FROM:<a@other.test>", 250).await;
    client.cmd("RCPT TO:<mario@pec.gestore.test>", 250).await;
    client.cmd("DATA", 354).await;
    client.send(b"Subject: half\r\n\r\nhalf a mess").await;
    drop(client);
    // A second, complete session proves the server went on and the first left nothing.
    let mut other = server.connect().await;
    other.greeting().await;
    other.cmd("EHLO mx.other.test", 250).await;
    other.cmd("NOOP", 250).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(server.backend.stored().is_empty());
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn bare_lf_in_data_is_refused() {
    let server = TestServer::start_inbound(test_limits()).await;
    let mut client = server.connect().await;
    client.greeting().await;
    client.cmd("EHLO mx.other.test", 250).await;
    client.cmd("MAIL FROM:<a@other.test>", 250).await;
    client.cmd("RCPT TO:<mario@pec.gestore.test>", 250).await;
    client.cmd("DATA", 354).await;
    client.send(b"Subject: x\r\n\r\nbare\nlf\r\n.\r\n").await;
    assert_eq!(client.read_reply().await.code, 554);
    assert!(server.backend.stored().is_empty());
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn message_over_the_size_limit_is_refused() {
    let limits = Limits {
        max_message_size: 100,
        ..test_limits()
    };
    let server = TestServer::start_inbound(limits).await;
    let mut client = server.connect().await;
    client.greeting().await;
    client.cmd("EHLO mx.other.test", 250).await;
    client.cmd("MAIL FROM:<a@other.test> SIZE=1000", 552).await;
    client.cmd("MAIL FROM:<a@other.test>", 250).await;
    client.cmd("RCPT TO:<mario@pec.gestore.test>", 250).await;
    client.cmd("DATA", 354).await;
    client.send(&[b'x'; 300]).await;
    client.send(b"\r\n.\r\n").await;
    assert_eq!(client.read_reply().await.code, 552);
    assert!(server.backend.stored().is_empty());
    server.stop().await.expect("clean stop");
}
