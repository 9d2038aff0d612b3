//! curl as a POP3 client: `pop3s://` (implicit TLS) and `pop3://` with `--ssl-reqd` (STLS).
//! curl logs in with AUTH PLAIN, since CAPA offers `SASL PLAIN`.

use pec_imap::TlsMode;

use crate::util::{run_tool, test_limits, tool, TestServer, MSG1, MSG2, PASSWORD, USER};

async fn curl(server: &TestServer, path: &str, password: &str) -> Option<std::process::Output> {
    let curl = tool("curl")?;
    let scheme = match server.mode {
        TlsMode::Implicit => "pop3s",
        TlsMode::StartTls => "pop3",
    };
    let mut cmd = std::process::Command::new(curl);
    cmd.args(["-sS", "-v", "--insecure", "--ssl-reqd", "--max-time", "15"])
        .arg(format!(
            "{scheme}://127.0.0.1:{}/{path}",
            server.addr.port()
        ))
        .arg("--user")
        .arg(format!("{USER}:{password}"));
    Some(run_tool(cmd).await)
}

async fn curl_retrieves(mode: TlsMode) {
    let server = TestServer::start(mode, test_limits()).await;
    let Some(out) = curl(&server, "1", PASSWORD).await else {
        return;
    };
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, MSG1, "byte for byte");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("> AUTH PLAIN"), "curl used SASL PLAIN: {log}");
    assert!(
        !log.contains(PASSWORD),
        "curl's log does not echo the password"
    );
    let out = curl(&server, "2", PASSWORD).await.expect("curl");
    assert_eq!(out.stdout, MSG2);
    // Without a message number curl sends LIST.
    let out = curl(&server, "", PASSWORD).await.expect("curl");
    let listing = String::from_utf8_lossy(&out.stdout);
    assert_eq!(listing, format!("1 {}\r\n2 {}\r\n", MSG1.len(), MSG2.len()));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn curl_pop3s_retrieves_byte_for_byte() {
    curl_retrieves(TlsMode::Implicit).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn curl_pop3_stls_retrieves_byte_for_byte() {
    curl_retrieves(TlsMode::StartTls).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn curl_with_wrong_password_fails() {
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let Some(out) = curl(&server, "1", "sbagliata").await else {
        return;
    };
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    server.stop().await;
}
