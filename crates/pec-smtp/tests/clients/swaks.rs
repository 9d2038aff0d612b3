//! swaks (the Swiss Army Knife for SMTP) with STARTTLS and with TLS on connect.

use pec_smtp::TlsMode;

use crate::util::{run_tool, test_limits, tool, TestServer, PASSWORD, USER};

async fn swaks_submits(mode: TlsMode, tls_flag: &str, auth: &str) {
    let Some(swaks) = tool("swaks") else {
        return;
    };
    let server = TestServer::start(mode, test_limits()).await;
    let mut cmd = std::process::Command::new(swaks);
    cmd.args(["--server", "127.0.0.1", "--port"])
        .arg(server.addr.port().to_string())
        .arg(tls_flag)
        .args([
            "--auth",
            auth,
            "--auth-user",
            USER,
            "--auth-password",
            PASSWORD,
        ])
        .args(["--from", USER, "--to", "anna@pec.altro.test"])
        .args(["--header", "Subject: da swaks", "--body", "corpo swaks"])
        .args(["--timeout", "10"]);
    let out = run_tool(cmd).await;
    assert!(
        out.status.success(),
        "swaks failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stored = server.backend.stored();
    assert_eq!(stored.len(), 1);
    let data = String::from_utf8_lossy(&stored[0].data);
    assert!(data.contains("Subject: da swaks\r\n"), "{data}");
    assert!(data.contains("corpo swaks"), "{data}");
}

#[tokio::test]
async fn swaks_starttls_auth_plain() {
    swaks_submits(TlsMode::StartTls, "--tls", "PLAIN").await;
}

#[tokio::test]
async fn swaks_tls_on_connect_auth_login() {
    swaks_submits(TlsMode::Implicit, "--tls-on-connect", "LOGIN").await;
}
