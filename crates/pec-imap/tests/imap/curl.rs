//! curl's IMAP client fetches a message byte for byte, over IMAPS and STARTTLS.

use std::time::Duration;

use pec_imap::TlsMode;

use crate::util::{have_tool, sample_message, test_limits, TestServer, PASSWORD, USER};

async fn curl(url: String, extra: &[&str]) -> Vec<u8> {
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new("curl")
            .args(["--silent", "--show-error", "--insecure"])
            .args(extra)
            .arg("--user")
            .arg(format!("{USER}:{PASSWORD}"))
            .arg(url)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("curl in time")
    .expect("curl runs");
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test]
async fn curl_imaps_fetches_the_stored_bytes() {
    if !have_tool("curl") {
        return;
    }
    let server = TestServer::implicit().await;
    let message = sample_message(1);
    let uid = server.deliver(&message).await;
    let url = format!("imaps://127.0.0.1:{}/INBOX;UID={uid}", server.addr.port());
    assert_eq!(curl(url, &[]).await, message);
}

#[tokio::test]
async fn curl_starttls_fetches_the_stored_bytes() {
    if !have_tool("curl") {
        return;
    }
    let server = TestServer::start(TlsMode::StartTls, test_limits()).await;
    let message = sample_message(2);
    server.deliver(&sample_message(1)).await;
    let uid = server.deliver(&message).await;
    let url = format!("imap://127.0.0.1:{}/INBOX;UID={uid}", server.addr.port());
    assert_eq!(curl(url, &["--ssl-reqd"]).await, message);
}
