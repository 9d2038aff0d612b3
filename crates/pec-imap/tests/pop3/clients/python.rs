//! Python's poplib as a client: POP3_SSL (implicit TLS) and POP3 + stls(), USER/PASS.

use std::path::Path;

use pec_imap::TlsMode;

use crate::util::{run_tool, test_limits, tool, TestServer, MSG1, MSG2, PASSWORD, USER};

/// One script, one scenario per run: argv = mode port user password scenario outdir.
const SCRIPT: &str = r#"
import poplib, ssl, sys, os
mode, port, user, password, scenario, out = sys.argv[1:7]
ctx = ssl._create_unverified_context()
if mode == "ssl":
    p = poplib.POP3_SSL("127.0.0.1", int(port), context=ctx, timeout=10)
else:
    p = poplib.POP3("127.0.0.1", int(port), timeout=10)
    caps = p.capa()
    assert "STLS" in caps and "USER" not in caps, caps
    p.stls(context=ctx)
p.user(user)
p.pass_(password)
def write(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
if scenario == "read":
    count, size = p.stat()
    write("stat", b"%d %d" % (count, size))
    write("list", b"\n".join(p.list()[1]))
    write("uidl", b"\n".join(p.uidl()[1]))
    write("uidl1", p.uidl(1))
    for n in range(1, count + 1):
        write("retr%d" % n, b"\r\n".join(p.retr(n)[1]) + b"\r\n")
    write("top2", b"\r\n".join(p.top(2, 1)[1]) + b"\r\n")
    p.quit()
elif scenario == "dele_quit":
    p.dele(1)
    p.quit()
elif scenario == "dele_rset":
    p.dele(1)
    p.dele(2)
    p.rset()
    p.quit()
elif scenario == "dele_drop":
    p.dele(1)
    p.sock.close()
elif scenario == "wrong_password":
    pass
print("done")
"#;

async fn run(server: &TestServer, scenario: &str, password: &str, out: &Path) -> bool {
    let Some(python) = tool("python3") else {
        return false;
    };
    let script = out.join("pop3_client.py");
    std::fs::write(&script, SCRIPT).expect("write script");
    let mode = match server.mode {
        TlsMode::Implicit => "ssl",
        TlsMode::StartTls => "stls",
    };
    let mut cmd = std::process::Command::new(python);
    cmd.arg(&script)
        .arg(mode)
        .arg(server.addr.port().to_string())
        .arg(USER)
        .arg(password)
        .arg(scenario)
        .arg(out);
    let output = run_tool(cmd).await;
    assert!(
        output.status.success(),
        "poplib {scenario} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    true
}

async fn reads_the_maildrop(mode: TlsMode) {
    let server = TestServer::start(mode, test_limits()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    if !run(&server, "read", PASSWORD, dir.path()).await {
        return;
    }
    let read = |name: &str| std::fs::read(dir.path().join(name)).expect(name);
    let total = MSG1.len() + MSG2.len();
    assert_eq!(read("stat"), format!("2 {total}").into_bytes());
    assert_eq!(
        read("list"),
        format!("1 {}\n2 {}", MSG1.len(), MSG2.len()).into_bytes()
    );
    let snap = server.backend.snapshot(USER, "INBOX").await;
    let v = snap.uidvalidity;
    let (u1, u2) = (snap.messages[0].uid, snap.messages[1].uid);
    assert_eq!(read("uidl"), format!("1 {v}.{u1}\n2 {v}.{u2}").into_bytes());
    assert_eq!(read("uidl1"), format!("+OK 1 {v}.{u1}").into_bytes());
    assert_eq!(read("retr1"), MSG1, "byte for byte, dot lines included");
    assert_eq!(read("retr2"), MSG2);
    assert_eq!(
        read("top2"),
        b"From: <b@pec.altro.test>\r\nSubject: due\r\n\r\nriga 1\r\n"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn poplib_ssl_reads_the_maildrop() {
    reads_the_maildrop(TlsMode::Implicit).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn poplib_stls_reads_the_maildrop() {
    reads_the_maildrop(TlsMode::StartTls).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn poplib_dele_and_quit_removes() {
    let server = TestServer::start(TlsMode::StartTls, test_limits()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    if !run(&server, "dele_quit", PASSWORD, dir.path()).await {
        return;
    }
    let inbox = server.inbox().await;
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].1, MSG2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn poplib_dele_and_rset_keeps_everything() {
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    if !run(&server, "dele_rset", PASSWORD, dir.path()).await {
        return;
    }
    assert_eq!(server.inbox().await.len(), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn poplib_dele_and_dropped_connection_deletes_nothing() {
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    if !run(&server, "dele_drop", PASSWORD, dir.path()).await {
        return;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(server.inbox().await.len(), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn poplib_wrong_password_fails() {
    let Some(python) = tool("python3") else {
        return;
    };
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("pop3_client.py");
    std::fs::write(&script, SCRIPT).expect("write script");
    let mut cmd = std::process::Command::new(python);
    cmd.arg(&script)
        .arg("ssl")
        .arg(server.addr.port().to_string())
        .arg(USER)
        .arg("sbagliata")
        .arg("wrong_password")
        .arg(dir.path());
    let output = run_tool(cmd).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("[AUTH]"), "{stderr}");
    server.stop().await;
}
