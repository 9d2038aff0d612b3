//! Python's imaplib as a real client, over IMAPS and over STARTTLS.

use pec_imap::TlsMode;

use crate::util::{have_tool, python, sample_message, test_limits, TestServer};

/// Common prelude: connect (SSL or STARTTLS per `MODE`), log in; `ok()` checks a reply.
const PRELUDE: &str = r#"
import imaplib, os, ssl, sys, re
ctx = ssl._create_unverified_context()
port = int(os.environ["PORT"])
def connect():
    if os.environ.get("MODE") == "starttls":
        m = imaplib.IMAP4("127.0.0.1", port)
        try:
            m.login(os.environ["USER_"], os.environ["PASSWORD"])
            raise SystemExit("login before STARTTLS was accepted")
        except imaplib.IMAP4.error:
            pass
        m.starttls(ssl_context=ctx)
    else:
        m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx)
    typ, _ = m.login(os.environ["USER_"], os.environ["PASSWORD"])
    assert typ == "OK"
    return m
def ok(r):
    typ, data = r
    assert typ == "OK", (typ, data)
    return data
"#;

#[tokio::test]
async fn imaplib_over_imaps_fetches_bytes_and_changes_flags() {
    if !have_tool("python3") {
        return;
    }
    let server = TestServer::implicit().await;
    let first = sample_message(1);
    server.deliver(&first).await;
    server.deliver(&sample_message(2)).await;
    server.deliver(&sample_message(3)).await;
    let script = format!(
        "{PRELUDE}{}",
        r#"
m = connect()
folders = ok(m.list())
assert any(b'"INBOX"' in f or f.endswith(b' INBOX') for f in folders), folders
assert ok(m.select("INBOX")) == [b"3"]
data = ok(m.fetch("1", "(BODY.PEEK[])"))
sys.stdout.write("BODY " + data[0][1].hex() + "\n")
data = ok(m.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[1])"))
assert b"POSTA CERTIFICATA: prova 1" in data[0][0] + data[0][1], data[0]
assert ok(m.search(None, "SUBJECT", '"prova 2"')) == [b"2"]
assert ok(m.search(None, "BODY", "parola-chiave-3")) == [b"3"]
assert ok(m.search(None, "UNSEEN")) == [b"1 2 3"]
assert ok(m.uid("SEARCH", "UID", "1:4294967295")) == [b"1 2 3"]
ok(m.store("1", "+FLAGS", "(\\Flagged)"))
assert ok(m.search(None, "FLAGGED")) == [b"1"]
ok(m.fetch("2", "(BODY[])"))
assert ok(m.search(None, "SEEN")) == [b"2"]
ok(m.create("Archivio/2026"))
typ, data = m.copy("1", "Archivio/2026")
assert typ == "OK" and b"COPYUID" in data[0], data
typ, data = m.uid("MOVE", "3", "Trash")
assert typ == "OK", data
assert ok(m.search(None, "ALL")) == [b"1 2"]
ok(m.store("2", "+FLAGS", "(\\Deleted)"))
ok(m.expunge())
assert ok(m.search(None, "ALL")) == [b"1"]
typ, data = m.append("INBOX", "(\\Seen)", None, b"Subject: appended\r\n\r\nciao\r\n")
assert typ == "OK" and re.search(rb"APPENDUID \d+ 4", data[0]), data
assert ok(m.select("INBOX")) == [b"2"]
st = ok(m.status("Trash", "(MESSAGES UIDNEXT)"))
assert b"MESSAGES 1" in st[0], st
assert ok(m.select("Archivio/2026", readonly=True)) == [b"1"]
typ, _ = m.store("1", "+FLAGS", "(\\Seen)")
assert typ == "NO"
m.logout()
print("DONE")
"#
    );
    let out = python(&script, server.addr.port(), &[]).await;
    let out = String::from_utf8(out).expect("utf8");
    let body = out
        .lines()
        .find_map(|l| l.strip_prefix("BODY "))
        .expect("body line");
    assert_eq!(hex(&first), body, "BODY[] must be the stored bytes");
    assert!(out.contains("DONE"), "{out}");
}

#[tokio::test]
async fn imaplib_idle_sees_another_sessions_append() {
    if !have_tool("python3") {
        return;
    }
    let server = TestServer::implicit().await;
    server.deliver(&sample_message(1)).await;
    let script = format!(
        "{PRELUDE}{}",
        r#"
a = connect(); b = connect()
ok(a.select("INBOX"))
tag = a._new_tag()
a.send(tag + b" IDLE\r\n")
assert a.readline().startswith(b"+"), "no continuation"
ok(b.append("INBOX", None, None, b"Subject: nuovo\r\n\r\nx\r\n"))
line = a.readline()
assert line.strip() == b"* 2 EXISTS", line
a.send(b"DONE\r\n")
while True:
    line = a.readline()
    if line.startswith(tag):
        assert b" OK " in line, line
        break
a.logout(); b.logout()
print("DONE")
"#
    );
    let out = python(&script, server.addr.port(), &[]).await;
    assert!(String::from_utf8_lossy(&out).contains("DONE"));
}

#[tokio::test]
async fn imaplib_over_starttls_fetches_bytes() {
    if !have_tool("python3") {
        return;
    }
    let server = TestServer::start(TlsMode::StartTls, test_limits()).await;
    let first = sample_message(7);
    server.deliver(&first).await;
    let script = format!(
        "{PRELUDE}{}",
        r#"
m = connect()
ok(m.select("INBOX"))
data = ok(m.fetch("1", "(BODY.PEEK[])"))
sys.stdout.write("BODY " + data[0][1].hex() + "\n")
m.logout()
"#
    );
    let out = python(&script, server.addr.port(), &[("MODE", "starttls".into())]).await;
    let out = String::from_utf8(out).expect("utf8");
    let body = out
        .lines()
        .find_map(|l| l.strip_prefix("BODY "))
        .expect("body line");
    assert_eq!(hex(&first), body);
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
