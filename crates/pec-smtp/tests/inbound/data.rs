//! DATA: exact bytes, dot-unstuffing, size limit, SMTP smuggling, stalls, commit before 250.

use std::sync::Arc;
use std::time::Duration;

use pec_smtp::{Limits, SubmitError, TlsMode};
use tokio::sync::Notify;

use crate::util::{test_limits, MemSession, USER};

const RCPT: &str = "anna@pec.altro.test";

#[tokio::test]
async fn message_is_stored_exactly_as_received() {
    let mut s = MemSession::ready(TlsMode::Implicit, test_limits()).await;
    let body = "From: <mario@pec.gestore.test>\r\nSubject: prova\r\n\r\n..dot line\r\n.\r\n";
    let reply = s.client.send_message(&[RCPT], body).await;
    assert_eq!(reply.code, 250, "{reply:?}");
    let stored = s.backend.stored();
    assert_eq!(stored.len(), 1);
    let m = &stored[0];
    assert_eq!(
        m.data,
        b"From: <mario@pec.gestore.test>\r\nSubject: prova\r\n\r\n.dot line\r\n"
    );
    assert_eq!(m.authenticated, USER);
    assert_eq!(m.mail_from, USER);
    assert_eq!(m.rcpt_to, vec![RCPT.to_string()]);
    assert_eq!(m.helo, "client.test");
    assert_eq!(m.peer.to_string(), "192.0.2.1:50000");
}

#[tokio::test]
async fn dot_on_the_first_line_ends_an_empty_message() {
    let mut s = MemSession::ready(TlsMode::Implicit, test_limits()).await;
    let reply = s.client.send_message(&[RCPT], "").await;
    assert_eq!(reply.code, 250);
    assert_eq!(s.backend.stored()[0].data, b"");
}

#[tokio::test]
async fn pipelined_transaction_in_one_write() {
    let mut s = MemSession::ready(TlsMode::Implicit, test_limits()).await;
    let flight = format!(
        "MAIL FROM:<{USER}>\r\nRCPT TO:<{RCPT}>\r\nDATA\r\nSubject: p\r\n\r\nx\r\n.\r\nNOOP\r\n"
    );
    s.client.send(flight.as_bytes()).await;
    for code in [250, 250, 354, 250, 250] {
        assert_eq!(s.client.read_reply().await.code, code);
    }
    assert_eq!(s.backend.stored().len(), 1);
}

#[tokio::test]
async fn two_messages_in_one_session() {
    let mut s = MemSession::ready(TlsMode::Implicit, test_limits()).await;
    assert_eq!(s.client.send_message(&[RCPT], "a\r\n").await.code, 250);
    assert_eq!(s.client.send_message(&[RCPT], "b\r\n").await.code, 250);
    let stored = s.backend.stored();
    assert_eq!(
        (stored[0].data.as_slice(), stored[1].data.as_slice()),
        (&b"a\r\n"[..], &b"b\r\n"[..])
    );
}

#[tokio::test]
async fn message_over_limit_is_read_to_the_end_then_552() {
    let limits = Limits {
        max_message_size: 1000,
        ..test_limits()
    };
    let mut s = MemSession::ready(TlsMode::Implicit, limits).await;
    let big = "0123456789012345678901234567890123456789\r\n".repeat(200);
    let reply = s.client.send_message(&[RCPT], &big).await;
    assert_eq!(reply.code, 552, "{reply:?}");
    assert!(reply.text().starts_with("5.3.4"), "{reply:?}");
    assert!(s.backend.stored().is_empty());
    // The session is in sync again: the next message goes through.
    assert_eq!(s.client.send_message(&[RCPT], "small\r\n").await.code, 250);
}

/// Sends `payload` after DATA, then a terminating CRLF.CRLF, and checks that the server
/// stored at most one message, which (if stored) contains the smuggled command.
async fn assert_not_smuggled(payload: &[u8]) {
    let mut s = MemSession::ready(TlsMode::Implicit, test_limits()).await;
    s.client.cmd(&format!("MAIL FROM:<{USER}>"), 250).await;
    s.client.cmd(&format!("RCPT TO:<{RCPT}>"), 250).await;
    s.client.cmd("DATA", 354).await;
    s.client.send(payload).await;
    s.client.send(b"\r\n.\r\n").await;
    let end = s.client.read_reply().await;
    // One reply for the whole thing: 250 (one message) or a refusal, nothing for the
    // smuggled MAIL/RCPT/DATA.
    s.client.cmd("NOOP", 250).await;
    let stored = s.backend.stored();
    assert!(stored.len() <= 1, "message split in two: {stored:?}");
    if end.code == 250 {
        assert_eq!(stored.len(), 1);
        let data = String::from_utf8_lossy(&stored[0].data);
        assert!(data.contains("MAIL FROM:<x@y>"), "{data}");
    } else {
        assert!((500..600).contains(&end.code), "{end:?}");
        assert!(stored.is_empty());
    }
}

#[tokio::test]
async fn smuggling_bare_lf_dot_crlf_does_not_end_data() {
    assert_not_smuggled(
        b"Subject: a\r\n\r\nbody\n.\r\nMAIL FROM:<x@y>\r\nRCPT TO:<v@w>\r\nDATA\r\nSubject: b\r\n\r\nsmuggled",
    )
    .await;
}

#[tokio::test]
async fn smuggling_lf_dot_lf_does_not_end_data() {
    assert_not_smuggled(b"Subject: a\r\n\r\nbody\n.\nMAIL FROM:<x@y>\r\nDATA\r\nsmuggled").await;
}

#[tokio::test]
async fn smuggling_cr_dot_cr_does_not_end_data() {
    assert_not_smuggled(b"Subject: a\r\n\r\nbody\r.\r\nMAIL FROM:<x@y>\r\nDATA\r\nsmuggled").await;
}

#[tokio::test]
async fn bare_lf_in_message_is_554_5_6_0() {
    let mut s = MemSession::ready(TlsMode::Implicit, test_limits()).await;
    let reply = s
        .client
        .send_message(&[RCPT], "Subject: a\n\nbody\r\n")
        .await;
    assert_eq!(reply.code, 554);
    assert!(reply.text().starts_with("5.6.0"), "{reply:?}");
    assert!(s.backend.stored().is_empty());
}

#[tokio::test]
async fn stall_in_data_closes_without_accepting() {
    let limits = Limits {
        data_timeout: Duration::from_millis(200),
        ..test_limits()
    };
    let mut s = MemSession::ready(TlsMode::Implicit, limits).await;
    s.client.cmd(&format!("MAIL FROM:<{USER}>"), 250).await;
    s.client.cmd(&format!("RCPT TO:<{RCPT}>"), 250).await;
    s.client.cmd("DATA", 354).await;
    s.client.send(b"Subject: half\r\n\r\nhalf a mess").await;
    let reply = s.client.try_read_reply().await;
    assert!(reply.as_ref().is_none_or(|r| r.code == 421), "{reply:?}");
    assert!(s.client.is_closed().await);
    assert!(s.backend.stored().is_empty());
}

#[tokio::test]
async fn temporary_store_failure_is_451_4_3_0() {
    let mut s = MemSession::ready(TlsMode::Implicit, test_limits()).await;
    *s.backend.submit_error.lock().expect("lock") =
        Some(SubmitError::Temporary("disk full".into()));
    let reply = s.client.send_message(&[RCPT], "x\r\n").await;
    assert_eq!(reply.code, 451);
    assert_eq!(reply.text(), "4.3.0 disk full");
}

#[tokio::test]
async fn permanent_refusal_passes_its_code() {
    let mut s = MemSession::ready(TlsMode::Implicit, test_limits()).await;
    *s.backend.submit_error.lock().expect("lock") = Some(SubmitError::Permanent(
        550,
        "5.7.1".into(),
        "virus found".into(),
    ));
    let reply = s.client.send_message(&[RCPT], "x\r\n").await;
    assert_eq!(reply.code, 550);
    assert_eq!(reply.text(), "5.7.1 virus found");
}

#[tokio::test]
async fn reply_250_waits_for_the_commit() {
    let gate = Arc::new(Notify::new());
    let mut s = MemSession::ready(TlsMode::Implicit, test_limits()).await;
    *s.backend.commit_gate.lock().expect("lock") = Some(gate.clone());
    s.client.cmd(&format!("MAIL FROM:<{USER}>"), 250).await;
    s.client.cmd(&format!("RCPT TO:<{RCPT}>"), 250).await;
    s.client.cmd("DATA", 354).await;
    s.client.send(b"x\r\n.\r\n").await;
    let early = tokio::time::timeout(Duration::from_millis(150), s.client.read_reply()).await;
    assert!(early.is_err(), "replied before the commit: {early:?}");
    gate.notify_one();
    assert_eq!(s.client.read_reply().await.code, 250);
    assert_eq!(s.backend.stored().len(), 1);
}

#[tokio::test]
async fn a_line_over_998_octets_is_refused_whole() {
    // Issue 12, item 9: RFC 5321 §4.5.3.1.6.
    let mut s = MemSession::ready(TlsMode::Implicit, test_limits()).await;
    let long = "x".repeat(999);
    let body = format!("From: <{USER}>\r\nSubject: lunga\r\n\r\n{long}\r\n");
    let reply = s.client.send_message(&[RCPT], &body).await;
    assert_eq!(reply.code, 554, "{reply:?}");
    assert!(reply.text().starts_with("5.6.0"), "{reply:?}");
    assert!(s.backend.stored().is_empty());
    // 998 octets is the limit, and fine.
    let ok = "x".repeat(998);
    let body = format!("From: <{USER}>\r\nSubject: giusta\r\n\r\n{ok}\r\n");
    let reply = s.client.send_message(&[RCPT], &body).await;
    assert_eq!(reply.code, 250, "{reply:?}");
}
