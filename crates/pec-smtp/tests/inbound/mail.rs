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
