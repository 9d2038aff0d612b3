//! curl as a submission client: `smtp://` with `--ssl-reqd` (STARTTLS) and `smtps://`.

use pec_smtp::TlsMode;

use crate::util::{run_tool, test_limits, tool, TestServer, PASSWORD, USER};

async fn curl_submits(mode: TlsMode, scheme: &str) {
    let Some(curl) = tool("curl") else {
        return;
    };
    let server = TestServer::start(mode, test_limits()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("msg.eml");
    let msg =
        format!("From: <{USER}>\r\nTo: <anna@pec.altro.test>\r\nSubject: da curl\r\n\r\nciao\r\n");
    std::fs::write(&file, msg).expect("write");
    let mut cmd = std::process::Command::new(curl);
    cmd.args(["-sS", "-k", "--ssl-reqd", "--max-time", "15"])
        .arg(format!("{scheme}://127.0.0.1:{}", server.addr.port()))
        .args(["--mail-from", USER, "--mail-rcpt", "anna@pec.altro.test"])
        .arg("--user")
        .arg(format!("{USER}:{PASSWORD}"))
        .arg("-T")
        .arg(&file);
    let out = run_tool(cmd).await;
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stored = server.backend.stored();
    assert_eq!(stored.len(), 1);
    let data = String::from_utf8_lossy(&stored[0].data);
    assert!(data.contains("Subject: da curl\r\n\r\nciao\r\n"), "{data}");
}

#[tokio::test]
async fn curl_starttls_submission() {
    curl_submits(TlsMode::StartTls, "smtp").await;
}

#[tokio::test]
async fn curl_implicit_tls_submission() {
    curl_submits(TlsMode::Implicit, "smtps").await;
}

#[tokio::test]
async fn curl_with_wrong_password_fails() {
    let Some(curl) = tool("curl") else {
        return;
    };
    let server = TestServer::start(TlsMode::StartTls, test_limits()).await;
    let mut cmd = std::process::Command::new(curl);
    cmd.args(["-sS", "-k", "--ssl-reqd", "--max-time", "15"])
        .arg(format!("smtp://127.0.0.1:{}", server.addr.port()))
        .args(["--mail-from", USER, "--mail-rcpt", "anna@pec.altro.test"])
        .arg("--user")
        .arg(format!("{USER}:wrong"))
        .args(["-T", "/dev/null"]);
    let out = run_tool(cmd).await;
    assert!(!out.status.success());
    assert!(server.backend.stored().is_empty());
}
