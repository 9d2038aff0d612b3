//! Mailbox access end to end: a message goes through the access point of a running
//! `gestore serve`, then real clients (Python imaplib and poplib, curl's IMAP and POP3) read
//! the envelope and the receipts back, byte for byte as stored, and the signatures still
//! verify; two IMAP sessions on one box see each other's changes.

use crate::provider::*;
use crate::support::*;
use std::path::Path;

/// Reads every message of the given folders over IMAP (implicit TLS) into `out/<folder>-<uid>`.
const IMAP_DUMP: &str = r#"
import imaplib, ssl, sys, os
port, user, password, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx, timeout=30)
m.login(user, password)
for folder in sys.argv[5:]:
    typ, _ = m.select(folder, readonly=True)
    assert typ == 'OK', folder
    typ, data = m.uid('FETCH', '1:*', '(UID BODY.PEEK[])')
    assert typ == 'OK', data
    for item in data:
        if not isinstance(item, tuple):
            continue
        head, body = item
        uid = head.split(b'UID ')[1].split()[0].decode()
        with open(os.path.join(out, f'{folder}-{uid}'), 'wb') as f:
            f.write(body)
m.logout()
"#;

/// Reads the maildrop over POP3 with STLS into `out/pop-<n>`.
const POP_DUMP: &str = r#"
import poplib, ssl, sys, os
port, user, password, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
p = poplib.POP3('127.0.0.1', port, timeout=30)
p.stls(context=ctx)
p.user(user); p.pass_(password)
count, _ = p.stat()
for n in range(1, count + 1):
    _, lines, _ = p.retr(n)
    with open(os.path.join(out, f'pop-{n}'), 'wb') as f:
        f.write(b'\r\n'.join(lines) + b'\r\n')
p.quit()
"#;

fn python(script: &str, args: &[String]) {
    let mut all = vec!["-c".to_string(), script.to_string()];
    all.extend(args.iter().cloned());
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let out = run("python3", &all);
    assert!(
        out.status.success(),
        "python: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn read_dir_sorted(dir: &Path, prefix: &str) -> Vec<Vec<u8>> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort_by_key(|n| n[prefix.len()..].parse::<u32>().unwrap_or(0));
    names
        .iter()
        .map(|n| std::fs::read(dir.join(n)).unwrap())
        .collect()
}

#[test]
fn imap_pop3_and_curl_read_envelope_and_receipts_byte_for_byte() {
    if !(have("python3") && have("curl")) {
        return;
    }
    let mut p = Provider::new(&["mario", "anna"]);
    p.start();
    let msg = format!(
        "From: {}\r\nTo: {}\r\nSubject: Da leggere via IMAP\r\n\r\nCorpo\r\n.riga con punto\r\n",
        addr("mario"),
        addr("anna")
    );
    let out = smtplib(p.submission, "mario", &[addr("anna")], &msg);
    assert!(out.status.success(), "smtplib: {}", text(&out.stderr));
    p.wait_events("consegna-emessa", 1);

    let got = p.dir.path().join("got");
    std::fs::create_dir_all(&got).unwrap();
    let dir = |who: &str| {
        let d = got.join(who);
        std::fs::create_dir_all(&d).unwrap();
        d
    };
    let imap = |who: &str, folders: &[&str]| {
        let mut args = vec![
            p.imaps.to_string(),
            addr(who),
            format!("pw-{who}"),
            path(&dir(who)),
        ];
        args.extend(folders.iter().map(|f| f.to_string()));
        python(IMAP_DUMP, &args);
    };
    imap("anna", &["INBOX"]);
    imap("mario", &["INBOX", "Sent"]);
    python(
        POP_DUMP,
        &[
            p.pop3.to_string(),
            addr("mario"),
            "pw-mario".into(),
            path(&dir("mario")),
        ],
    );
    let curl = |url: String, who: &str| {
        let login = format!("{}:pw-{who}", addr(who));
        let out = run(
            "curl",
            &["-sS", "--insecure", "--ssl-reqd", &url, "--user", &login],
        );
        assert!(out.status.success(), "curl {url}: {}", text(&out.stderr));
        out.stdout
    };
    // STARTTLS flavour: curl upgrades the plain connection (--ssl-reqd) before logging in.
    let curl_imap = curl(format!("imap://127.0.0.1:{}/INBOX;UID=1", p.imap), "anna");
    let curl_pop = curl(format!("pop3s://127.0.0.1:{}/1", p.pop3s), "mario");
    p.stop();

    // What the store holds, read directly.
    let anna_inbox = p.messages("anna", "INBOX");
    let mario_inbox = p.messages("mario", "INBOX");
    let mario_sent = p.messages("mario", "Sent");
    assert_eq!(
        (anna_inbox.len(), mario_inbox.len(), mario_sent.len()),
        (1, 2, 1)
    );

    assert_eq!(read_dir_sorted(&dir("anna"), "INBOX-"), anna_inbox);
    assert_eq!(read_dir_sorted(&dir("mario"), "INBOX-"), mario_inbox);
    assert_eq!(read_dir_sorted(&dir("mario"), "Sent-"), mario_sent);
    assert_eq!(read_dir_sorted(&dir("mario"), "pop-"), mario_inbox);
    assert_eq!(curl_imap, anna_inbox[0]);
    assert_eq!(curl_pop, mario_inbox[0]);

    // Read through the clients, every message still verifies.
    assert_eq!(
        verified(&p, &read_dir_sorted(&dir("anna"), "INBOX-")[0]).0,
        "busta"
    );
    let mut kinds: Vec<String> = read_dir_sorted(&dir("mario"), "pop-")
        .iter()
        .map(|m| verified(&p, m).0)
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["accettazione", "consegna-completa"]);
}

/// Session A idles on anna's INBOX while a message is delivered, then session B flags and
/// expunges it: A must hear EXISTS, the FETCH with the new flags, and the EXPUNGE.
const TWO_SESSIONS: &str = r#"
import imaplib, ssl, sys, subprocess, time, socket
port, user, password, send = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
a = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx, timeout=30)
b = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx, timeout=30)
a.login(user, password); b.login(user, password)
typ, data = a.select('INBOX'); assert data[0] == b'0', data
def idle_until(needle):
    # Updates may come before or after the continuation: both are untagged responses.
    a.send(b'I1 IDLE\r\n')
    seen = []
    deadline = time.time() + 30
    idling = False
    while time.time() < deadline:
        line = a.readline()
        seen.append(line)
        idling = idling or line.startswith(b'+')
        if idling and any(needle in l for l in seen):
            a.send(b'DONE\r\n')
            while not a.readline().startswith(b'I1 OK'):
                pass
            return seen
    raise SystemExit(f'no {needle!r} in {seen!r}')
# Delivery through the access point of the running provider, while A idles.
a.send(b'I1 IDLE\r\n'); assert a.readline().startswith(b'+')
subprocess.run(send, check=True)
deadline = time.time() + 30; seen = []
while time.time() < deadline:
    line = a.readline(); seen.append(line)
    if b'EXISTS' in line: break
else:
    raise SystemExit(f'no EXISTS: {seen!r}')
assert line.strip() == b'* 1 EXISTS', line
a.send(b'DONE\r\n')
while not a.readline().startswith(b'I1 OK'): pass
# B flags it: A hears the new flags.
typ, _ = b.select('INBOX'); assert typ == 'OK'
typ, _ = b.store('1', '+FLAGS', '(\\Flagged)'); assert typ == 'OK'
seen = idle_until(b'FETCH')
assert any(b'\\Flagged' in l for l in seen), seen
# B deletes and expunges it: A hears the EXPUNGE.
typ, _ = b.store('1', '+FLAGS', '(\\Deleted)'); assert typ == 'OK'
typ, data = b.expunge(); assert typ == 'OK', data
seen = idle_until(b'EXPUNGE')
assert any(l.strip() == b'* 1 EXPUNGE' for l in seen), seen
a.logout(); b.logout()
"#;

#[test]
fn two_imap_sessions_see_delivery_flags_and_expunge() {
    if !have("python3") {
        return;
    }
    let mut p = Provider::new(&["mario", "anna"]);
    p.start();
    let msg = p.dir.path().join("idle.eml");
    std::fs::write(
        &msg,
        format!(
            "From: {}\r\nTo: {}\r\nSubject: mentre aspetti\r\n\r\nx\r\n",
            addr("mario"),
            addr("anna")
        ),
    )
    .unwrap();
    // The sender, run by the script while session A idles: smtplib over implicit TLS.
    let send = format!(
        "import smtplib, ssl\nctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
         s = smtplib.SMTP_SSL('127.0.0.1', {}, context=ctx, timeout=30); s.login('{}', 'pw-mario')\n\
         s.sendmail('{}', ['{}'], open({:?}, 'rb').read()); s.quit()\n",
        p.submissions,
        addr("mario"),
        addr("mario"),
        addr("anna"),
        path(&msg)
    );
    python(
        TWO_SESSIONS,
        &[
            p.imaps.to_string(),
            addr("anna"),
            "pw-anna".into(),
            "python3".into(),
            "-c".into(),
            send,
        ],
    );
    p.stop();
    assert!(p.messages("anna", "INBOX").is_empty());
}
