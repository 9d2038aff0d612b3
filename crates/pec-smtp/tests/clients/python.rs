//! Python's smtplib against a real listener: STARTTLS on 587-style, SMTP_SSL on 465-style.

use pec_smtp::TlsMode;

use crate::util::{run_tool, test_limits, tool, TestServer, PASSWORD, USER};

const SCRIPT: &str = r#"
import smtplib, ssl, sys
port, mode, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl._create_unverified_context()
if mode == "starttls":
    s = smtplib.SMTP("127.0.0.1", port, timeout=10)
    s.ehlo()
    assert not s.has_extn("auth"), "AUTH offered before TLS"
    s.starttls(context=ctx)
    s.ehlo()
else:
    s = smtplib.SMTP_SSL("127.0.0.1", port, context=ctx, timeout=10)
    s.ehlo()
try:
    s.login(user, "wrong")
    sys.exit("wrong password accepted")
except smtplib.SMTPAuthenticationError as e:
    assert e.smtp_code == 535, e
s.login(user, password)
msg = ("From: <%s>\r\nTo: <anna@pec.altro.test>, <bruno@pec.altro.test>\r\n"
       "Subject: da python\r\n\r\n.riga con punto\r\ncorpo\r\n") % user
refused = s.sendmail(user, ["anna@pec.altro.test", "bruno@pec.altro.test"], msg)
assert refused == {}, refused
s.quit()
print("sent")
"#;

async fn python_submits(mode: TlsMode, arg: &str) {
    let Some(python) = tool("python3") else {
        return;
    };
    let server = TestServer::start(mode, test_limits()).await;
    let mut cmd = std::process::Command::new(python);
    cmd.arg("-c")
        .arg(SCRIPT)
        .arg(server.addr.port().to_string())
        .arg(arg)
        .arg(USER)
        .arg(PASSWORD);
    let out = run_tool(cmd).await;
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stored = server.backend.stored();
    assert_eq!(stored.len(), 1);
    let data = String::from_utf8_lossy(&stored[0].data);
    assert!(data.contains("Subject: da python\r\n"), "{data}");
    assert!(
        data.contains("\r\n.riga con punto\r\n"),
        "dot-unstuffed: {data}"
    );
    assert_eq!(stored[0].rcpt_to.len(), 2);
    assert_eq!(stored[0].authenticated, USER);
}

#[tokio::test]
async fn python_smtplib_starttls_login_sendmail() {
    python_submits(TlsMode::StartTls, "starttls").await;
}

#[tokio::test]
async fn python_smtplib_smtp_ssl_implicit_tls() {
    python_submits(TlsMode::Implicit, "implicit").await;
}
