//! Two `gestore serve` processes on loopback, each the other's peer (issue 5): provider A
//! (`pec.a.test`) and provider B (`pec.b.test`), one index listing both, static relay routes,
//! STARTTLS between them, adjustable clocks for the 12 h / 24 h rules.

use crate::provider::*;
use crate::support::*;
use serde_json::Value;
use std::time::Duration;

pub const A: &str = "pec.a.test";
pub const B: &str = "pec.b.test";

/// The host name B's TLS certificate also carries when A finds B by MX ([`Pair::by_mx`]).
pub const B_MX: &str = "mx.pec.b.test";

/// How A finds B.
enum Routing<'a> {
    /// A static route to `localhost:<B's inbound port>`.
    Static,
    /// DNS MX through the name server at this `ip:port`, to B's inbound port.
    Mx(&'a str),
}

/// The pair, both running, each knowing the other. The index, routes and TLS roots need
/// both providers' keys, certificates and ports, so each starts once to make them and pick
/// its ports, then both restart with the full configuration.
pub struct Pair {
    pub a: Provider,
    pub b: Provider,
    index: tempfile::TempDir,
}

impl Pair {
    /// Static routes both ways.
    pub fn new(a_boxes: &[&str], b_boxes: &[&str], extra: &str) -> Self {
        Self::build(a_boxes, b_boxes, extra, Routing::Static, false)
    }

    /// Static routes both ways, and each provider's webmail on.
    pub fn with_webmail(a_boxes: &[&str], b_boxes: &[&str]) -> Self {
        Self::build(a_boxes, b_boxes, "", Routing::Static, true)
    }

    /// A finds B by DNS MX, asking only the name server `dns` (`ip:port`), on B's inbound
    /// port; B's certificate names `localhost` and [`B_MX`]. B reaches A by a static route.
    pub fn by_mx(a_boxes: &[&str], b_boxes: &[&str], dns: &str) -> Self {
        Self::build(a_boxes, b_boxes, "", Routing::Mx(dns), false)
    }

    fn build(
        a_boxes: &[&str],
        b_boxes: &[&str],
        extra: &str,
        routing: Routing,
        webmail: bool,
    ) -> Self {
        let index = tempfile::tempdir().unwrap();
        // B's dev certificate is made on its first start, with the names it has then.
        let b_tls = match routing {
            Routing::Static => String::new(),
            Routing::Mx(_) => format!("[tls]\nhostnames = [\"localhost\", \"{B_MX}\"]\n"),
        };
        let mut a = Provider::on(A, "Gestore A S.p.A.", "", a_boxes);
        let mut b = Provider::on(B, "Gestore B S.p.A.", &b_tls, b_boxes);
        a.webmail = webmail;
        b.webmail = webmail;
        a.write_config();
        b.write_config();
        a.start();
        b.start();
        a.stop();
        b.stop();
        let mut ldif = String::from("version: 1\n\n");
        for p in [&a, &b] {
            let out = gestore(&["index", "--config", &path(&p.config), "export"], None);
            assert_eq!(code(&out), 0, "export: {}", text(&out.stderr));
            ldif.push_str(&text(&out.stdout));
        }
        let file = index.path().join("providers.ldif");
        std::fs::write(&file, ldif).unwrap();
        let tls_a = a.data().join("tls/dev-smtp-cert.pem");
        let tls_b = b.data().join("tls/dev-smtp-cert.pem");
        let common = format!(
            "[index]\nfile = \"{}\"\n[dev]\nadjustable_clock = true\n{extra}",
            path(&file)
        );
        let a_to_b = match routing {
            Routing::Static => format!(
                "mx = false\nroutes = {{ \"{B}\" = \"localhost:{}\" }}\n",
                b.inbound
            ),
            Routing::Mx(dns) => format!("mx = true\ndns = [\"{dns}\"]\nmx_port = {}\n", b.inbound),
        };
        a.extra = format!(
            "{common}[relay]\n{a_to_b}timeout_seconds = 5\ntls_roots = [\"{}\"]\n",
            path(&tls_b),
        );
        b.extra = format!(
            "{b_tls}{common}[relay]\nmx = false\ntimeout_seconds = 5\ntls_roots = [\"{}\"]\nroutes = {{ \"{A}\" = \"localhost:{}\" }}\n",
            path(&tls_a),
            a.inbound
        );
        a.write_config();
        b.write_config();
        a.start();
        b.start();
        Pair { a, b, index }
    }

    /// The index file both providers read.
    pub fn index(&self) -> std::path::PathBuf {
        self.index.path().join("providers.ldif")
    }
}

/// A message from `from` (a box of `p`) to `to`.
pub fn send(p: &Provider, from: &str, to: &str, subject: &str) {
    let message = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@client>\r\n\r\nciao\r\n"
    );
    let user = from.split('@').next().unwrap();
    let out = smtplib_as(
        p.submission,
        from,
        &format!("pw-{user}"),
        &[to.to_string()],
        &message,
    );
    assert!(out.status.success(), "smtplib: {}", text(&out.stderr));
}

/// `gestore clock advance` on a running provider.
pub fn advance(p: &Provider, by: &str) {
    let out = gestore(
        &["clock", "--config", &path(&p.config), "advance", by],
        None,
    );
    assert_eq!(code(&out), 0, "clock: {}", text(&out.stderr));
}

fn kinds(p: &Provider, signer: &Provider, messages: &[Vec<u8>]) -> Vec<String> {
    let mut k: Vec<String> = messages
        .iter()
        .map(|m| verified_by(p, signer, m).0)
        .collect();
    k.sort();
    k
}

pub fn field(event: &str, name: &str) -> Value {
    let v: Value = serde_json::from_str(event).unwrap();
    v[name].clone()
}

#[test]
fn a_message_each_way_gets_every_receipt_signed_by_the_right_provider() {
    let mut pair = Pair::new(&["mario"], &["anna"], "");
    send(&pair.a, "mario@pec.a.test", "anna@pec.b.test", "andata");
    send(&pair.b, "anna@pec.b.test", "mario@pec.a.test", "ritorno");
    // Each side: its envelope relayed, the other's received with presa in carico and
    // delivery, and the other's two receipts received.
    for p in [&pair.a, &pair.b] {
        p.wait_events("busta-inoltrata", 1);
        p.wait_events("busta-ricevuta", 1);
        p.wait_events("presa-in-carico-emessa", 1);
        p.wait_events("consegna-emessa", 1);
        p.wait_events("ricevuta-ricevuta", 2);
    }
    let presa = &pair.a.events("presa-in-carico-emessa")[0];
    assert_eq!(
        field(presa, "evento")["mail_receipt"],
        "posta-certificata@pec.b.test"
    );
    pair.a.stop();
    pair.b.stop();

    // Mario's INBOX: our acceptance, B's delivery receipt, and Anna's envelope signed by B.
    let (a, b) = (&pair.a, &pair.b);
    let inbox = a.messages("mario", "INBOX");
    assert_eq!(inbox.len(), 3, "mario's INBOX");
    let signed_by_a: Vec<Vec<u8>> = inbox
        .iter()
        .filter(|m| find(m, b"ACCETTAZIONE:").is_some())
        .cloned()
        .collect();
    assert_eq!(kinds(a, a, &signed_by_a), ["accettazione"]);
    let signed_by_b: Vec<Vec<u8>> = inbox
        .iter()
        .filter(|m| find(m, b"ACCETTAZIONE:").is_none())
        .cloned()
        .collect();
    assert_eq!(kinds(a, b, &signed_by_b), ["busta", "consegna-completa"]);
    // A's service box: the presa in carico B sent for Mario's message, signed by B.
    let service = a.messages("posta-certificata", "INBOX");
    assert_eq!(kinds(a, b, &service), ["presa-in-carico"]);
    // And the other way round.
    let inbox = b.messages("anna", "INBOX");
    assert_eq!(inbox.len(), 3, "anna's INBOX");
    let service = b.messages("posta-certificata", "INBOX");
    assert_eq!(kinds(b, a, &service), ["presa-in-carico"]);
}

#[test]
fn the_receiving_provider_down_then_back_gets_the_message_by_retry() {
    let mut pair = Pair::new(&["mario"], &["anna"], "");
    pair.b.stop();
    send(&pair.a, "mario@pec.a.test", "anna@pec.b.test", "attesa");
    pair.a.wait_events("accettazione-emessa", 1);
    // The first attempt fails (B is down); the retry is a minute later on A's clock.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(pair.a.events("busta-inoltrata").is_empty());
    pair.b.start();
    advance(&pair.a, "2m");
    pair.a.wait_events("busta-inoltrata", 1);
    pair.b.wait_events("consegna-emessa", 1);
    pair.a.wait_events("ricevuta-ricevuta", 2);
    // Delivered once, not twice.
    pair.b.stop();
    assert_eq!(pair.b.messages("anna", "INBOX").len(), 1);
}

/// The 12 h / 24 h notices A gave so far, in order (`"12h"`, `"24h"`).
fn notices(a: &Provider) -> Vec<Value> {
    a.events("scadenza-emessa")
        .iter()
        .map(|e| field(e, "evento")["scadenza"].clone())
        .collect()
}

/// Waits long enough for A's worker to have fired anything due (it polls every second).
fn settle() {
    std::thread::sleep(Duration::from_millis(2500));
}

#[test]
fn row_neither_presa_nor_consegna_gives_both_notices_and_stops_the_relay() {
    let mut pair = Pair::new(&["mario"], &["anna"], "");
    pair.b.stop();
    send(&pair.a, "mario@pec.a.test", "anna@pec.b.test", "persa");
    pair.a.wait_events("accettazione-emessa", 1);
    advance(&pair.a, "11h");
    settle();
    assert!(notices(&pair.a).is_empty(), "no notice before 12 h");
    advance(&pair.a, "1h");
    pair.a.wait_events("scadenza-emessa", 1);
    advance(&pair.a, "690m"); // 23 h 30 min after dispatch
    pair.a.wait_events("scadenza-emessa", 2);
    assert_eq!(notices(&pair.a), ["12h", "24h"]);
    // After the 24 h notice the transaction is closed: B coming back gets nothing.
    pair.b.start();
    advance(&pair.a, "2h");
    settle();
    assert!(pair.a.events("busta-inoltrata").is_empty());
    pair.a.stop();
    pair.b.stop();
    assert!(pair.b.messages("anna", "INBOX").is_empty());
    let sent: Vec<Vec<u8>> = pair
        .a
        .messages("mario", "INBOX")
        .into_iter()
        .filter(|m| find(m, b"SUP. TEMPO MASSIMO").is_some())
        .collect();
    assert_eq!(sent.len(), 2);
    for n in &sent {
        let (kind, consegna) = verified(&pair.a, n);
        assert!(kind.contains("12") || kind.contains("24"), "{kind}");
        assert_eq!(consegna.as_deref(), Some("anna@pec.b.test"));
    }
}

#[test]
fn row_consegna_between_12_and_24_hours_gives_only_the_12_hour_notice() {
    let mut pair = Pair::new(&["mario"], &["anna"], "");
    pair.b.stop();
    send(&pair.a, "mario@pec.a.test", "anna@pec.b.test", "tarda");
    pair.a.wait_events("accettazione-emessa", 1);
    advance(&pair.a, "13h");
    pair.a.wait_events("scadenza-emessa", 1);
    pair.b.start();
    advance(&pair.a, "1h"); // the relay's next retry comes due
    pair.a.wait_events("busta-inoltrata", 1);
    pair.a.wait_events("ricevuta-ricevuta", 2); // presa in carico and consegna, after 12 h
    advance(&pair.a, "11h");
    settle();
    assert_eq!(notices(&pair.a), ["12h"]);
}

#[test]
fn rows_presa_and_consegna_in_time_give_no_notice() {
    // Rows "consegna < 12 h" and "presa < 12 h and consegna < 24 h" of PEC-SPEC §4.9.
    let pair = Pair::new(&["mario"], &["anna"], "");
    send(&pair.a, "mario@pec.a.test", "anna@pec.b.test", "puntuale");
    pair.a.wait_events("ricevuta-ricevuta", 2);
    advance(&pair.a, "25h");
    settle();
    assert!(notices(&pair.a).is_empty(), "{:?}", notices(&pair.a));
}

/// Hands `raw` to `p`'s receiving point in plain SMTP (as another provider or any MTA
/// would), from `mail_from` to `rcpt`; returns the script's output (exit 0 = 250).
pub fn deliver_inbound(
    p: &Provider,
    mail_from: &str,
    rcpt: &str,
    raw: &[u8],
) -> std::process::Output {
    let script = r#"
import smtplib, sys
port, mail_from, rcpt = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = smtplib.SMTP('127.0.0.1', port, timeout=30)
try:
    s.sendmail(mail_from, [rcpt], sys.stdin.buffer.read())
except smtplib.SMTPException as e:
    print(e, file=sys.stderr); sys.exit(1)
s.quit()
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script, &p.inbound.to_string(), mail_from, rcpt])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(raw).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// A signed sample of `kind` made with the dev PKI in `pki`.
fn sample(dir: &std::path::Path, pki: &std::path::Path, kind: &str) -> Vec<u8> {
    let out_file = dir.join(format!("{kind}.eml"));
    let out = gestore(
        &[
            "sample",
            "--pki",
            &path(pki),
            "--out",
            &path(&out_file),
            kind,
        ],
        None,
    );
    assert_eq!(code(&out), 0, "sample: {}", text(&out.stderr));
    std::fs::read(out_file).unwrap()
}

/// The anomaly reasons B logged, in order.
fn anomalies(p: &Provider) -> Vec<String> {
    p.events("anomalia-emessa")
        .iter()
        .map(|e| {
            field(e, "evento")["motivo"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn ordinary_mail_from_swaks_becomes_a_busta_di_anomalia() {
    if !have("swaks") {
        return;
    }
    let mut pair = Pair::new(&["mario"], &["anna"], "");
    let out = run(
        "swaks",
        &[
            "--server",
            &format!("127.0.0.1:{}", pair.b.inbound),
            "--from",
            "someone@example.org",
            "--to",
            "anna@pec.b.test",
            "--header",
            "Subject: posta ordinaria",
            "--body",
            "ciao",
        ],
    );
    assert!(out.status.success(), "swaks: {}", text(&out.stdout));
    pair.b.wait_events("anomalia-emessa", 1);
    pair.b.stop();
    let inbox = pair.b.messages("anna", "INBOX");
    assert_eq!(inbox.len(), 1);
    assert!(find(&inbox[0], b"X-Trasporto: errore").is_some());
    assert!(find(&inbox[0], b"ANOMALIA MESSAGGIO: posta ordinaria").is_some());
    let (kind, _) = verified(&pair.b, &inbox[0]);
    assert_eq!(kind, "anomalia");
}

#[test]
fn ordinary_mail_is_refused_when_the_policy_says_so() {
    let pair = Pair::new(
        &["mario"],
        &["anna"],
        "[receiving]\nordinary_mail = \"refuse\"\n",
    );
    let raw = b"From: x@example.org\r\nTo: anna@pec.b.test\r\nSubject: no\r\n\r\nciao\r\n";
    let out = deliver_inbound(&pair.b, "x@example.org", "anna@pec.b.test", raw);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("550"), "{}", text(&out.stderr));
    pair.b.wait_events("messaggio-rifiutato", 1);
    // Relaying through us to someone else's domain is refused too.
    let out = deliver_inbound(&pair.b, "x@example.org", "y@example.com", raw);
    assert!(!out.status.success());
}

#[test]
fn forged_envelopes_and_stray_receipts_become_anomalies_with_the_reason_logged() {
    let mut pair = Pair::new(&["mario"], &["anna"], "");
    let work = tempfile::tempdir().unwrap();
    // 1. Signed by a key the index does not list.
    let stranger = work.path().join("stranger");
    let out = gestore(&["pki", "init", "--dir", &path(&stranger)], None);
    assert_eq!(code(&out), 0, "pki init: {}", text(&out.stderr));
    let forged = sample(work.path(), &stranger, "busta");
    let out = deliver_inbound(&pair.b, "x@pec.example.it", "anna@pec.b.test", &forged);
    assert!(out.status.success(), "{}", text(&out.stderr));
    pair.b.wait_events("anomalia-emessa", 1);
    // 2. A's genuine key, over a sender domain A does not manage.
    let foreign = sample(work.path(), &pair.a.data().join("pki"), "busta");
    let out = deliver_inbound(&pair.b, "x@pec.example.it", "anna@pec.b.test", &foreign);
    assert!(out.status.success(), "{}", text(&out.stderr));
    pair.b.wait_events("anomalia-emessa", 2);
    // 3. The same envelope tampered with after signing.
    let tampered = tamper(&foreign);
    let out = deliver_inbound(&pair.b, "x@pec.example.it", "anna@pec.b.test", &tampered);
    assert!(out.status.success(), "{}", text(&out.stderr));
    pair.b.wait_events("anomalia-emessa", 3);
    // 4. A delivery receipt signed by B, about a message A never sent.
    let stray = sample(work.path(), &pair.b.data().join("pki"), "consegna-completa");
    let out = deliver_inbound(
        &pair.a,
        "posta-certificata@pec.b.test",
        "mario@pec.a.test",
        &stray,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    pair.a.wait_events("anomalia-emessa", 1);

    let reasons = anomalies(&pair.b);
    assert!(reasons[0].contains("indice"), "{reasons:?}");
    assert!(
        reasons[1].contains("pec.example.it") || reasons[1].contains("domini"),
        "{reasons:?}"
    );
    assert!(
        reasons[2].contains("alterat") || reasons[2].contains("firma"),
        "{reasons:?}"
    );
    // The sample receipt is about a recipient of neither provider: refused as such (or as
    // not about a message A sent, whichever check comes first).
    let stray_reason = &anomalies(&pair.a)[0];
    assert!(
        stray_reason.contains("non inviato") || stray_reason.contains("non di un dominio"),
        "{stray_reason}"
    );
    // No presa in carico and no delivery receipt for any of them.
    assert!(pair.b.events("presa-in-carico-emessa").is_empty());
    assert!(pair.b.events("consegna-emessa").is_empty());
    pair.b.stop();
    let inbox = pair.b.messages("anna", "INBOX");
    assert_eq!(inbox.len(), 3);
    for m in &inbox {
        assert!(find(m, b"X-Trasporto: errore").is_some());
    }
}

#[test]
fn a_replayed_envelope_is_delivered_and_answered_once() {
    let mut pair = Pair::new(&["mario"], &["anna"], "");
    send(&pair.a, "mario@pec.a.test", "anna@pec.b.test", "una-volta");
    pair.a.wait_events("ricevuta-ricevuta", 2);
    pair.b.stop();
    let busta = pair.b.messages("anna", "INBOX").pop().unwrap();
    pair.b.start();
    let out = deliver_inbound(&pair.b, "mario@pec.a.test", "anna@pec.b.test", &busta);
    assert!(out.status.success(), "{}", text(&out.stderr));
    settle();
    // The replay commits nothing new, so its events are neither logged nor printed again.
    assert_eq!(pair.b.events("busta-ricevuta").len(), 1);
    assert_eq!(pair.b.events("consegna-emessa").len(), 1);
    pair.a.stop();
    pair.b.stop();
    assert_eq!(pair.b.messages("anna", "INBOX").len(), 1, "delivered once");
    // Mario: acceptance, one delivery receipt; the service box: one presa in carico.
    assert_eq!(pair.a.messages("mario", "INBOX").len(), 2);
    assert_eq!(pair.a.messages("posta-certificata", "INBOX").len(), 1);
}

#[test]
fn the_index_is_reloaded_when_its_file_changes() {
    let pair = Pair::new(&["mario"], &["anna"], "");
    let full = std::fs::read_to_string(pair.index()).unwrap();
    // Without A's record, B no longer recognises A's signature.
    let b_only: String = {
        let start = full.find("dn: providerName=Gestore A").expect("A's record");
        let end = full[start..]
            .find("\n\n")
            .map(|e| start + e + 2)
            .unwrap_or(full.len());
        format!("{}{}", &full[..start], &full[end..])
    };
    std::fs::write(pair.index(), &b_only).unwrap();
    std::thread::sleep(Duration::from_millis(3000));
    send(
        &pair.a,
        "mario@pec.a.test",
        "anna@pec.b.test",
        "sconosciuto",
    );
    pair.b.wait_events("anomalia-emessa", 1);
    assert!(
        anomalies(&pair.b)[0].contains("indice"),
        "{:?}",
        anomalies(&pair.b)
    );
    // A broken file leaves the last good copy in force.
    std::fs::write(pair.index(), "dn: garbage\nno colon here\n").unwrap();
    std::thread::sleep(Duration::from_millis(3000));
    std::fs::write(pair.index(), &full).unwrap();
    std::thread::sleep(Duration::from_millis(3000));
    send(
        &pair.a,
        "mario@pec.a.test",
        "anna@pec.b.test",
        "riconosciuto",
    );
    pair.b.wait_events("busta-ricevuta", 1);
    pair.b.wait_events("presa-in-carico-emessa", 1);
}

/// Listens on `port` in place of a provider that went wrong: `silent` accepts and never says
/// a word; otherwise it greets, offers STARTTLS and hangs up when asked for it. Stops when
/// the returned flag is set.
fn broken_peer(port: u16, silent: bool) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::io::{BufRead, BufReader, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind the broken peer");
    listener.set_nonblocking(true).unwrap();
    let flag = stop.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        while !flag.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((mut s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    if !silent {
                        let _ = s.write_all(b"220 broken.test ESMTP\r\n");
                        let mut r = BufReader::new(s.try_clone().unwrap());
                        let mut line = String::new();
                        while r.read_line(&mut line).unwrap_or(0) > 0 {
                            if line.to_ascii_uppercase().starts_with("EHLO") {
                                let _ = s.write_all(b"250-broken.test\r\n250 STARTTLS\r\n");
                            } else if line.to_ascii_uppercase().starts_with("STARTTLS") {
                                let _ = s.write_all(b"220 go ahead\r\n");
                                break; // and hang up in the middle of the handshake
                            }
                            line.clear();
                        }
                        continue;
                    }
                    held.push(s);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    stop
}

#[test]
fn a_peer_that_never_answers_or_hangs_up_is_retried_and_delivered_once() {
    let mut pair = Pair::new(&["mario"], &["anna"], "");
    pair.b.stop();
    for silent in [true, false] {
        let stop = broken_peer(pair.b.inbound, silent);
        let subject = if silent { "muto" } else { "riattacca" };
        send(&pair.a, "mario@pec.a.test", "anna@pec.b.test", subject);
        // The first attempt (and its retry a minute later) fails on the broken peer.
        advance(&pair.a, "2m");
        std::thread::sleep(Duration::from_secs(if silent { 7 } else { 2 }));
        assert!(pair.a.events("busta-inoltrata").is_empty());
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(200));
    }
    pair.b.start();
    advance(&pair.a, "1h");
    pair.a.wait_events("busta-inoltrata", 2);
    pair.a.wait_events("ricevuta-ricevuta", 4);
    pair.a.stop();
    pair.b.stop();
    assert_eq!(
        pair.b.messages("anna", "INBOX").len(),
        2,
        "each delivered once"
    );
    assert_eq!(
        pair.a.messages("mario", "INBOX").len(),
        4,
        "2 acceptances, 2 deliveries"
    );
}

#[test]
fn an_unknown_recipient_at_the_other_provider_gets_a_signed_non_delivery_notice() {
    let mut pair = Pair::new(&["mario"], &["anna"], "");
    send(&pair.a, "mario@pec.a.test", "nessuno@pec.b.test", "a-chi");
    pair.b.wait_events("mancata-consegna-emessa", 1);
    pair.a.wait_events("ricevuta-ricevuta", 2); // presa in carico, then the notice
                                                // The notice closes the transaction: no 12 h / 24 h notice follows.
    advance(&pair.a, "25h");
    settle();
    assert!(notices(&pair.a).is_empty(), "{:?}", notices(&pair.a));
    pair.a.stop();
    pair.b.stop();
    let notice: Vec<Vec<u8>> = pair
        .a
        .messages("mario", "INBOX")
        .into_iter()
        .filter(|m| find(m, b"AVVISO DI MANCATA CONSEGNA").is_some())
        .collect();
    assert_eq!(notice.len(), 1);
    let (kind, consegna) = verified_by(&pair.a, &pair.b, &notice[0]);
    assert_eq!(kind, "mancata-consegna");
    assert_eq!(consegna.as_deref(), Some("nessuno@pec.b.test"));
}
