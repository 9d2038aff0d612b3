//! The relay client against our own inbound listener (`serve_inbound`), plain and STARTTLS.

use std::time::Duration;

use pec_smtp::relay::{self, RcptOutcome, Timeouts, TlsPolicy};
use pec_smtp::RelayError;
use rustls::pki_types::ServerName;

use crate::util::{client_tls, test_limits, TestServer};

fn quick() -> Timeouts {
    Timeouts::uniform(Duration::from_secs(5))
}

fn required(name: &str) -> TlsPolicy {
    let name = ServerName::try_from(name.to_string()).expect("name");
    TlsPolicy::Required(client_tls(), name)
}

#[tokio::test]
async fn plaintext_relay_delivers_bytes_unchanged() {
    let server = TestServer::start_inbound(test_limits()).await;
    let mut conn = relay::connect(server.addr, "relay.gestore.test", TlsPolicy::None, quick())
        .await
        .expect("connect");
    assert!(!conn.is_tls());
    assert!(conn.capabilities().starttls);
    assert!(conn.capabilities().pipelining);
    // Lines starting with a dot, and no final CRLF.
    let data = b"Subject: dots\r\n\r\n.hidden\r\n..two\r\n.\r\nend";
    let to = vec!["a@pec.test".to_string(), "b@pec.test".to_string()];
    let outcomes = conn
        .send("sender@other.test", &to, data)
        .await
        .expect("transaction");
    assert_eq!(outcomes, vec![RcptOutcome::Accepted, RcptOutcome::Accepted]);
    conn.quit().await.expect("quit");

    let stored = server.backend.stored();
    assert_eq!(stored.len(), 1);
    let mut expected = data.to_vec();
    expected.extend_from_slice(b"\r\n");
    assert_eq!(stored[0].data, expected);
    assert_eq!(stored[0].rcpt_to, to);
    assert_eq!(stored[0].mail_from, "sender@other.test");
    assert_eq!(stored[0].helo, "relay.gestore.test");
    assert!(!stored[0].tls);
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn required_starttls_relay_and_connection_reuse() {
    let server = TestServer::start_inbound(test_limits()).await;
    let mut conn = relay::connect(
        server.addr,
        "relay.gestore.test",
        required("localhost"),
        quick(),
    )
    .await
    .expect("connect");
    assert!(conn.is_tls());
    assert!(!conn.capabilities().starttls, "STARTTLS not offered twice");
    let to = vec!["a@pec.test".to_string()];
    for n in 0..3 {
        let data = format!("Subject: {n}\r\n\r\nbody\r\n");
        let outcomes = conn
            .send("s@other.test", &to, data.as_bytes())
            .await
            .expect("transaction");
        assert_eq!(outcomes, vec![RcptOutcome::Accepted]);
    }
    conn.quit().await.expect("quit");
    let stored = server.backend.stored();
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|s| s.tls));
    assert_eq!(stored[2].data, b"Subject: 2\r\n\r\nbody\r\n");
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn certificate_for_another_name_fails_the_handshake() {
    let server = TestServer::start_inbound(test_limits()).await;
    let err = relay::connect(
        server.addr,
        "relay.gestore.test",
        required("mx.elsewhere.test"),
        quick(),
    )
    .await
    .expect_err("name mismatch");
    assert!(matches!(err, RelayError::Tls(_)), "{err}");
    assert!(server.backend.stored().is_empty());
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn recipient_refused_by_backend_and_transaction_after_total_refusal() {
    let server = TestServer::start_inbound(test_limits()).await;
    server
        .backend
        .refused_rcpt
        .lock()
        .expect("lock")
        .push("nobody@pec.test".into());
    let mut conn = relay::connect(server.addr, "relay.gestore.test", TlsPolicy::None, quick())
        .await
        .expect("connect");
    // Every recipient refused: DATA is refused too, the transaction stays open server-side.
    let outcomes = conn
        .send("s@other.test", &["nobody@pec.test".to_string()], b"x\r\n")
        .await
        .expect("transaction");
    assert!(
        matches!(&outcomes[..], [RcptOutcome::Permanent { code: 550, enhanced: Some(e), .. }] if e == "5.1.1"),
        "{outcomes:?}"
    );
    // The next transaction works (the client resets the open one first).
    let to = vec!["nobody@pec.test".to_string(), "a@pec.test".to_string()];
    let outcomes = conn
        .send("s@other.test", &to, b"Subject: y\r\n\r\n")
        .await
        .expect("transaction");
    assert!(matches!(
        outcomes[0],
        RcptOutcome::Permanent { code: 550, .. }
    ));
    assert_eq!(outcomes[1], RcptOutcome::Accepted);
    conn.quit().await.expect("quit");
    let stored = server.backend.stored();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].rcpt_to, vec!["a@pec.test".to_string()]);
    server.stop().await.expect("clean stop");
}

/// The relay client as a submission client (the demo's and the bench's): AUTH PLAIN over
/// STARTTLS, refused with a wrong password, and never sent in clear.
#[tokio::test]
async fn auth_plain_logs_in_over_tls_only() {
    use crate::util::{PASSWORD, USER};
    use pec_smtp::TlsMode;
    let server = TestServer::start(TlsMode::StartTls, test_limits()).await;
    let mut conn = relay::connect(server.addr, "client.test", required("localhost"), quick())
        .await
        .expect("connect");
    conn.auth_plain(USER, PASSWORD).await.expect("login");
    let to = vec!["a@pec.test".to_string()];
    let outcomes = conn
        .send(USER, &to, b"From: x\r\n\r\nbody\r\n")
        .await
        .expect("submission");
    assert_eq!(outcomes, vec![RcptOutcome::Accepted]);
    conn.quit().await.expect("quit");

    let mut conn = relay::connect(server.addr, "client.test", required("localhost"), quick())
        .await
        .expect("connect");
    let err = conn.auth_plain(USER, "wrong").await.expect_err("refused");
    assert!(
        matches!(err, RelayError::Refused { code: 535, .. }),
        "{err}"
    );

    let mut plain = relay::connect(server.addr, "client.test", TlsPolicy::None, quick())
        .await
        .expect("connect");
    let err = plain.auth_plain(USER, PASSWORD).await.expect_err("no TLS");
    assert!(matches!(err, RelayError::InvalidInput(_)), "{err}");
}
