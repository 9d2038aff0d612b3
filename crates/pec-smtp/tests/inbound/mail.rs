//! MAIL FROM: needs AUTH and EHLO, checks the declared SIZE.

use pec_smtp::TlsMode;

use crate::util::{test_limits, MemSession, USER};

#[tokio::test]
async fn mail_without_auth_is_530_5_7_0() {
    let mut s = MemSession::start(TlsMode::Implicit, test_limits()).await;
    s.client.greeting().await;
    s.client.cmd("EHLO client.test", 250).await;
    let reply = s.client.cmd(&format!("MAIL FROM:<{USER}>"), 530).await;
    assert!(reply.text().starts_with("5.7.0"), "{reply:?}");
}

#[tokio::test]
async fn mail_without_auth_on_plaintext_is_530() {
    let mut s = MemSession::start(TlsMode::StartTls, test_limits()).await;
    s.client.greeting().await;
    s.client.cmd("EHLO client.test", 250).await;
    s.client.cmd(&format!("MAIL FROM:<{USER}>"), 530).await;
}

#[tokio::test]
async fn declared_size_over_limit_is_552_5_3_4() {
    let mut s = MemSession::ready(TlsMode::Implicit, test_limits()).await;
    let reply = s
        .client
        .cmd(&format!("MAIL FROM:<{USER}> SIZE=10000000"), 552)
        .await;
    assert!(reply.text().starts_with("5.3.4"), "{reply:?}");
    s.client
        .cmd(&format!("MAIL FROM:<{USER}> SIZE=1000"), 250)
        .await;
}

#[tokio::test]
async fn nested_mail_is_503() {
    let mut s = MemSession::ready(TlsMode::Implicit, test_limits()).await;
    s.client.cmd(&format!("MAIL FROM:<{USER}>"), 250).await;
    s.client.cmd(&format!("MAIL FROM:<{USER}>"), 503).await;
    s.client.cmd("RSET", 250).await;
    s.client.cmd(&format!("MAIL FROM:<{USER}>"), 250).await;
}

#[tokio::test]
async fn malformed_mail_is_501() {
    let mut s = MemSession::ready(TlsMode::Implicit, test_limits()).await;
    s.client.cmd("MAIL FROM:nobrackets", 501).await;
}

#[tokio::test]
async fn a_size_too_large_for_64_bits_is_still_too_big() {
    // Issue 12, item 9: smtp-proto wraps a 23-digit SIZE round to a small number.
    let mut s = MemSession::ready(TlsMode::Implicit, test_limits()).await;
    let reply = s
        .client
        .cmd(
            &format!("MAIL FROM:<{USER}> SIZE=99999999999999999999999"),
            552,
        )
        .await;
    assert!(reply.text().starts_with("5.3.4"), "{reply:?}");
}

#[tokio::test]
async fn a_non_ascii_reverse_path_needs_smtputf8_which_is_not_offered() {
    let mut s = MemSession::ready(TlsMode::Implicit, test_limits()).await;
    let reply = s
        .client
        .cmd("MAIL FROM:<citt\u{e0}@pec.example.it>", 553)
        .await;
    assert!(reply.text().starts_with("5.6.7"), "{reply:?}");
}

#[tokio::test]
async fn the_backend_can_refuse_a_reverse_path_at_once() {
    let backend = crate::util::MemoryBackend::new();
    backend
        .refused_sender
        .lock()
        .unwrap()
        .push("altro@pec.example.it".into());
    let mut s = MemSession::start_with(TlsMode::Implicit, test_limits(), backend).await;
    s.client.ready(TlsMode::Implicit).await;
    let reply = s.client.cmd("MAIL FROM:<altro@pec.example.it>", 553).await;
    assert!(reply.text().starts_with("5.7.1"), "{reply:?}");
    // No transaction was opened: RCPT needs a MAIL first.
    s.client.cmd("RCPT TO:<a@pec.example.it>", 503).await;
    s.client.cmd(&format!("MAIL FROM:<{USER}>"), 250).await;
}
