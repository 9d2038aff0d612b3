//! Issue 12: faults found by probing a running provider as an attacker would, each replayed
//! here against real `gestore serve` processes with real clients.

use crate::between::{deliver_inbound, send, Pair, A, B};
use crate::provider::*;
use crate::support::*;
use std::time::Duration;

/// `raw` with the first header `name` given `value` (added on top when absent).
fn with_header(raw: &[u8], name: &str, value: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw).into_owned();
    let end = text.find("\r\n\r\n").unwrap_or(text.len());
    let mut lines: Vec<String> = Vec::new();
    let mut replaced = false;
    let mut skipping = false;
    for line in text[..end].split("\r\n") {
        if skipping && (line.starts_with(' ') || line.starts_with('\t')) {
            continue;
        }
        skipping = false;
        let is_it = line
            .split_once(':')
            .is_some_and(|(n, _)| n.eq_ignore_ascii_case(name));
        if is_it && !replaced {
            lines.push(format!("{name}: {value}"));
            replaced = true;
            skipping = true;
        } else if is_it {
            skipping = true;
        } else {
            lines.push(line.to_string());
        }
    }
    if !replaced {
        lines.insert(0, format!("{name}: {value}"));
    }
    let mut out = lines.join("\r\n").into_bytes();
    out.extend_from_slice(&raw[end..]);
    out
}

/// The decoded Subject of a message.
fn subject(raw: &[u8]) -> String {
    let out = gestore(&["verify", "--json", "-"], Some(raw));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v[0]["headers"]["subject"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn kind_of(raw: &[u8]) -> String {
    let out = gestore(&["verify", "--json", "-"], Some(raw));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v[0]["kind"].as_str().unwrap_or_default().to_string()
}

/// Item 1: a genuine envelope B received for Anna, replayed to B with RCPT TO Luca, must
/// not give Luca a certified message nor a presa in carico naming him.
#[test]
fn a_replayed_envelope_reaches_only_the_boxes_it_names() {
    let mut pair = Pair::new(&["mario"], &["anna", "luca"], "");
    send(&pair.a, "mario@pec.a.test", "anna@pec.b.test", "andata");
    pair.b.wait_events("consegna-emessa", 1);
    pair.a.wait_events("ricevuta-ricevuta", 2);
    pair.b.stop();
    let envelope = pair.b.messages("anna", "INBOX").remove(0);
    assert_eq!(kind_of(&envelope), "busta");
    pair.b.start();

    // Twice: the second replay stores and logs nothing more.
    for _ in 0..2 {
        let out = deliver_inbound(
            &pair.b,
            &format!("mario@{A}"),
            &format!("luca@{B}"),
            &envelope,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    pair.b.wait_events("anomalia-emessa", 1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(pair.b.events("anomalia-emessa").len(), 1);
    assert_eq!(pair.b.events("busta-ricevuta").len(), 1);
    assert_eq!(pair.b.events("presa-in-carico-emessa").len(), 1);
    assert_eq!(pair.b.events("consegna-emessa").len(), 1);
    let anomalia = &pair.b.events("anomalia-emessa")[0];
    assert!(anomalia.contains(&format!("luca@{B}")), "{anomalia}");
    pair.b.stop();
    let luca = pair.b.messages("luca", "INBOX");
    assert_eq!(luca.len(), 1);
    assert_eq!(verified(&pair.b, &luca[0]).0, "anomalia");
    assert_eq!(pair.b.messages("anna", "INBOX").len(), 1);
    // A heard nothing more: no receipt about Luca.
    assert_eq!(pair.a.events("ricevuta-ricevuta").len(), 2);
}

/// Item 1: what the recipient is shown of a certified message is what was signed, whatever
/// the outer headers of the copy that arrived say.
#[test]
fn the_outer_headers_of_an_envelope_cannot_change_what_the_recipient_sees() {
    let mut pair = Pair::new(&["mario"], &["anna"], "");
    pair.b.stop();
    send(&pair.a, "mario@pec.a.test", "anna@pec.b.test", "fattura");
    pair.a.wait_events("accettazione-emessa", 1);
    pair.a.stop();
    let genuine = pair.a.messages("mario", "Sent").remove(0);
    pair.a.start();
    let forged = with_header(&genuine, "Subject", "POSTA CERTIFICATA: Bonifico urgente");
    let forged = with_header(&forged, "Reply-To", "truffatore@example.com");
    let forged = with_header(
        &forged,
        "From",
        "\"Per conto di: direttore@pec.a.test\" <posta-certificata@pec.a.test>",
    );
    pair.b.start();
    let out = deliver_inbound(
        &pair.b,
        &format!("mario@{A}"),
        &format!("anna@{B}"),
        &forged,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    pair.b.wait_events("consegna-emessa", 1);
    pair.b.stop();
    let inbox = pair.b.messages("anna", "INBOX");
    assert_eq!(inbox.len(), 1);
    let stored = &inbox[0];
    assert_eq!(subject(stored), "POSTA CERTIFICATA: fattura");
    let text = String::from_utf8_lossy(stored);
    assert!(!text.contains("truffatore"), "{text}");
    assert!(!text.contains("direttore"), "{text}");
    assert!(text.contains("Per conto di: mario@pec.a.test"), "{text}");
    // Still A's signature, intact.
    assert_eq!(verified_by(&pair.b, &pair.a, stored).0, "busta");
}

/// Item 2: a genuine delivery receipt replayed to another box of A is not stored there as a
/// receipt; a second copy under a new outer Message-ID is a duplicate.
#[test]
fn a_replayed_receipt_is_stored_once_and_only_in_the_senders_box() {
    let mut pair = Pair::new(&["mario", "giulia"], &["anna"], "");
    send(&pair.a, "mario@pec.a.test", "anna@pec.b.test", "ricevute");
    pair.a.wait_events("ricevuta-ricevuta", 2);
    pair.a.stop();
    let mario = pair.a.messages("mario", "INBOX");
    let consegna = mario
        .iter()
        .find(|m| kind_of(m).starts_with("consegna"))
        .expect("delivery receipt")
        .clone();
    pair.a.start();

    let copy = with_header(&consegna, "Message-ID", "<copia-1@pec.b.test>");
    let out = deliver_inbound(
        &pair.a,
        &format!("posta-certificata@{B}"),
        &format!("mario@{A}"),
        &copy,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = deliver_inbound(
        &pair.a,
        &format!("posta-certificata@{B}"),
        &format!("giulia@{A}"),
        &consegna,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    pair.a.wait_events("anomalia-emessa", 1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        pair.a.events("ricevuta-ricevuta").len(),
        2,
        "no new receipt logged"
    );
    pair.a.stop();
    assert_eq!(pair.a.messages("mario", "INBOX").len(), mario.len());
    let giulia = pair.a.messages("giulia", "INBOX");
    assert_eq!(giulia.len(), 1);
    assert_eq!(verified(&pair.a, &giulia[0]).0, "anomalia");
}

/// Item 3: MAIL FROM another box, a foreign address or `<>` is refused at once with 553
/// 5.7.1, and nothing lands in any box.
#[test]
fn a_mail_from_that_is_not_the_authenticated_box_is_refused_at_once() {
    let mut p = Provider::new(&["mario", "giulia"]);
    p.start();
    let script = r#"
import smtplib, ssl, sys
port, user, password, sender = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP('127.0.0.1', port, timeout=30); s.starttls(context=ctx); s.login(user, password)
code, msg = s.mail(sender)
print(code, msg.decode())
s.quit()
"#;
    for sender in [
        addr("giulia"),
        "someone@example.com".to_string(),
        String::new(),
    ] {
        let out = run(
            "python3",
            &[
                "-c",
                script,
                &p.submission.to_string(),
                &addr("mario"),
                "pw-mario",
                &sender,
            ],
        );
        let reply = text(&out.stdout);
        assert!(
            reply.starts_with("553 5.7.1"),
            "MAIL FROM:<{sender}>: {reply}"
        );
    }
    // Mario's own address still works.
    let out = smtplib(
        p.submission,
        "mario",
        &[addr("giulia")],
        &format!(
            "From: {}\r\nTo: {}\r\nSubject: ok\r\n\r\nx\r\n",
            addr("mario"),
            addr("giulia")
        ),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    p.wait_events("accettazione-emessa", 1);
    p.stop();
    assert!(p.events("non-accettazione-emessa").is_empty());
    // Giulia has Mario's message and nothing else.
    assert_eq!(p.messages("giulia", "INBOX").len(), 1);
}

/// Item 4: with the usual umask 022 the data folder and everything in it are the provider
/// user's alone; a data folder others can read is refused, naming the fix.
#[test]
fn the_data_folder_is_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let mut p = Provider::new(&["mario", "giulia"]);
    // Started through a shell with umask 022, as an operator's session would.
    p.prelude = Some("umask 022".into());
    p.start();
    let out = smtplib(
        p.submission,
        "mario",
        &[addr("giulia")],
        &format!(
            "From: {}\r\nTo: {}\r\nSubject: riservato\r\n\r\nx\r\n",
            addr("mario"),
            addr("giulia")
        ),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    p.wait_events("consegna-emessa", 1);
    let data = p.data();
    assert_eq!(mode(&data), 0o700, "data folder");
    for f in [
        "gestore.sqlite",
        "gestore.sqlite-wal",
        "pki/provider.key",
        "pki/ca.key",
    ] {
        let f = data.join(f);
        if f.exists() {
            assert_eq!(mode(&f), 0o600, "{}", f.display());
        }
    }
    for entry in walk(&data) {
        let m = mode(&entry);
        assert_eq!(m & 0o077, 0, "{} has mode {m:o}", entry.display());
    }
    p.stop();

    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = gestore(&["serve", "--config", &path(&p.config)], None);
    assert_ne!(code(&out), 0);
    let err = text(&out.stderr);
    assert!(err.contains("chmod 700"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    let out = gestore(&["mailbox", "--config", &path(&p.config), "list"], None);
    assert_ne!(code(&out), 0);
    assert!(
        text(&out.stderr).contains("chmod 700"),
        "{}",
        text(&out.stderr)
    );
}

/// Every file and folder under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

/// Item 5: a store that lost its database, or whose database was damaged in the middle, is
/// not started afresh: `serve` and `log verify` refuse it, `store check` says what is wrong.
#[test]
fn a_store_that_lost_or_damaged_its_log_is_refused_and_store_check_says_why() {
    let mut p = Provider::new(&["mario", "giulia"]);
    p.start();
    for n in 0..3 {
        let out = smtplib(
            p.submission,
            "mario",
            &[addr("giulia")],
            &format!(
                "From: {}\r\nTo: {}\r\nSubject: n{n}\r\n\r\n{}\r\n",
                addr("mario"),
                addr("giulia"),
                "riga di testo ".repeat(60)
            ),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    p.wait_events("consegna-emessa", 3);
    let check = |p: &Provider| gestore(&["store", "--config", &path(&p.config), "check"], None);
    // While it runs, through the admin socket.
    let out = check(&p);
    assert_eq!(code(&out), 0, "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        text(&out.stdout).contains("store intact"),
        "{}",
        text(&out.stdout)
    );
    p.stop();
    let out = check(&p);
    assert_eq!(code(&out), 0, "{}", text(&out.stdout));

    // The database deleted: refused, not started empty.
    let data = p.data();
    let saved = p.dir.path().join("saved.sqlite");
    std::fs::copy(data.join("gestore.sqlite"), &saved).unwrap();
    for f in ["gestore.sqlite", "gestore.sqlite-wal", "gestore.sqlite-shm"] {
        let _ = std::fs::remove_file(data.join(f));
    }
    let out = gestore(&["serve", "--config", &path(&p.config)], None);
    assert_ne!(code(&out), 0);
    assert!(
        text(&out.stderr).contains("lost events"),
        "{}",
        text(&out.stderr)
    );
    // Refused as found: no empty database made in its place.
    assert!(!data.join("gestore.sqlite").exists());
    let out = gestore(&["log", "--config", &path(&p.config), "verify"], None);
    assert_ne!(code(&out), 0, "{}", text(&out.stdout));
    assert!(
        !text(&out.stdout).contains("intact"),
        "{}",
        text(&out.stdout)
    );
    let out = check(&p);
    assert_eq!(code(&out), 1, "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("PROBLEM"),
        "{}",
        text(&out.stdout)
    );

    // Back from the copy, then damaged in the middle: refused too.
    for f in ["gestore.sqlite", "gestore.sqlite-wal", "gestore.sqlite-shm"] {
        let _ = std::fs::remove_file(data.join(f));
    }
    std::fs::copy(&saved, data.join("gestore.sqlite")).unwrap();
    let out = check(&p);
    assert_eq!(code(&out), 0, "{}", text(&out.stdout));
    let mut bytes = std::fs::read(data.join("gestore.sqlite")).unwrap();
    let mezzo = bytes.len() / 2 / 4096 * 4096;
    for b in &mut bytes[mezzo + 100..mezzo + 4000] {
        *b ^= 0x5a;
    }
    std::fs::write(data.join("gestore.sqlite"), bytes).unwrap();
    let out = gestore(&["serve", "--config", &path(&p.config)], None);
    assert_ne!(code(&out), 0);
    let err = text(&out.stderr);
    assert!(err.contains("damaged"), "{err}");
    let out = check(&p);
    assert_eq!(code(&out), 1, "{}", text(&out.stdout));
}

/// Item 5: `log.head` is sealed with the provider's key, so a head rewritten to match an
/// older database is refused; `gestore store adopt` (provider stopped) seals the head of a
/// backup restored on purpose, and the provider starts on it again.
#[test]
fn a_forged_log_head_is_refused_and_store_adopt_reseals_a_restored_backup() {
    let mut p = Provider::new(&["mario", "giulia"]);
    // Message `n`, then wait until the log holds `logged` deliveries.
    let send_one = |p: &Provider, n: usize, logged: usize| {
        let out = smtplib(
            p.submission,
            "mario",
            &[addr("giulia")],
            &format!(
                "From: {}\r\nTo: {}\r\nSubject: n{n}\r\n\r\nciao\r\n",
                addr("mario"),
                addr("giulia")
            ),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        p.wait_events("consegna-emessa", logged);
    };
    p.start();
    send_one(&p, 1, 1);
    p.stop();
    let data = p.data();
    let head = data.join("log.head");
    let files = ["gestore.sqlite", "gestore.sqlite-wal", "gestore.sqlite-shm"];
    let backup = p.dir.path().join("backup");
    std::fs::create_dir(&backup).unwrap();
    for f in files {
        let _ = std::fs::copy(data.join(f), backup.join(f));
    }
    let old_head = std::fs::read_to_string(&head).unwrap();
    assert!(old_head.contains("\nseal "), "{old_head}");
    p.start();
    let adopt = |p: &Provider| gestore(&["store", "--config", &path(&p.config), "adopt"], None);
    let out = adopt(&p);
    assert_ne!(code(&out), 0, "adopt must refuse while the provider runs");
    assert!(
        text(&out.stderr).contains("stop it first"),
        "{}",
        text(&out.stderr)
    );
    send_one(&p, 2, 2);
    p.stop();

    // The backup put back: events are missing, refused.
    for f in files {
        let _ = std::fs::remove_file(data.join(f));
        let _ = std::fs::copy(backup.join(f), data.join(f));
    }
    let serve = |p: &Provider| gestore(&["serve", "--config", &path(&p.config)], None);
    let out = serve(&p);
    assert_ne!(code(&out), 0);
    assert!(
        text(&out.stderr).contains("lost events"),
        "{}",
        text(&out.stderr)
    );

    // A head forged to name the backup's last event, without the key: the checksum is right,
    // the seal missing. Unsealed, this file would have let the shorter log through.
    let corpo: String = old_head
        .lines()
        .filter(|l| {
            l.starts_with("gestore log head") || l.starts_with("seq ") || l.starts_with("hash ")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    use sha2::Digest as _;
    let sum: String = sha2::Sha256::digest(corpo.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::write(&head, format!("{corpo}check {sum}\n")).unwrap();
    let out = serve(&p);
    assert_ne!(code(&out), 0);
    assert!(
        text(&out.stderr).contains("not sealed"),
        "{}",
        text(&out.stderr)
    );

    // The operator restores on purpose: adopt checks the chain and seals its head.
    let out = adopt(&p);
    assert_eq!(code(&out), 0, "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        text(&out.stdout).contains("sealed"),
        "{}",
        text(&out.stdout)
    );
    let resealed = std::fs::read_to_string(&head).unwrap();
    assert!(resealed.contains("\nseal "), "{resealed}");
    let out = gestore(&["store", "--config", &path(&p.config), "check"], None);
    assert_eq!(code(&out), 0, "{}", text(&out.stdout));
    p.start();
    // The restored backup lost message 2's events: its log holds 1, and now 3.
    send_one(&p, 3, 2);
    p.stop();

    // A new signing key (here a new dev PKI): the old seal is another key's, refused until
    // the operator adopts the head with the new key.
    std::fs::remove_dir_all(data.join("pki")).unwrap();
    let out = serve(&p);
    assert_ne!(code(&out), 0);
    assert!(
        text(&out.stderr).contains("another key"),
        "{}",
        text(&out.stderr)
    );
    let out = adopt(&p);
    assert_eq!(code(&out), 0, "{}{}", text(&out.stdout), text(&out.stderr));
    p.start();
    send_one(&p, 4, 3);
    p.stop();
}

/// Logs in with Python from the loopback address `src` (Linux answers on all of
/// 127.0.0.0/8, so each address is another client): `smtp` (STARTTLS, AUTH PLAIN) or `imap`
/// (implicit TLS). Prints `OK` or `NO <reply>` for each password, in one connection.
const LOGIN: &str = r#"
import imaplib, smtplib, socket, ssl, sys
proto, src, port, user = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
if proto == 'smtp':
    s = smtplib.SMTP('127.0.0.1', port, timeout=30, source_address=(src, 0))
    s.starttls(context=ctx); s.ehlo()
    for pw in sys.argv[5:]:
        try:
            s.user, s.password = user, pw
            s.auth('PLAIN', s.auth_plain); print('OK')
        except smtplib.SMTPServerDisconnected as e:
            print('NO closed'); break
        except smtplib.SMTPException as e:
            print('NO', e)
elif proto == 'pop3':
    import poplib
    class P(poplib.POP3_SSL):
        def _create_socket(self, timeout):
            raw = socket.create_connection((self.host, self.port), timeout, source_address=(src, 0))
            return self.context.wrap_socket(raw, server_hostname=self.host)
    for pw in sys.argv[5:]:
        try:
            c = P('127.0.0.1', port, context=ctx); c.user(user); c.pass_(pw); print('OK'); c.quit()
        except poplib.error_proto as e:
            print('NO', e)
else:
    class C(imaplib.IMAP4_SSL):
        def _create_socket(self, timeout):
            raw = socket.create_connection((self.host, self.port), timeout, source_address=(src, 0))
            return self.ssl_context.wrap_socket(raw, server_hostname=self.host)
    for pw in sys.argv[5:]:
        try:
            c = C('127.0.0.1', port, ssl_context=ctx); c.login(user, pw); print('OK'); c.logout()
        except imaplib.IMAP4.error as e:
            print('NO', e)
"#;

fn login(proto: &str, src: &str, port: u16, user: &str, passwords: &[&str]) -> Vec<String> {
    let mut args = vec!["-c", LOGIN, proto, src];
    let port = port.to_string();
    args.push(&port);
    args.push(user);
    args.extend_from_slice(passwords);
    let out = run("python3", &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).lines().map(str::to_string).collect()
}

/// Item 6: silent sockets from one address neither fill a listener for everybody nor stay
/// for five minutes, IMAP included; each cap that bites says so in a log line.
#[test]
fn silent_sockets_from_one_address_do_not_lock_out_the_others() {
    use std::io::Read;
    use std::net::TcpStream;
    let mut p = Provider::new(&["mario"]);
    p.extra = "[limits]\nmax_connections_per_ip = 4\nlogin_timeout_seconds = 3\n".into();
    p.write_config();
    p.start();
    let open = |port: u16, n: usize| -> Vec<TcpStream> {
        (0..n)
            .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
            .collect()
    };
    let first_line = |s: &mut TcpStream| {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 200];
        let n = s.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let mut smtp = open(p.submission, 4);
    let mut imap = open(p.imap, 8); // IMAP allows twice the per-address cap
    std::thread::sleep(Duration::from_millis(300));
    let mut over = TcpStream::connect(("127.0.0.1", p.submission)).unwrap();
    assert!(first_line(&mut over).starts_with("421 4.7.0"));
    let mut over = TcpStream::connect(("127.0.0.1", p.imap)).unwrap();
    assert!(first_line(&mut over).starts_with("* BYE"));
    let line = p.wait_error("connection from 127.0.0.1 refused");
    assert!(line.contains("max_connections_per_ip"), "{line}");
    // Another client logs in meanwhile, on both.
    assert_eq!(
        login(
            "smtp",
            "127.0.0.2",
            p.submission,
            &addr("mario"),
            &["pw-mario"]
        ),
        ["OK"]
    );
    assert_eq!(
        login("imap", "127.0.0.2", p.imaps, &addr("mario"), &["pw-mario"]),
        ["OK"]
    );
    // The silent ones are closed at the login timeout, not after five (or thirty) minutes.
    let started = std::time::Instant::now();
    for s in smtp.iter_mut().chain(imap.iter_mut()) {
        let mut all = String::new();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.read_to_string(&mut all);
        assert!(
            all.contains("Login timeout") || all.contains("login timeout"),
            "{all}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(8));
    // And their places are free again.
    let mut again = TcpStream::connect(("127.0.0.1", p.submission)).unwrap();
    assert!(first_line(&mut again).starts_with("220"));
}

/// Item 6: the open-files limit is raised to the hard one, and the listeners' caps are fitted
/// into it, so a flood of connections cannot starve the store of descriptors.
#[test]
fn the_connection_caps_fit_in_the_open_files_limit() {
    use std::net::TcpStream;
    let mut p = Provider::new(&["mario"]);
    p.extra = "[limits]\nmax_connections_per_ip = 1000\n".into();
    p.write_config();
    // Hard limit 600, soft 300: gestore raises to 600 and fits 7 listeners into 600 - 512.
    p.prelude = Some("ulimit -Sn 300 && ulimit -Hn 600 || exit 99".into());
    p.start();
    let line = p.wait_error("open files limit 600");
    assert!(line.contains("at most 12 connections"), "{line}");
    let limit = std::fs::read_to_string(format!("/proc/{}/limits", p.pid())).unwrap();
    let row = limit
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert!(
        row.split_whitespace().filter(|w| *w == "600").count() == 2,
        "{row}"
    );
    let held: Vec<TcpStream> = (0..12)
        .map(|_| TcpStream::connect(("127.0.0.1", p.imap)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut over = TcpStream::connect(("127.0.0.1", p.imap)).unwrap();
    over.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut bye = String::new();
    let _ = std::io::Read::read_to_string(&mut over, &mut bye);
    assert!(bye.starts_with("* BYE"), "{bye}");
    let _ = p.wait_error("the listener is full");
    // Still serving: a delivery goes through (store, signing, log all have descriptors).
    let out = smtplib(
        p.submission,
        "mario",
        &[addr("mario")],
        &format!(
            "From: {0}\r\nTo: {0}\r\nSubject: fd\r\n\r\nx\r\n",
            addr("mario")
        ),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    p.wait_events("consegna-emessa", 1);
    drop(held);
}

/// Item 7: failed logins are counted per address and per box across SMTP and IMAP, block
/// further attempts (even with the right password), and each is logged with the address.
#[test]
fn password_guessing_is_blocked_across_protocols_and_logged() {
    let mut p = Provider::new(&["mario", "giulia", "anna"]);
    p.extra = "[limits]\nlogin_failures = 3\n".into();
    p.write_config();
    p.start();
    let (smtp, imap, pop3) = (p.submission, p.imaps, p.pop3s);
    // Giulia logs in from home once: that address stays known to her box.
    assert_eq!(
        login("imap", "127.0.0.9", imap, &addr("giulia"), &["pw-giulia"]),
        ["OK"]
    );

    // One address guesses at several boxes: three failures block it, whatever it tries.
    let r = login("smtp", "127.0.0.2", smtp, &addr("mario"), &["x1", "x2"]);
    assert!(r.iter().all(|l| l.starts_with("NO")), "{r:?}");
    let r = login("imap", "127.0.0.2", imap, &addr("anna"), &["x3", "pw-anna"]);
    assert_eq!(r.len(), 2);
    assert!(r[0].starts_with("NO"), "{r:?}");
    assert!(
        r[1].contains("too many failed logins"),
        "right password refused: {r:?}"
    );
    let r = login("smtp", "127.0.0.2", smtp, &addr("mario"), &["pw-mario"]);
    assert!(r[0].starts_with("NO") && r[0].contains("454"), "{r:?}");
    let r = login("pop3", "127.0.0.2", pop3, &addr("mario"), &["pw-mario"]);
    assert!(r[0].starts_with("NO") && r[0].contains("SYS/TEMP"), "{r:?}");
    // Others are not affected.
    assert_eq!(
        login("smtp", "127.0.0.3", smtp, &addr("mario"), &["pw-mario"]),
        ["OK"]
    );

    // Guesses at one box spread over addresses block it to new addresses, not to its owner.
    for (proto, src, port) in [
        ("imap", "127.0.0.4", imap),
        ("smtp", "127.0.0.5", smtp),
        ("pop3", "127.0.0.6", pop3),
    ] {
        let r = login(proto, src, port, &addr("giulia"), &["sbagliata"]);
        assert!(r[0].starts_with("NO"), "{r:?}");
    }
    let r = login("imap", "127.0.0.7", imap, &addr("giulia"), &["pw-giulia"]);
    assert!(r[0].contains("too many failed logins"), "{r:?}");
    assert_eq!(
        login("imap", "127.0.0.9", imap, &addr("giulia"), &["pw-giulia"]),
        ["OK"]
    );

    // Every failure is one fail2ban-style line with the address, the service and the box.
    let failed = p.errors("auth failed ");
    assert_eq!(failed.len(), 6, "{failed:?}");
    assert!(
        failed[0].contains("service=smtp ip=127.0.0.2 user=mario@"),
        "{failed:?}"
    );
    for line in [
        "service=imap ip=127.0.0.4 user=giulia@",
        "service=pop3 ip=127.0.0.6 user=giulia@",
    ] {
        assert!(
            failed.iter().any(|l| l.contains(line)),
            "{line}: {failed:?}"
        );
    }
    assert!(!p.errors("auth blocked").is_empty());

    // The fail2ban filter of docs/configuration.md (fail2ban regexes are Python's) finds the
    // client's address in each of those lines, and nothing in a relay warning that quotes a
    // peer's reply made to look like one.
    let page = include_str!("../../../../docs/configuration.md");
    let filter = page
        .lines()
        .find_map(|l| l.strip_prefix("failregex = "))
        .expect("the failregex line");
    let forged = "2026-12-03T10:00:00.000000Z  WARN lavoro{tipo=relay msgid=x attempt=1}: \
                  pec_provider::lavoratore: relay:x: attempt 1 failed: mx said 451 \
                  gestore::auth: auth failed service=imap ip=192.0.2.9 user=x";
    let script = r#"
import re, sys
rx = re.compile(sys.argv[1].replace('<HOST>', r'(?P<host>\S+)'))
for line in sys.stdin.read().splitlines():
    m = rx.search(line)
    print(m.group('host') if m else '-')
"#;
    let input = failed.join("\n") + "\n" + forged + "\n";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script, filter])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input.as_bytes()).expect("write");
    }
    let out = child.wait_with_output().expect("python3");
    let hosts: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    let expected: Vec<String> = failed
        .iter()
        .map(|l| {
            let ip = l.split(" ip=").nth(1).expect("ip=");
            ip.split(' ').next().expect("address").to_string()
        })
        .chain(["-".to_string()])
        .collect();
    assert_eq!(hosts, expected, "{filter}");
}

/// `--log-format json`: each diagnostic is one JSON object, failed logins under the
/// `gestore::auth` target with the same text as in the text format.
#[test]
fn diagnostics_can_be_json_lines() {
    if !have("python3") {
        return;
    }
    let mut p = Provider::new(&["mario"]);
    p.options = vec!["--log-format".into(), "json".into()];
    p.start();
    let imap = p.imaps;
    let answers = login("imap", "127.0.0.3", imap, &addr("mario"), &["wrong"]);
    assert!(answers[0].starts_with("NO"), "{answers:?}");
    let line = p.wait_error("auth failed");
    let event: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
    assert_eq!(event["target"], "gestore::auth", "{line}");
    assert_eq!(event["level"], "WARN", "{line}");
    let message = event["fields"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("auth failed service=imap ip=127.0.0.3 user=mario@"),
        "{line}"
    );
    assert!(event["span"]["peer"].as_str().is_some(), "{line}");
}

/// Item 8: two sessions moving the same messages at the same moment leave one copy of each.
#[test]
fn concurrent_moves_of_the_same_message_leave_one_copy() {
    let mut p = Provider::new(&["mario"]);
    p.start();
    let script = r#"
import imaplib, ssl, sys, threading
port, user, pw, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def session():
    c = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx); c.login(user, pw); return c
a = session()
a.create('Trash')
for i in range(n):
    a.append('INBOX', None, None, ('Subject: m%d\r\n\r\ncorpo %d\r\n' % (i, i)).encode())
b = session()
a.select('INBOX'); b.select('INBOX')
typ, data = a.uid('SEARCH', None, 'ALL')
uids = data[0].split()
for uid in uids:
    gate = threading.Barrier(2)
    def move(c):
        gate.wait(); c.uid('MOVE', uid, 'Trash')
    ts = [threading.Thread(target=move, args=(c,)) for c in (a, b)]
    [t.start() for t in ts]; [t.join() for t in ts]
c = session()
print(c.select('INBOX')[1][0].decode(), c.select('Trash')[1][0].decode())
"#;
    let out = run(
        "python3",
        &[
            "-c",
            script,
            &p.imaps.to_string(),
            &addr("mario"),
            "pw-mario",
            "25",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "0 25", "INBOX and Trash counts");
}

/// Item 8: clients that pipeline fetches of a large message and never read cannot make the
/// process hold a copy per client: the listener's fetch memory bounds them all.
#[test]
fn clients_that_never_read_their_fetches_cannot_exhaust_memory() {
    let mut p = Provider::new(&["mario", "giulia"]);
    p.extra = "[limits]\nimap_fetch_memory_mb = 16\n".into();
    p.write_config();
    p.start();
    let script = r#"
import imaplib, socket, ssl, sys, time
port, user, pw, other, other_pw = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
body = ('x' * 998 + '\r\n') * 10000
for u, p in ((user, pw), (other, other_pw)):
    a = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx); a.login(u, p)
    a.append('INBOX', None, None, ('Subject: grande\r\n\r\n' + body).encode())
    a.logout()
print('ready', flush=True)
held = []
for i in range(6):
    raw = socket.socket(); raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(('127.0.0.1', port))
    s = ctx.wrap_socket(raw)
    s.recv(4096)
    s.sendall(('l LOGIN %s %s\r\ns SELECT INBOX\r\n' % (user, pw)).encode())
    time.sleep(0.3); s.recv(65536)
    s.sendall(b''.join(b'f%d FETCH 1 BODY[]\r\n' % k for k in range(10)))
    held.append(s)
print('held', flush=True)
time.sleep(4)
# The first client reads at last: it gets its whole message (the budget was its own).
s = held[0]; s.settimeout(30); got = b''
while got.count(b'x' * 998) < 10000:
    chunk = s.recv(1 << 16)
    if not chunk: break
    got += chunk
print('done %d' % got.count(b'x' * 998), flush=True)
# Another box is not kept waiting by the first one's unread fetches.
b = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx, timeout=60); b.login(other, other_pw)
b.select('INBOX'); typ, data = b.fetch('1', '(BODY[])')
print('other %s %d' % (typ, data[0][1].count(b'x' * 998) if typ == 'OK' else 0), flush=True)
"#;
    let mut child = std::process::Command::new("python3")
        .args([
            "-c",
            script,
            &p.imaps.to_string(),
            &addr("mario"),
            "pw-mario",
            &addr("giulia"),
            "pw-giulia",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let rss = |pid: u32| -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let l = s.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
    };
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    // What the APPEND itself used is given back first.
    std::thread::sleep(Duration::from_millis(1500));
    let before = rss(p.pid());
    assert_eq!(lines.next().unwrap().unwrap(), "held");
    let mut peak = before;
    for _ in 0..30 {
        peak = peak.max(rss(p.pid()));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        lines.next().unwrap().unwrap(),
        "done 10000",
        "the first client's message"
    );
    assert_eq!(
        lines.next().unwrap().unwrap(),
        "other OK 10000",
        "another box's fetch, while the first box's clients still do not read"
    );
    let _ = child.wait();
    // Six clients of a 10 MB message held over 120 MB before (three copies each); now one
    // message at a time fits the 16 MB budget, sent without a copy.
    assert!(
        peak < before + 40,
        "RSS went from {before} MB to {peak} MB with 6 clients not reading"
    );
}

/// Item 9: the SMTP limits of RFC 5321 and RFC 6531 hold on a running provider.
#[test]
fn oversized_sizes_long_lines_and_non_ascii_addresses_are_refused() {
    let mut p = Provider::new(&["mario"]);
    p.start();
    let script = r#"
import smtplib, ssl, sys
port, user = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP('127.0.0.1', port, timeout=30); s.starttls(context=ctx); s.login(user, 'pw-mario')
s.command_encoding = 'utf-8'
print(s.docmd('MAIL FROM:<%s> SIZE=99999999999999999999999' % user)[0])
print(s.docmd('MAIL FROM:<citt\u00e0@pec.prova.test>')[0])
print(s.docmd('MAIL FROM:<%s>' % user)[0])
print(s.docmd('RCPT TO:<ren\u00e9@pec.prova.test>')[0])
print(s.docmd('RCPT TO:<%s>' % user)[0])
print(s.docmd('DATA')[0])
s.send(('From: %s\r\nTo: %s\r\nSubject: lunga\r\n\r\n%s\r\n.\r\n' % (user, user, 'x' * 1000000)).encode())
print(s.getreply()[0])
"#;
    let out = run(
        "python3",
        &["-c", script, &p.submission.to_string(), &addr("mario")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let codes: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    assert_eq!(codes, ["552", "553", "250", "553", "250", "354", "554"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(p.events("accettazione-emessa").is_empty());
    assert!(p.events("non-accettazione-emessa").is_empty());
}

/// Item 9: subjects outside Latin-1 (€, curly quotes, en dash) keep every character in the
/// texts of the envelope and the receipts.
#[test]
fn a_subject_outside_latin1_keeps_its_characters_in_every_text() {
    let mut p = Provider::new(&["mario", "giulia"]);
    p.start();
    let oggetto = "Fattura € 10 – “saldo”";
    let encoded = format!("=?UTF-8?Q?{}?=", q_encode(oggetto.as_bytes()));
    let out = smtplib(
        p.submission,
        "mario",
        &[addr("giulia")],
        &format!(
            "From: {}\r\nTo: {}\r\nSubject: {encoded}\r\n\r\nx\r\n",
            addr("mario"),
            addr("giulia")
        ),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    p.wait_events("consegna-emessa", 1);
    p.stop();
    let mut checked = 0;
    for m in p
        .messages("mario", "INBOX")
        .iter()
        .chain(&p.messages("giulia", "INBOX"))
    {
        verified(&p, m);
        let dir = p.dir.path().join(format!("x{checked}"));
        let out = gestore(&["verify", "--extract", &path(&dir), "-"], Some(m));
        assert_eq!(code(&out), 0, "{}", text(&out.stdout));
        let json = gestore(&["verify", "--json", "-"], Some(m));
        let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        assert!(
            v[0]["headers"]["subject"]
                .as_str()
                .unwrap()
                .ends_with(oggetto),
            "{v}"
        );
        // The human text, decoded by its charset, names the subject whole.
        let plain = text_plain(m);
        assert!(plain.contains(oggetto), "{plain}");
        checked += 1;
    }
    assert_eq!(checked, 3, "acceptance, delivery receipt, envelope");
}

/// RFC 2047 `Q` encoding of `b`'s bytes (letters and digits as they are).
fn q_encode(b: &[u8]) -> String {
    b.iter()
        .map(|c| match c {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (*c as char).to_string(),
            b' ' => "_".to_string(),
            _ => format!("={c:02X}"),
        })
        .collect()
}

/// The first text/plain part of a message, decoded (Python's email package).
fn text_plain(raw: &[u8]) -> String {
    let script = r#"
import email, sys
from email import policy
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.default)
for part in m.walk():
    if part.get_content_type() == 'text/plain':
        print(part.get_content()); break
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), raw).unwrap();
    text(&child.wait_with_output().unwrap().stdout)
}

/// Item 2 (review): a receipt for a box deleted since it sent the message is taken (250),
/// logged, and stops the 12 h / 24 h checks; it is not refused for days.
#[test]
fn a_receipt_for_a_deleted_box_still_closes_the_checks() {
    let mut pair = Pair::new(&["mario"], &["anna"], "");
    pair.b.stop();
    send(&pair.a, "mario@pec.a.test", "anna@pec.b.test", "addio");
    pair.a.wait_events("accettazione-emessa", 1);
    let out = gestore(
        &[
            "mailbox",
            "--config",
            &path(&pair.a.config),
            "remove",
            &format!("mario@{A}"),
        ],
        None,
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    pair.b.start();
    crate::between::advance(&pair.a, "2m"); // the relay's retry
    pair.a.wait_events("ricevuta-ricevuta", 2);
    crate::between::advance(&pair.a, "25h");
    std::thread::sleep(Duration::from_millis(2500));
    assert!(pair.a.events("scadenza-emessa").is_empty());
}
