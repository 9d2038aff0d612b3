//! MX routing (crates/gestore/src/server/route.rs) against a real name server: provider A finds
//! provider B through a private dnsmasq (`scripts/dnsmasq start`) named in `[relay] dns`.
//! Preference order with fallback to the next MX, and the two ways a domain refuses mail for
//! good, NXDOMAIN and null MX (RFC 7505), which give the sender an avviso di mancata consegna
//! `no-dominio` (PEC-SPEC §4.8).

use crate::between::*;
use crate::provider::*;
use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/dnsmasq")
}

/// A private dnsmasq, stopped when dropped (also when a test fails).
struct Dnsmasq {
    dir: tempfile::TempDir,
    /// Its `127.0.0.1:port`.
    addr: String,
}

impl Dnsmasq {
    /// dnsmasq answering from `records` (dnsmasq options) only; `None` (the test skips) when
    /// it is not installed, unless GESTORE_REQUIRE_TOOLS=1.
    fn start(records: &[&str]) -> Option<Dnsmasq> {
        let installed = ["/usr/sbin/dnsmasq", "/usr/local/sbin/dnsmasq"]
            .iter()
            .any(|p| Path::new(p).exists())
            || Command::new("sh")
                .args(["-c", "command -v dnsmasq"])
                .output()
                .is_ok_and(|o| o.status.success());
        if !installed {
            if std::env::var("GESTORE_REQUIRE_TOOLS").as_deref() == Ok("1") {
                panic!(
                    "dnsmasq is required (GESTORE_REQUIRE_TOOLS=1): run scripts/dnsmasq install"
                );
            }
            eprintln!("skipping: dnsmasq not installed (scripts/dnsmasq install)");
            return None;
        }
        let mut d = Dnsmasq {
            dir: tempfile::tempdir().unwrap(),
            addr: String::new(),
        };
        let out = Command::new(script())
            .arg("start")
            .arg(d.dir.path())
            .args(records)
            .output()
            .unwrap();
        assert!(out.status.success(), "dnsmasq: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        d.addr = stdout
            .lines()
            .find_map(|l| l.strip_prefix("dns="))
            .unwrap_or_else(|| panic!("no dns= in {stdout:?}"))
            .to_string();
        Some(d)
    }

    /// The queries it answered so far, one line each.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dnsmasq.log")).unwrap_or_default()
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

/// The zone: B's MX hosts, listed out of preference order — 5 `dead` (127.0.0.2, where nothing
/// listens), 10 [`B_MX`] (127.0.0.1, B itself), 20 `late` (127.0.0.3, nothing either) — a
/// null MX for `nomail.test`, and NXDOMAIN for every other name under `.test`.
const ZONE: &[&str] = &[
    "--local=/test/",
    "--mx-host=pec.b.test,late.pec.b.test,20",
    "--mx-host=pec.b.test,mx.pec.b.test,10",
    "--mx-host=pec.b.test,dead.pec.b.test,5",
    "--host-record=late.pec.b.test,127.0.0.3",
    "--host-record=mx.pec.b.test,127.0.0.1",
    "--host-record=dead.pec.b.test,127.0.0.2",
    "--mx-host=nomail.test,.,0",
];

/// Where in the log dnsmasq was first asked for the address of `host`.
fn asked_at(log: &str, host: &str) -> usize {
    log.find(&format!("query[A] {host} "))
        .unwrap_or_else(|| panic!("{host} never asked for:\n{log}"))
}

#[test]
fn mail_to_b_goes_to_the_best_mx_that_answers() {
    let Some(dns) = Dnsmasq::start(ZONE) else {
        return;
    };
    let mut pair = Pair::by_mx(&["mario"], &["anna"], &dns.addr);
    // The best MX must really be dead, or this would prove nothing about the fallback.
    let dead = std::net::TcpStream::connect(("127.0.0.2", pair.b.inbound));
    assert!(
        dead.is_err(),
        "something listens on 127.0.0.2:{}",
        pair.b.inbound
    );
    send(&pair.a, "mario@pec.a.test", "anna@pec.b.test", "via-mx");
    pair.a.wait_events("busta-inoltrata", 1);
    pair.b.wait_events("consegna-emessa", 1);
    pair.a.wait_events("ricevuta-ricevuta", 2);
    // The hosts were taken in preference order, not in the order the records were given.
    let log = dns.log();
    assert!(log.contains("query[MX] pec.b.test "), "{log}");
    let (dead, good, late) = (
        asked_at(&log, "dead.pec.b.test"),
        asked_at(&log, B_MX),
        asked_at(&log, "late.pec.b.test"),
    );
    assert!(dead < good && good < late, "order of the MX hosts:\n{log}");
    pair.a.stop();
    pair.b.stop();
    assert_eq!(pair.b.messages("anna", "INBOX").len(), 1, "delivered once");
    let receipts: Vec<Vec<u8>> = pair
        .a
        .messages("mario", "INBOX")
        .into_iter()
        .filter(|m| find(m, b"ACCETTAZIONE:").is_none())
        .collect();
    assert_eq!(receipts.len(), 1, "mario's delivery receipt");
    let (kind, consegna) = verified_by(&pair.a, &pair.b, &receipts[0]);
    assert_eq!(kind, "consegna-completa");
    assert_eq!(consegna.as_deref(), Some("anna@pec.b.test"));
}

/// Sends from mario to `to`, whose domain cannot take mail, and checks the avviso di mancata
/// consegna `no-dominio` A gives mario, its `errore-esteso` containing `why`.
fn undeliverable_for_good(to: &str, why: &str) {
    let Some(dns) = Dnsmasq::start(ZONE) else {
        return;
    };
    let mut pair = Pair::by_mx(&["mario"], &["anna"], &dns.addr);
    send(&pair.a, "mario@pec.a.test", to, "nessun-dominio");
    pair.a.wait_events("mancata-consegna-emessa", 1);
    let event = &pair.a.events("mancata-consegna-emessa")[0];
    let evento = field(event, "evento");
    assert_eq!(evento["errore"], "no-dominio", "{event}");
    assert_eq!(evento["destinatario"], to, "{event}");
    let esteso = evento["errore_esteso"].as_str().unwrap_or_default();
    assert!(esteso.contains(why), "{event}");
    assert!(pair.a.events("busta-inoltrata").is_empty());
    let domain = to.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    let log = dns.log();
    assert!(log.contains(&format!("query[MX] {domain} ")), "{log}");
    pair.a.stop();
    let notice: Vec<Vec<u8>> = pair
        .a
        .messages("mario", "INBOX")
        .into_iter()
        .filter(|m| find(m, b"AVVISO DI MANCATA CONSEGNA").is_some())
        .collect();
    assert_eq!(notice.len(), 1, "mario's avviso di mancata consegna");
    let (kind, consegna) = verified(&pair.a, &notice[0]);
    assert_eq!(kind, "mancata-consegna");
    assert_eq!(consegna.as_deref(), Some(to));
    let xml = daticert_valid(&pair.a, &notice[0]);
    assert!(xml.contains("errore=\"no-dominio\""), "{xml}");
}

#[test]
fn a_domain_that_does_not_exist_gets_an_avviso_no_dominio() {
    undeliverable_for_good(
        "chiunque@inesistente.test",
        "il dominio inesistente.test non esiste",
    );
}

#[test]
fn a_null_mx_domain_gets_an_avviso_no_dominio() {
    undeliverable_for_good(
        "chiunque@nomail.test",
        "il dominio nomail.test non accetta posta",
    );
}
