//! Viruses at the access and receiving points (issue 6, PEC-SPEC §2.3, §4.5, §4.10, §4.11)
//! against a real clamd (`scripts/clamd start`) holding one test signature.

use crate::between::*;
use crate::provider::*;
use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/clamd")
}

/// A private clamd, stopped when dropped (also when a test fails).
pub struct Clamd {
    dir: tempfile::TempDir,
    /// Its Unix socket (the same after [`Clamd::restart`]).
    pub socket: String,
    /// Its `127.0.0.1:port`.
    tcp: String,
}

impl Clamd {
    /// `None` (the test skips) when clamd is not installed, unless GESTORE_REQUIRE_TOOLS=1.
    pub fn start() -> Option<Clamd> {
        let installed = ["/usr/sbin/clamd", "/usr/local/sbin/clamd"]
            .iter()
            .any(|p| Path::new(p).exists())
            || Command::new("sh")
                .args(["-c", "command -v clamd"])
                .output()
                .is_ok_and(|o| o.status.success());
        if !installed {
            if std::env::var("GESTORE_REQUIRE_TOOLS").as_deref() == Ok("1") {
                panic!("clamd is required (GESTORE_REQUIRE_TOOLS=1): run scripts/clamd install");
            }
            eprintln!("skipping: clamd not installed (scripts/clamd install)");
            return None;
        }
        let mut c = Clamd {
            dir: tempfile::tempdir().unwrap(),
            socket: String::new(),
            tcp: String::new(),
        };
        c.restart();
        Some(c)
    }

    /// Starts it (again, after [`Clamd::stop`] or a kill) in the same directory.
    pub fn restart(&mut self) {
        let out = Command::new(script())
            .arg("start")
            .arg(self.dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "clamd: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let value = |key: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .unwrap_or_else(|| panic!("no {key} in {stdout:?}"))
                .to_string()
        };
        self.socket = value("socket=");
        self.tcp = value("tcp=");
    }

    /// Its pid file (`scripts/clamd` writes it, clamd fills it).
    pub fn pid_file(&self) -> PathBuf {
        self.dir.path().join("clamd.pid")
    }

    fn stop(&self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

impl Drop for Clamd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The bytes the test signature matches.
fn testfile() -> Vec<u8> {
    let out = Command::new(script()).arg("testfile").output().unwrap();
    assert!(out.status.success(), "testfile: {}", text(&out.stderr));
    out.stdout
}

/// A zip bomb made by `scripts/zipbomb ARGS` (at run time: the repository holds no binary).
fn zipbomb(args: &[&str]) -> Vec<u8> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/zipbomb");
    let out = Command::new(script).args(args).output().unwrap();
    assert!(out.status.success(), "zipbomb: {}", text(&out.stderr));
    out.stdout
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A message from `from` to `to` with the test file as an attachment.
fn infected(from: &str, to: &str, subject: &str) -> String {
    attached(from, to, subject, "fattura.bin", &testfile())
}

/// A message from `from` to `to` with `bytes` as the attachment `filename` (base64 in lines
/// of 76 characters, as mail clients send it).
pub fn attached(from: &str, to: &str, subject: &str, filename: &str, bytes: &[u8]) -> String {
    let b64 = base64(bytes);
    let mut lines = String::with_capacity(b64.len() + b64.len() / 38 + 2);
    for line in b64.as_bytes().chunks(76) {
        lines.push_str(std::str::from_utf8(line).unwrap());
        lines.push_str("\r\n");
    }
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@client>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain\r\n\r\nin allegato\r\n\
         --b1\r\nContent-Type: application/octet-stream\r\n\
         Content-Disposition: attachment; filename=\"{filename}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{lines}--b1--\r\n"
    )
}

/// Our provider with mario and anna, `extra` added to its configuration, started.
pub fn started(extra: &str) -> Provider {
    let mut p = Provider::on(DOMAIN, "Gestore di Prova S.p.A.", extra, &["mario", "anna"]);
    p.start();
    p
}

pub fn antivirus(clamd: &str, access: bool) -> String {
    format!("[antivirus]\nclamd = \"{clamd}\"\naccess = {access}\n")
}

#[test]
fn an_infected_submission_gets_non_accettazione_virus_and_infected_inbound_a_554() {
    let Some(clamd) = Clamd::start() else { return };
    let mut p = started(&antivirus(&clamd.socket, true));
    let out = smtplib(
        p.submission,
        "mario",
        &[addr("anna")],
        &infected(&addr("mario"), &addr("anna"), "infetto"),
    );
    assert!(out.status.success(), "smtplib: {}", text(&out.stderr));
    p.wait_events("non-accettazione-emessa", 1);
    assert!(p.events("busta-emessa").is_empty());
    let motivo = &p.events("non-accettazione-emessa")[0];
    assert!(motivo.contains("\"motivo\":\"virus\""), "{motivo}");
    assert!(motivo.contains("Gestore.Test.Virus"), "{motivo}");
    let rilevato = &p.events("virus-rilevato")[0];
    assert!(
        rilevato.contains(
            "\"punto\":\"accesso\",\"virus\":\"Gestore.Test.Virus.UNOFFICIAL\",\"quarantena\":true"
        ),
        "{rilevato}"
    );
    // Infected ordinary mail at the receiving point: refused, never stored (PEC-SPEC §2.3).
    let raw = infected("x@example.org", &addr("anna"), "fuori");
    let out = deliver_inbound(&p, "x@example.org", &addr("anna"), raw.as_bytes());
    assert!(!out.status.success(), "infected ordinary mail accepted");
    assert!(text(&out.stderr).contains("554"), "{}", text(&out.stderr));
    p.wait_events("messaggio-rifiutato", 1);
    let rilevato = p.events("virus-rilevato");
    assert_eq!(rilevato.len(), 2, "{rilevato:?}");
    assert!(
        rilevato[1].contains("\"punto\":\"ricezione\""),
        "{rilevato:?}"
    );
    assert!(rilevato[1].contains("\"quarantena\":false"), "{rilevato:?}");
    std::thread::sleep(Duration::from_millis(1500));
    p.stop();
    let inbox = p.messages("mario", "INBOX");
    assert_eq!(inbox.len(), 1, "mario's INBOX");
    assert!(find(&inbox[0], b"X-VerificaSicurezza: errore").is_some());
    assert!(find(&inbox[0], b"AVVISO DI NON ACCETTAZIONE PER VIRUS: infetto").is_some());
    let (kind, _) = verified(&p, &inbox[0]);
    assert_eq!(kind, "non-accettazione-virus");
    let xml = daticert_valid(&p, &inbox[0]);
    assert!(
        xml.contains("tipo=\"non-accettazione\"") && xml.contains("errore=\"virus\""),
        "{xml}"
    );
    assert!(xml.contains("Gestore.Test.Virus"), "{xml}");
    assert!(p.messages("anna", "INBOX").is_empty(), "anna got nothing");
    assert!(p.messages("mario", "Sent").is_empty(), "nothing sent");
    // The original, unaltered, in the quarantine.
    let q = p.messages("posta-certificata", "Quarantena");
    assert_eq!(q.len(), 1);
    assert!(find(&q[0], b"Subject: infetto").is_some());
}

#[test]
fn clean_mail_passes_the_scanner() {
    let Some(clamd) = Clamd::start() else { return };
    let mut p = started(&antivirus(&clamd.tcp, true));
    let message = format!(
        "From: {}\r\nTo: {}\r\nSubject: pulito\r\n\r\nciao\r\n",
        addr("mario"),
        addr("anna")
    );
    let out = smtplib(p.submission, "mario", &[addr("anna")], &message);
    assert!(out.status.success(), "smtplib: {}", text(&out.stderr));
    p.wait_events("consegna-emessa", 1);
    p.stop();
    assert_eq!(p.messages("anna", "INBOX").len(), 1);
    assert_eq!(
        p.messages("mario", "INBOX").len(),
        2,
        "accettazione, consegna"
    );
    assert!(p.messages("posta-certificata", "Quarantena").is_empty());
}

#[test]
fn without_the_scanner_nothing_is_accepted_and_the_client_retries() {
    let Some(clamd) = Clamd::start() else { return };
    let mut p = started(&antivirus(&clamd.tcp, true));
    clamd.stop();
    let message = format!(
        "From: {}\r\nTo: {}\r\nSubject: attesa\r\n\r\nciao\r\n",
        addr("mario"),
        addr("anna")
    );
    let out = smtplib(p.submission, "mario", &[addr("anna")], &message);
    assert!(!out.status.success(), "accepted without a scan");
    let err = text(&out.stderr);
    assert!(err.contains("451"), "{err}");
    assert!(err.contains("virus scanner unavailable"), "{err}");
    // The receiving point too.
    let raw = format!(
        "From: x@example.org\r\nTo: {}\r\nSubject: fuori\r\n\r\nciao\r\n",
        addr("anna")
    );
    let out = deliver_inbound(&p, "x@example.org", &addr("anna"), raw.as_bytes());
    assert!(!out.status.success(), "received without a scan");
    assert!(text(&out.stderr).contains("451"), "{}", text(&out.stderr));
    std::thread::sleep(Duration::from_millis(1500));
    p.stop();
    for (user, folder) in [("mario", "INBOX"), ("mario", "Sent"), ("anna", "INBOX")] {
        assert!(p.messages(user, folder).is_empty(), "{user} {folder}");
    }
    assert!(p.events("invio-ricevuto").is_empty());
}

#[test]
fn an_infected_envelope_gives_rilevazione_and_mancata_consegna_per_virus() {
    let Some(clamd) = Clamd::start() else { return };
    // Neither scans at its access point, so A lets the message through and B catches it.
    let mut pair = Pair::new(&["mario"], &["anna"], &antivirus(&clamd.socket, false));
    let (from, to) = ("mario@pec.a.test", "anna@pec.b.test");
    let out = smtplib_as(
        pair.a.submission,
        from,
        "pw-mario",
        &[to.to_string()],
        &infected(from, to, "virale"),
    );
    assert!(out.status.success(), "smtplib: {}", text(&out.stderr));
    pair.b.wait_events("presa-in-carico-emessa", 1);
    pair.b.wait_events("rilevazione-virus-emessa", 1);
    let rilevato = pair.b.events("virus-rilevato");
    assert_eq!(rilevato.len(), 1, "{rilevato:?}");
    assert!(rilevato[0].contains("\"quarantena\":true"), "{rilevato:?}");
    assert!(
        pair.b.events("mancata-consegna-emessa").is_empty(),
        "B emits no mancata consegna"
    );
    pair.a.wait_events("ricevuta-ricevuta", 2);
    pair.a.wait_events("mancata-consegna-emessa", 1);
    assert!(pair.b.events("consegna-emessa").is_empty());
    // The rilevazione virus closed the transaction: no 12 h / 24 h notice follows.
    advance(&pair.a, "25h");
    std::thread::sleep(Duration::from_millis(2500));
    assert!(pair.a.events("scadenza-emessa").is_empty());
    pair.a.stop();
    pair.b.stop();
    let (a, b) = (&pair.a, &pair.b);

    assert!(b.messages("anna", "INBOX").is_empty(), "not delivered");
    assert_eq!(b.messages("posta-certificata", "Quarantena").len(), 1);
    // A's service box: B's presa in carico and rilevazione virus, both signed by B.
    let service_box = a.messages("posta-certificata", "INBOX");
    let rilevazione: Vec<&Vec<u8>> = service_box
        .iter()
        .filter(|m| find(m, b"X-Ricevuta: rilevazione-virus").is_some())
        .collect();
    assert_eq!(rilevazione.len(), 1);
    let xml = daticert_valid(a, rilevazione[0]);
    assert!(
        xml.contains("tipo=\"rilevazione-virus\"") && xml.contains("errore=\"virus\""),
        "{xml}"
    );
    let mut service: Vec<(String, Option<String>)> =
        service_box.iter().map(|m| verified_by(a, b, m)).collect();
    service.sort();
    assert_eq!(
        service,
        [
            ("presa-in-carico".to_string(), None),
            ("rilevazione-virus".to_string(), Some(to.to_string())),
        ]
    );
    // Mario: our acceptance and our avviso di mancata consegna per virus, signed by A.
    let inbox = a.messages("mario", "INBOX");
    assert_eq!(inbox.len(), 2, "mario's INBOX");
    let notice: Vec<&Vec<u8>> = inbox
        .iter()
        .filter(|m| find(m, b"AVVISO DI MANCATA CONSEGNA PER VIRUS: virale").is_some())
        .collect();
    assert_eq!(notice.len(), 1);
    assert!(find(notice[0], b"X-VerificaSicurezza: errore").is_some());
    let (kind, consegna) = verified_by(a, a, notice[0]);
    assert_eq!(kind, "mancata-consegna-virus");
    assert_eq!(consegna.as_deref(), Some(to));
    let xml = daticert_valid(a, notice[0]);
    assert!(
        xml.contains("tipo=\"errore-consegna\"") && xml.contains("errore=\"virus\""),
        "{xml}"
    );
}

#[test]
fn a_virus_after_a_50_mb_attachment_is_still_found() {
    let Some(clamd) = Clamd::start() else { return };
    let extra = format!(
        "{}[limits]\nmax_message_size = 104857600\nmax_total_size = 104857600\n",
        antivirus(&clamd.socket, true)
    );
    let mut p = started(&extra);
    // 50 MB of attachment (68 MB in base64), then the test file in a second attachment.
    let line = "TG9yZW0gaXBzdW0gZG9sb3Igc2l0IGFtZXQsIGNvbnNlY3RldHVyIGFkaXBpc2NpbmcgZWxpdC4u\r\n";
    let lines = (50 << 20) / 57 + 1; // each line decodes to 57 bytes
    let mut message = format!(
        "From: {}\r\nTo: {}\r\nSubject: grande\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: application/octet-stream\r\n\
         Content-Disposition: attachment; filename=\"grande.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n",
        addr("mario"),
        addr("anna")
    );
    message.reserve(lines * line.len() + 4096);
    for _ in 0..lines {
        message.push_str(line);
    }
    message.push_str(&format!(
        "--b1\r\nContent-Type: application/octet-stream\r\n\
         Content-Disposition: attachment; filename=\"piccolo.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
        base64(&testfile())
    ));
    let out = smtplib(p.submission, "mario", &[addr("anna")], &message);
    assert!(out.status.success(), "smtplib: {}", text(&out.stderr));
    p.wait_events("non-accettazione-emessa", 1);
    p.stop();
    assert!(p.messages("anna", "INBOX").is_empty());
    let inbox = p.messages("mario", "INBOX");
    assert_eq!(inbox.len(), 1);
    assert_eq!(verified(&p, &inbox[0]).0, "non-accettazione-virus");
    assert_eq!(p.messages("posta-certificata", "Quarantena").len(), 1);
}

/// As the service box over IMAP (implicit TLS): the quarantine's message count, then every
/// change a mail client could try on it, each command's status, and the count after.
const QUARANTINE_PROBE: &str = r#"
import imaplib, ssl, sys, json
port, user, password, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx, timeout=30)
m.login(user, password)
typ, data = m.select('Quarantena')
out = {'select': typ, 'count': int(data[0]) if typ == 'OK' else -1}
if mode == 'tamper' and out['count'] > 0:
    out['store'] = m.store('1', '+FLAGS', '(\\Deleted)')[0]
    out['expunge'] = m.expunge()[0]
    out['delete'] = m.delete('Quarantena')[0]
    out['rename'] = m.rename('Quarantena', 'Svuotata')[0]
    out['append'] = m.append('Quarantena', None, None, b'From: x@y\r\n\r\nz\r\n')[0]
    out['copy_in'] = m.copy('1', 'Quarantena')[0]
    m.close()
    typ, data = m.select('Quarantena', readonly=True)
    out['after'] = int(data[0])
m.logout()
print(json.dumps(out))
"#;

fn probe(p: &Provider, password: &str, mode: &str) -> String {
    let out = run(
        "python3",
        &[
            "-c",
            QUARANTINE_PROBE,
            &p.imaps.to_string(),
            &format!("posta-certificata@{DOMAIN}"),
            password,
            mode,
        ],
    );
    assert!(out.status.success(), "python: {}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

#[test]
fn the_quarantine_is_read_only_over_imap_and_purged_after_30_months() {
    let Some(clamd) = Clamd::start() else { return };
    let extra = format!(
        "{}\n[dev]\nadjustable_clock = true\n",
        antivirus(&clamd.socket, true)
    );
    let mut p = started(&extra);
    let out = smtplib(
        p.submission,
        "mario",
        &[addr("anna")],
        &infected(&addr("mario"), &addr("anna"), "quarantena"),
    );
    assert!(out.status.success(), "smtplib: {}", text(&out.stderr));
    p.wait_events("non-accettazione-emessa", 1);
    let out = gestore(
        &[
            "mailbox",
            "--config",
            &path(&p.config),
            "passwd",
            &format!("posta-certificata@{DOMAIN}"),
            "--password",
            "pw-servizio",
        ],
        None,
    );
    assert_eq!(code(&out), 0, "passwd: {}", text(&out.stderr));

    // No mail client of the service box can shorten the retention.
    let tampered = probe(&p, "pw-servizio", "tamper");
    for expected in [
        "\"count\": 1",
        "\"store\": \"OK\"",
        "\"expunge\": \"NO\"",
        "\"delete\": \"NO\"",
        "\"rename\": \"NO\"",
        "\"append\": \"NO\"",
        "\"copy_in\": \"NO\"",
        "\"after\": 1",
    ] {
        assert!(tampered.contains(expected), "{expected} in {tampered}");
    }

    // 29 months on: still kept. 30 months and some days on: removed.
    advance(&p, "880d");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        probe(&p, "pw-servizio", "count").contains("\"count\": 1"),
        "removed before 30 months"
    );
    advance(&p, "40d");
    let mut last = String::new();
    for _ in 0..50 {
        last = probe(&p, "pw-servizio", "count");
        if last.contains("\"count\": 0") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(last.contains("\"count\": 0"), "not purged: {last}");
    p.stop();
    assert!(p.messages("posta-certificata", "Quarantena").is_empty());
    // The notice to the sender is untouched by the purge.
    assert_eq!(p.messages("mario", "INBOX").len(), 1);
}

/// Zip bombs made by `scripts/zipbomb`: subject, its arguments, what clamd calls it with the
/// configuration `scripts/clamd` runs (docs/configuration.md, "clamd for `[antivirus]`").
const BOMBS: [(&str, &[&str], &str); 3] = [
    // One member of 1 GiB of zeros in 1 MB: more than MaxScanSize.
    (
        "bomba-grande",
        &["flat", "1073741824"],
        "Heuristics.Limits.Exceeded.MaxScanSize",
    ),
    // Twenty zips one in the other: deeper than MaxRecursion.
    (
        "bomba-annidata",
        &["nested", "20"],
        "Heuristics.Limits.Exceeded.MaxRecursion",
    ),
    // Twenty overlapping members sharing one 50 MiB kernel (David Fifield's bomb).
    (
        "bomba-sovrapposta",
        &["overlap", "20", "52428800"],
        "Heuristics.Zip.OverlappingFiles",
    ),
];

#[test]
fn zip_bombs_get_non_accettazione_virus_and_are_never_relayed() {
    let Some(clamd) = Clamd::start() else { return };
    let mut p = started(&antivirus(&clamd.socket, true));
    for (n, (subject, args, _)) in BOMBS.iter().enumerate() {
        let bomb = zipbomb(args);
        let message = attached(
            &addr("mario"),
            &addr("anna"),
            subject,
            "archivio.zip",
            &bomb,
        );
        let out = smtplib(p.submission, "mario", &[addr("anna")], &message);
        assert!(out.status.success(), "{subject}: {}", text(&out.stderr));
        p.wait_events("non-accettazione-emessa", n + 1);
    }
    p.stop();
    assert!(p.events("busta-emessa").is_empty());
    // The log names the heuristic for each message (the "clear log line").
    for (subject, _, virus) in BOMBS {
        let about = |tipo: &str| -> Vec<String> {
            p.events(tipo)
                .into_iter()
                .filter(|e| e.contains(&format!("\"oggetto\":\"{subject}\"")))
                .collect()
        };
        let refused = about("non-accettazione-emessa");
        assert_eq!(refused.len(), 1, "{subject}: {refused:?}");
        assert!(
            refused[0].contains("\"motivo\":\"virus\""),
            "{}",
            refused[0]
        );
        assert!(refused[0].contains(virus), "{subject}: {}", refused[0]);
        let found = about("virus-rilevato");
        assert_eq!(found.len(), 1, "{subject}: {found:?}");
        let expected = format!("\"punto\":\"accesso\",\"virus\":\"{virus}\",\"quarantena\":true");
        assert!(found[0].contains(&expected), "{subject}: {}", found[0]);
    }
    // Mario: one signed avviso di non accettazione per virus per bomb, naming it.
    let inbox = p.messages("mario", "INBOX");
    assert_eq!(inbox.len(), BOMBS.len(), "mario's INBOX");
    for (subject, _, virus) in BOMBS {
        let title = format!("AVVISO DI NON ACCETTAZIONE PER VIRUS: {subject}");
        let avvisi: Vec<&Vec<u8>> = inbox
            .iter()
            .filter(|m| find(m, title.as_bytes()).is_some())
            .collect();
        assert_eq!(avvisi.len(), 1, "{subject}");
        assert!(find(avvisi[0], b"X-VerificaSicurezza: errore").is_some());
        let verified = verified_json(&p, &p, avvisi[0]);
        assert_eq!(verified["kind"], "non-accettazione-virus", "{subject}");
        assert_eq!(verified["daticert"]["errore"], "virus", "{subject}");
        assert_eq!(verified["daticert"]["errore_esteso"], virus, "{subject}");
        let xml = daticert_valid(&p, avvisi[0]);
        assert!(xml.contains(virus), "{subject}: {xml}");
    }
    // Nothing relayed or delivered; the originals, unaltered, in the quarantine.
    assert!(p.messages("anna", "INBOX").is_empty(), "anna got nothing");
    assert!(p.messages("mario", "Sent").is_empty(), "nothing sent");
    let quarantena = p.messages("posta-certificata", "Quarantena");
    assert_eq!(quarantena.len(), BOMBS.len());
    for (subject, _, _) in BOMBS {
        let subject = format!("Subject: {subject}\r\n");
        assert!(
            quarantena
                .iter()
                .any(|m| find(m, subject.as_bytes()).is_some()),
            "{subject}"
        );
    }
}
