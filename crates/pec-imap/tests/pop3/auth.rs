//! AUTHORIZATION: no login before TLS, USER/PASS and AUTH PLAIN after it, failed logins
//! throttled and closed, and the same refusal for a wrong password and an unknown box.

use std::time::{Duration, Instant};

use pec_imap::{Pop3Limits, TlsMode};

use crate::util::{b64, test_limits, Client, TestServer, PASSWORD, USER};

#[tokio::test(flavor = "multi_thread")]
async fn login_before_stls_is_refused_and_not_offered() {
    let server = TestServer::start(TlsMode::StartTls, test_limits()).await;
    let mut c = Client::connect_plain(server.addr, TlsMode::StartTls).await;
    let caps = c.listing("CAPA").await;
    assert!(caps.contains(&"STLS".to_string()), "{caps:?}");
    assert!(
        !caps.iter().any(|l| l == "USER" || l.starts_with("SASL")),
        "{caps:?}"
    );
    let reply = c.err(&format!("USER {USER}")).await;
    assert!(reply.contains("TLS required"), "{reply}");
    c.err(&format!("PASS {PASSWORD}")).await;
    c.err(&format!(
        "AUTH PLAIN {}",
        b64(format!("\0{USER}\0{PASSWORD}").as_bytes())
    ))
    .await;
    c.err("STAT").await;

    c.stls().await;
    let caps = c.listing("CAPA").await;
    assert!(caps.contains(&"USER".to_string()), "{caps:?}");
    assert!(caps.contains(&"SASL PLAIN".to_string()), "{caps:?}");
    assert!(!caps.contains(&"STLS".to_string()), "{caps:?}");
    c.err("STLS").await;
    c.login(USER, PASSWORD).await;
    assert_eq!(
        c.ok("STAT").await,
        "+OK 2 ".to_string() + &total_octets(&server).await
    );
    server.stop().await;
}

async fn total_octets(server: &TestServer) -> String {
    let inbox = server.inbox().await;
    inbox
        .iter()
        .map(|(_, b)| b.len())
        .sum::<usize>()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn stls_drops_pipelined_commands() {
    let server = TestServer::start(TlsMode::StartTls, test_limits()).await;
    let mut c = Client::connect_plain(server.addr, TlsMode::StartTls).await;
    // A command injected after STLS in the same flight must not run after the handshake.
    c.send(b"STLS\r\nUSER injected\r\n").await;
    let reply = c.read_line().await.expect("reply");
    assert!(reply.starts_with("+OK"), "{reply}");
    // Here the server has the handshake to do; the injected USER must be gone: PASS
    // after the handshake finds no USER.
    let mut c = c;
    c.stls_handshake_only().await;
    let reply = c.err("PASS whatever").await;
    assert!(reply.contains("USER first"), "{reply}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_plain_with_and_without_initial_response() {
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let token = b64(format!("\0{USER}\0{PASSWORD}").as_bytes());
    let mut c = server.client().await;
    c.ok(&format!("AUTH PLAIN {token}")).await;
    c.ok("STAT").await;

    let mut c = server.client().await;
    let reply = c.cmd("AUTH PLAIN").await;
    assert_eq!(reply, "+ ");
    c.ok(&token).await;
    c.ok("STAT").await;

    let mut c = server.client().await;
    assert_eq!(c.cmd("AUTH PLAIN").await, "+ ");
    c.err("*").await;
    c.err("AUTH CRAM-MD5").await;
    c.err("AUTH PLAIN !!!notbase64").await;
    let listing = c.listing("AUTH").await;
    assert_eq!(listing, vec!["PLAIN".to_string()]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_logins_are_throttled_then_closed() {
    let limits = Pop3Limits {
        failed_login_delay: Duration::from_millis(100),
        max_failed_logins: 3,
        ..test_limits()
    };
    let server = TestServer::start(TlsMode::Implicit, limits).await;
    let mut c = server.client().await;
    let started = Instant::now();
    // USER says nothing about the box either way.
    c.ok("USER nessuno@pec.gestore.test").await;
    let unknown = c.err("PASS x").await;
    c.ok(&format!("USER {USER}")).await;
    let wrong = c.err("PASS sbagliata").await;
    assert_eq!(
        unknown, wrong,
        "same refusal for unknown box and wrong password"
    );
    assert!(wrong.starts_with("-ERR [AUTH]"), "{wrong}");
    assert!(!wrong.contains("sbagliata"));
    c.ok(&format!("USER {USER}")).await;
    let last = c.err("PASS ancora").await;
    assert!(last.contains("too many"), "{last}");
    assert!(c.is_closed().await);
    // 100 + 200 + 300 ms of delay.
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    // The box itself still works for a new, honest connection.
    let mut good = server.login().await;
    good.ok("STAT").await;
    server.stop().await;
}
