//! Crash test: clients keep submitting while `gestore serve` is killed with SIGKILL several
//! times and restarted. Every message that got a 250 must end up delivered exactly once, with
//! exactly one acceptance receipt and one delivery receipt, and the log chain must verify.

use crate::provider::*;
use crate::support::*;
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Four senders submit in a loop; every 250 is appended (and fsynced) to `acked`.
const LOAD: &str = r#"
import os, smtplib, ssl, sys, threading, time
port, domain, acked, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
lock = threading.Lock()
out = open(acked, 'a')
def sender(n):
    user = f's{n}@{domain}'; rcpt = f'dest@{domain}'; i = 0
    while not os.path.exists(stop):
        try:
            s = smtplib.SMTP('127.0.0.1', port, timeout=10); s.starttls(context=ctx); s.login(user, f'pw-s{n}')
            while not os.path.exists(stop):
                i += 1; mid = f'<crash-{n}-{i}@client>'
                msg = f'From: {user}\r\nTo: {rcpt}\r\nSubject: carico {n}-{i}\r\nMessage-ID: {mid}\r\n\r\nx\r\n'
                s.sendmail(user, [rcpt], msg.encode())
                with lock:
                    out.write(mid + '\n'); out.flush(); os.fsync(out.fileno())
        except Exception:
            time.sleep(0.05)
ts = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
"#;

#[test]
fn every_acknowledged_message_survives_sigkill_exactly_once() {
    if !have("python3") {
        return;
    }
    let mut p = Provider::new(&["s0", "s1", "s2", "s3", "dest"]);
    p.start();
    let acked = p.dir.path().join("acked.txt");
    let stop = p.dir.path().join("stop");
    let mut load = Command::new("python3")
        .args([
            "-c",
            LOAD,
            &p.submission.to_string(),
            DOMAIN,
            &path(&acked),
            &path(&stop),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(1200));
        p.kill9();
        p.start();
    }
    std::thread::sleep(Duration::from_millis(800));
    std::fs::write(&stop, b"").unwrap();
    let _ = load.wait();

    let acked: Vec<String> = std::fs::read_to_string(&acked)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    assert!(
        acked.len() > 20,
        "the load should have got through: {} acknowledged",
        acked.len()
    );

    // Let the last run finish its deliveries: wait until every acknowledged message shows a
    // delivery receipt in the store (checked between orderly stops).
    let deadline = Instant::now() + Duration::from_secs(120);
    let (busta, receipts) = loop {
        std::thread::sleep(Duration::from_millis(500));
        p.stop();
        let busta = by_reference(&p.messages("dest", "INBOX"));
        let mut receipts: HashMap<String, Vec<String>> = HashMap::new();
        for n in 0..4 {
            for (rif, kinds) in by_reference(&p.messages(&format!("s{n}"), "INBOX")) {
                receipts.entry(rif).or_default().extend(kinds);
            }
        }
        let done = acked
            .iter()
            .all(|m| busta.contains_key(m) && receipts.get(m).is_some_and(|k| k.len() >= 2));
        if done || Instant::now() > deadline {
            break (busta, receipts);
        }
        p.start();
    };
    for m in &acked {
        assert_eq!(
            busta.get(m).map(Vec::len),
            Some(1),
            "envelope of {m} delivered exactly once"
        );
        let mut kinds = receipts.get(m).cloned().unwrap_or_default();
        kinds.sort();
        assert_eq!(
            kinds,
            vec!["accettazione", "consegna-completa"],
            "receipts of {m}"
        );
    }
    // Messages committed whose 250 was lost in the crash may also be there, but never twice:
    // one envelope each, at most an acceptance and a delivery receipt each.
    for (m, k) in &busta {
        assert_eq!(k.len(), 1, "{m}: envelope stored {} times", k.len());
    }
    for (m, k) in &receipts {
        assert!(k.len() <= 2, "{m}: receipts {k:?}");
    }
    let out = gestore(&["log", "--config", &path(&p.config), "verify"], None);
    assert_eq!(code(&out), 0, "{}", text(&out.stdout));
}

/// Stored messages grouped by the client Message-ID they refer to, with their kinds.
fn by_reference(messages: &[Vec<u8>]) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for raw in messages {
        let ins = pec_core::inspect::inspect(raw).expect("stored message");
        let rif = ins
            .riferimento_message_id
            .clone()
            .or_else(|| ins.daticert.and_then(|d| d.ok()).and_then(|d| d.dati.msgid))
            .unwrap_or_default();
        map.entry(rif)
            .or_default()
            .push(ins.kind.name().to_string());
    }
    map
}
