//! AUTH: only over TLS, PLAIN and LOGIN, uniform failures with growing delay, disconnect.

use std::time::{Duration, Instant};

use pec_smtp::{Limits, TlsMode};

use crate::util::{b64, plain, test_limits, MemSession, PASSWORD, USER};

/// Greeting, EHLO, STARTTLS: ready for AUTH.
async fn tls_session(limits: Limits) -> MemSession {
    let mut s = MemSession::start(TlsMode::StartTls, limits).await;
    s.client.greeting().await;
    s.client.cmd("EHLO client.test", 250).await;
    s.client.starttls().await;
    s
}

#[tokio::test]
async fn auth_before_starttls_is_530_5_7_0() {
    let mut s = MemSession::start(TlsMode::StartTls, test_limits()).await;
    s.client.greeting().await;
    s.client.cmd("EHLO client.test", 250).await;
    let reply = s
        .client
        .cmd(&format!("AUTH PLAIN {}", plain(USER, PASSWORD)), 530)
        .await;
    assert_eq!(reply.text(), "5.7.0 Must issue a STARTTLS command first");
    s.client.cmd("AUTH LOGIN", 530).await;
}

#[tokio::test]
async fn auth_plain_with_initial_response() {
    let mut s = tls_session(test_limits()).await;
    let reply = s.client.login(USER, PASSWORD, 235).await;
    assert!(reply.text().starts_with("2.7.0"), "{reply:?}");
}

#[tokio::test]
async fn auth_plain_with_continuation() {
    let mut s = tls_session(test_limits()).await;
    s.client.cmd("AUTH PLAIN", 334).await;
    s.client.cmd(&plain(USER, PASSWORD), 235).await;
}

#[tokio::test]
async fn auth_plain_with_matching_authzid() {
    let mut s = tls_session(test_limits()).await;
    let msg = b64(&format!("{USER}\0{USER}\0{PASSWORD}"));
    s.client.cmd(&format!("AUTH PLAIN {msg}"), 235).await;
}

#[tokio::test]
async fn auth_plain_for_another_authzid_fails() {
    let mut s = tls_session(test_limits()).await;
    let msg = b64(&format!("boss@pec.test\0{USER}\0{PASSWORD}"));
    s.client.cmd(&format!("AUTH PLAIN {msg}"), 535).await;
}

#[tokio::test]
async fn auth_login_step_by_step() {
    let mut s = tls_session(test_limits()).await;
    let reply = s.client.cmd("AUTH LOGIN", 334).await;
    assert_eq!(reply.text(), "VXNlcm5hbWU6");
    s.client.cmd(&b64(USER), 334).await;
    s.client.cmd(&b64(PASSWORD), 235).await;
}

#[tokio::test]
async fn auth_login_with_initial_user() {
    let mut s = tls_session(test_limits()).await;
    s.client
        .cmd(&format!("AUTH LOGIN {}", b64(USER)), 334)
        .await;
    s.client.cmd(&b64(PASSWORD), 235).await;
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_535() {
    let mut s = tls_session(test_limits()).await;
    let wrong_password = s.client.login(USER, "nope", 535).await;
    let unknown_user = s.client.login("nobody@pec.test", "nope", 535).await;
    assert_eq!(wrong_password.lines, unknown_user.lines);
    assert_eq!(
        wrong_password.text(),
        "5.7.8 Authentication credentials invalid"
    );
}

#[tokio::test]
async fn failure_delay_grows_with_each_failure() {
    let limits = Limits {
        auth_failure_delay: Duration::from_millis(60),
        auth_failure_delay_max: Duration::from_millis(500),
        max_auth_failures: 5,
        ..test_limits()
    };
    let mut s = tls_session(limits).await;
    let t = Instant::now();
    s.client.login(USER, "x", 535).await;
    let first = t.elapsed();
    let t = Instant::now();
    s.client.login(USER, "x", 535).await;
    let second = t.elapsed();
    assert!(first >= Duration::from_millis(60), "{first:?}");
    assert!(second >= Duration::from_millis(120), "{second:?}");
}

#[tokio::test]
async fn too_many_failures_close_with_421() {
    let limits = Limits {
        max_auth_failures: 2,
        ..test_limits()
    };
    let mut s = tls_session(limits).await;
    s.client.login(USER, "x", 535).await;
    let reply = s.client.login(USER, "x", 421).await;
    assert!(reply.text().starts_with("4.7.0"), "{reply:?}");
    assert!(s.client.is_closed().await);
}

#[tokio::test]
async fn good_login_after_a_failure_works() {
    let mut s = tls_session(test_limits()).await;
    s.client.login(USER, "x", 535).await;
    s.client.login(USER, PASSWORD, 235).await;
}

#[tokio::test]
async fn cancelled_exchange_is_501() {
    let mut s = tls_session(test_limits()).await;
    s.client.cmd("AUTH LOGIN", 334).await;
    s.client.cmd("*", 501).await;
    s.client.cmd("NOOP", 250).await;
}

#[tokio::test]
async fn undecodable_base64_is_501_5_5_2() {
    let mut s = tls_session(test_limits()).await;
    let reply = s.client.cmd("AUTH PLAIN !!!notbase64", 501).await;
    assert!(reply.text().starts_with("5.5.2"), "{reply:?}");
}

#[tokio::test]
async fn second_auth_is_503() {
    let mut s = tls_session(test_limits()).await;
    s.client.login(USER, PASSWORD, 235).await;
    s.client.login(USER, PASSWORD, 503).await;
}

#[tokio::test]
async fn unknown_mechanism_is_504() {
    let mut s = tls_session(test_limits()).await;
    s.client.cmd("AUTH CRAM-MD5", 504).await;
}

#[tokio::test]
async fn directory_down_is_454() {
    let mut s = tls_session(test_limits()).await;
    *s.backend.auth_unavailable.lock().expect("lock") = true;
    s.client.login(USER, PASSWORD, 454).await;
}
