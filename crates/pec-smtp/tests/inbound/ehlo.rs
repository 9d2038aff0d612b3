//! Greeting, EHLO/HELO, STARTTLS and the simple commands.

use pec_smtp::TlsMode;

use crate::util::{test_limits, MemSession, HOSTNAME};

#[tokio::test]
async fn greeting_is_220_with_hostname() {
    let mut s = MemSession::start(TlsMode::StartTls, test_limits()).await;
    let reply = s.client.greeting().await;
    assert!(reply.text().starts_with(HOSTNAME), "{reply:?}");
}

#[tokio::test]
async fn ehlo_before_tls_offers_starttls_and_no_auth() {
    let mut s = MemSession::start(TlsMode::StartTls, test_limits()).await;
    s.client.greeting().await;
    let reply = s.client.cmd("EHLO client.test", 250).await;
    assert!(reply.has_line("STARTTLS"), "{reply:?}");
    assert!(
        !reply.lines.iter().any(|l| l.starts_with("AUTH")),
        "{reply:?}"
    );
    for ext in [
        "SIZE 65536",
        "PIPELINING",
        "8BITMIME",
        "ENHANCEDSTATUSCODES",
    ] {
        assert!(reply.has_line(ext), "{ext} missing in {reply:?}");
    }
}

#[tokio::test]
async fn ehlo_after_starttls_offers_auth_and_no_starttls() {
    let mut s = MemSession::start(TlsMode::StartTls, test_limits()).await;
    s.client.greeting().await;
    s.client.cmd("EHLO client.test", 250).await;
    let reply = s.client.starttls().await;
    assert!(reply.has_line("AUTH PLAIN LOGIN"), "{reply:?}");
    assert!(!reply.has_line("STARTTLS"), "{reply:?}");
    s.client.cmd("STARTTLS", 503).await;
}

#[tokio::test]
async fn implicit_tls_offers_auth_and_no_starttls() {
    let mut s = MemSession::start(TlsMode::Implicit, test_limits()).await;
    s.client.greeting().await;
    let reply = s.client.cmd("EHLO client.test", 250).await;
    assert!(reply.has_line("AUTH PLAIN LOGIN"), "{reply:?}");
    assert!(!reply.has_line("STARTTLS"), "{reply:?}");
}

#[tokio::test]
async fn starttls_forgets_the_plaintext_ehlo() {
    // RFC 3207 §4.2: after the handshake the client starts over with EHLO.
    let mut s = MemSession::start(TlsMode::StartTls, test_limits()).await;
    s.client.greeting().await;
    s.client.cmd("EHLO client.test", 250).await;
    s.client.cmd("STARTTLS", 220).await;
    s.client.handshake_only().await;
    let auth = format!("AUTH PLAIN {}", crate::util::plain("a", "b"));
    s.client.cmd(&auth, 503).await;
}

#[tokio::test]
async fn plaintext_pipelined_after_starttls_is_dropped() {
    // STARTTLS command injection (CVE-2011-0411): bytes in the same flight as STARTTLS must
    // not be executed inside the TLS session.
    let mut s = MemSession::start(TlsMode::StartTls, test_limits()).await;
    s.client.greeting().await;
    s.client.cmd("EHLO client.test", 250).await;
    s.client.send(b"STARTTLS\r\nRSET\r\n").await;
    assert_eq!(s.client.read_reply().await.code, 220);
    s.client.handshake_only().await;
    let reply = s.client.cmd("NOOP", 250).await;
    assert_eq!(
        reply.text(),
        "2.0.0 OK",
        "the injected RSET was answered: {reply:?}"
    );
}

#[tokio::test]
async fn helo_is_250() {
    let mut s = MemSession::start(TlsMode::StartTls, test_limits()).await;
    s.client.greeting().await;
    let reply = s.client.cmd("HELO client.test", 250).await;
    assert_eq!(reply.lines, vec![HOSTNAME.to_string()]);
}

#[tokio::test]
async fn noop_rset_vrfy_help_quit() {
    let mut s = MemSession::start(TlsMode::StartTls, test_limits()).await;
    s.client.greeting().await;
    s.client.cmd("NOOP", 250).await;
    s.client.cmd("RSET", 250).await;
    s.client.cmd("VRFY mario", 252).await;
    s.client.cmd("HELP", 214).await;
    s.client.cmd("QUIT", 221).await;
    assert!(s.client.is_closed().await);
    s.server_result().await.expect("clean end");
}
