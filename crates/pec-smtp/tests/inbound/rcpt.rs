//! RCPT TO: needs MAIL, at most `max_recipients`, the backend may refuse one.

use pec_smtp::TlsMode;

use crate::util::{test_limits, MemSession, USER};

#[tokio::test]
async fn rcpt_without_mail_is_503() {
    let mut s = MemSession::ready(TlsMode::Implicit, test_limits()).await;
    s.client.cmd("RCPT TO:<a@pec.test>", 503).await;
}

#[tokio::test]
async fn recipients_over_the_limit_get_452_4_5_3() {
    let mut s = MemSession::ready(TlsMode::Implicit, test_limits()).await;
    s.client.cmd(&format!("MAIL FROM:<{USER}>"), 250).await;
    for i in 0..5 {
        s.client.cmd(&format!("RCPT TO:<r{i}@pec.test>"), 250).await;
    }
    let reply = s.client.cmd("RCPT TO:<r5@pec.test>", 452).await;
    assert!(reply.text().starts_with("4.5.3"), "{reply:?}");
    // The accepted five still go through.
    s.client.cmd("DATA", 354).await;
    s.client.send(b"Subject: t\r\n\r\nbody\r\n.\r\n").await;
    assert_eq!(s.client.read_reply().await.code, 250);
    assert_eq!(s.backend.stored()[0].rcpt_to.len(), 5);
}

#[tokio::test]
async fn recipient_refused_by_backend_gets_its_reply() {
    let mut s = MemSession::ready(TlsMode::Implicit, test_limits()).await;
    s.backend
        .refused_rcpt
        .lock()
        .expect("lock")
        .push("ghost@pec.test".into());
    s.client.cmd(&format!("MAIL FROM:<{USER}>"), 250).await;
    let reply = s.client.cmd("RCPT TO:<ghost@pec.test>", 550).await;
    assert_eq!(reply.text(), "5.1.1 No such recipient");
    s.client.cmd("RCPT TO:<ok@pec.test>", 250).await;
}

#[tokio::test]
async fn duplicate_recipient_is_kept_once() {
    let mut s = MemSession::ready(TlsMode::Implicit, test_limits()).await;
    s.client.cmd(&format!("MAIL FROM:<{USER}>"), 250).await;
    s.client.cmd("RCPT TO:<a@pec.test>", 250).await;
    s.client.cmd("RCPT TO:<a@pec.test>", 250).await;
    s.client.cmd("DATA", 354).await;
    s.client.send(b"\r\nx\r\n.\r\n").await;
    assert_eq!(s.client.read_reply().await.code, 250);
    assert_eq!(
        s.backend.stored()[0].rcpt_to,
        vec!["a@pec.test".to_string()]
    );
}

#[tokio::test]
async fn data_without_rcpt_is_503() {
    let mut s = MemSession::ready(TlsMode::Implicit, test_limits()).await;
    s.client.cmd("DATA", 503).await;
    s.client.cmd(&format!("MAIL FROM:<{USER}>"), 250).await;
    s.client.cmd("DATA", 503).await;
}

#[tokio::test]
async fn a_non_ascii_recipient_needs_smtputf8_which_is_not_offered() {
    let mut s = MemSession::ready(TlsMode::Implicit, test_limits()).await;
    s.client.cmd(&format!("MAIL FROM:<{USER}>"), 250).await;
    let reply = s
        .client
        .cmd("RCPT TO:<ren\u{e9}@pec.example.it>", 553)
        .await;
    assert!(reply.text().starts_with("5.6.7"), "{reply:?}");
}
