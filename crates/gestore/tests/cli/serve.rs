//! `gestore serve` end to end: real clients submit, the store holds the receipts and the
//! envelopes, and every one of them verifies with openssl and `gestore verify`.

use crate::provider::*;
use crate::support::*;

/// The verified kinds (and daticert consegna) of a box's INBOX, sorted.
fn sorted_kinds(p: &Provider, user: &str) -> Vec<(String, Option<String>)> {
    let mut kinds: Vec<_> = p
        .messages(user, "INBOX")
        .iter()
        .map(|m| verified(p, m))
        .collect();
    kinds.sort();
    kinds
}

#[test]
fn smtplib_to_and_cc_with_breve_gets_acceptance_and_a_receipt_per_recipient() {
    if !have("python3") {
        return;
    }
    let mut p = Provider::new(&["mario", "anna", "luca"]);
    p.start();
    let msg = format!(
        "From: {}\r\nTo: {}\r\nCc: {}\r\nSubject: Prova end to end\r\nMessage-ID: <e2e-1@client>\r\n\
         X-TipoRicevuta: breve\r\n\r\nCiao\r\n",
        addr("mario"), addr("anna"), addr("luca")
    );
    let out = smtplib(p.submission, "mario", &[addr("anna"), addr("luca")], &msg);
    assert!(out.status.success(), "smtplib: {}", text(&out.stderr));
    p.wait_events("consegna-emessa", 2);
    // The operator's live trail on standard output is the log, line for line.
    let log = p.log();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while p.trail().len() < log.len() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(p.trail(), log);
    p.stop();

    let kinds = sorted_kinds(&p, "mario");
    assert_eq!(
        kinds,
        vec![
            ("accettazione".to_string(), None),
            ("consegna-breve".to_string(), Some(addr("anna"))),
            ("consegna-sintetica".to_string(), Some(addr("luca"))),
        ]
    );
    for user in ["anna", "luca"] {
        let inbox = p.messages(user, "INBOX");
        assert_eq!(inbox.len(), 1, "{user}");
        assert_eq!(verified(&p, &inbox[0]).0, "busta");
    }
    assert_eq!(p.messages("mario", "Sent").len(), 1);

    let out = gestore(&["log", "--config", &path(&p.config), "verify"], None);
    assert_eq!(code(&out), 0, "{}", text(&out.stdout));
    let out = gestore(
        &[
            "log",
            "--config",
            &path(&p.config),
            "search",
            "--msgid",
            "<e2e-1@client>",
        ],
        None,
    );
    let lines = text(&out.stdout);
    assert!(
        lines.contains("accettazione-emessa") && lines.contains("consegna-emessa"),
        "{lines}"
    );
}

#[test]
fn forged_from_gets_a_non_acceptance_notice_and_nothing_is_delivered() {
    if !have("python3") {
        return;
    }
    let mut p = Provider::new(&["mario", "anna"]);
    p.start();
    let msg = format!(
        "From: {}\r\nTo: {}\r\nSubject: falso\r\n\r\nx\r\n",
        addr("anna"),
        addr("anna")
    );
    let out = smtplib(p.submission, "mario", &[addr("anna")], &msg);
    assert!(
        out.status.success(),
        "the SMTP layer accepts; the PEC layer refuses: {}",
        text(&out.stderr)
    );
    p.wait_events("non-accettazione-emessa", 1);
    p.stop();
    let inbox = p.messages("mario", "INBOX");
    assert_eq!(inbox.len(), 1);
    assert_eq!(verified(&p, &inbox[0]).0, "non-accettazione");
    assert!(p.messages("anna", "INBOX").is_empty());
}

#[test]
fn bcc_and_recipient_outside_to_cc_are_not_accepted() {
    if !have("python3") {
        return;
    }
    let mut p = Provider::new(&["mario", "anna", "luca"]);
    p.start();
    let bcc = format!(
        "From: {}\r\nTo: {}\r\nBcc: {}\r\nSubject: bcc\r\n\r\nx\r\n",
        addr("mario"),
        addr("anna"),
        addr("luca")
    );
    assert!(smtplib(p.submission, "mario", &[addr("anna")], &bcc)
        .status
        .success());
    let outside = format!(
        "From: {}\r\nTo: {}\r\nSubject: fuori\r\n\r\nx\r\n",
        addr("mario"),
        addr("anna")
    );
    assert!(smtplib(
        p.submission,
        "mario",
        &[addr("anna"), addr("luca")],
        &outside
    )
    .status
    .success());
    p.wait_events("non-accettazione-emessa", 2);
    p.stop();
    let kinds: Vec<_> = p
        .messages("mario", "INBOX")
        .iter()
        .map(|m| verified(&p, m).0)
        .collect();
    assert_eq!(kinds, vec!["non-accettazione", "non-accettazione"]);
    assert!(p.messages("anna", "INBOX").is_empty());
    assert!(p.messages("luca", "INBOX").is_empty());
}

#[test]
fn unknown_local_recipient_gets_a_non_delivery_notice() {
    if !have("python3") {
        return;
    }
    let mut p = Provider::new(&["mario"]);
    p.start();
    let msg = format!(
        "From: {}\r\nTo: {}\r\nSubject: a nessuno\r\n\r\nx\r\n",
        addr("mario"),
        addr("nessuno")
    );
    assert!(smtplib(p.submission, "mario", &[addr("nessuno")], &msg)
        .status
        .success());
    p.wait_events("mancata-consegna-emessa", 1);
    p.stop();
    let kinds = sorted_kinds(&p, "mario");
    assert_eq!(
        kinds,
        vec![
            ("accettazione".into(), None),
            ("mancata-consegna".into(), Some(addr("nessuno")))
        ]
    );
}

#[test]
fn curl_over_implicit_tls_and_swaks_over_starttls_submit() {
    if !have("curl") || !have("swaks") {
        return;
    }
    let mut p = Provider::new(&["mario", "anna"]);
    p.start();
    let o = curl_submit(&p, "mario", "pw-mario", "anna", "via-curl");
    assert!(o.status.success(), "curl: {}", text(&o.stderr));
    let o = run(
        "swaks",
        &[
            "--server",
            "127.0.0.1",
            "--port",
            &p.submission.to_string(),
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            &addr("mario"),
            "--auth-password",
            "pw-mario",
            "--from",
            &addr("mario"),
            "--to",
            &addr("anna"),
            "--header",
            "Subject: via swaks",
        ],
    );
    assert!(o.status.success(), "swaks: {}", text(&o.stdout));
    p.wait_events("consegna-emessa", 2);
    p.stop();
    assert_eq!(p.messages("anna", "INBOX").len(), 2);
}

/// Runs `gestore demo --once` with every port flag 0 and returns its standard output. The
/// process is killed if it outlives two minutes or the test fails first.
fn run_demo() -> String {
    use std::io::Read;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};
    struct KillOnDrop(Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["demo".to_string(), "--once".into(), "--data".into()];
    args.push(path(dir.path()));
    for provider in ["", "b-"] {
        for listener in [
            "submission",
            "submissions",
            "imap",
            "imaps",
            "pop3",
            "pop3s",
            "inbound",
            "web",
        ] {
            args.extend([format!("--{provider}{listener}-port"), "0".into()]);
        }
    }
    let mut demo = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_gestore"))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn demo"),
    );
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        })
    };
    let stdout = drain(Box::new(demo.0.stdout.take().unwrap()));
    let stderr = drain(Box::new(demo.0.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = demo.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the demo did not stop in 120 s");
        std::thread::sleep(Duration::from_millis(100));
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    assert!(status.success(), "{status}: {stdout}{stderr}");
    stdout
}

#[test]
fn the_demo_sends_a_message_each_way_between_two_providers_and_prints_every_receipt() {
    let stdout = run_demo();
    let (a, b) = ("(Gestore Demo A S.p.A.)", "(Gestore Demo B S.p.A.)");
    let (mario, anna, luca) = (
        "mario.rossi@pec.demo-a.test",
        "anna.bianchi@pec.demo-b.test",
        "luca.verdi@pec.demo-b.test",
    );
    let (service_a, service_b) = (
        "posta-certificata@pec.demo-a.test",
        "posta-certificata@pec.demo-b.test",
    );
    let (consegna, presa) = (
        "<- ricevuta di avvenuta consegna",
        "<- ricevuta di presa in carico",
    );
    // (box, what the line says in order): the provider in brackets signed it.
    let from = |x: &str, by: &str| format!("<- busta di trasporto from {x} {by}");
    let accettazione = |by: &str| format!("<- ricevuta di accettazione {by}");
    let expected: [(&str, Vec<String>); 11] = [
        (mario, vec![accettazione(a)]),
        (mario, vec![consegna.into(), format!("for {anna} {b}")]),
        (mario, vec![consegna.into(), format!("for {luca} {b}")]),
        (service_a, vec![presa.into(), anna.into(), b.into()]),
        (service_a, vec![presa.into(), luca.into(), b.into()]),
        (anna, vec![from(mario, a)]),
        (luca, vec![from(mario, a)]),
        (anna, vec![accettazione(b)]),
        (anna, vec![consegna.into(), format!("for {mario} {a}")]),
        (service_b, vec![presa.into(), mario.into(), a.into()]),
        (mario, vec![from(anna, b)]),
    ];
    for (address, parts) in &expected {
        let found = stdout.lines().any(|l| {
            let Some(mut rest) = l.trim().strip_prefix(address) else {
                return false;
            };
            parts.iter().all(|p| match rest.find(p.as_str()) {
                Some(i) => {
                    rest = &rest[i + p.len()..];
                    true
                }
                None => false,
            })
        });
        assert!(found, "no line for {address} with {parts:?} in\n{stdout}");
    }
    assert!(stdout.contains("every receipt arrived"), "{stdout}");
    for wrong in ["<- avviso", "<- busta di anomalia", "<- preavviso"] {
        assert!(!stdout.contains(wrong), "{wrong} in\n{stdout}");
    }
}

#[test]
fn the_demo_prints_the_ports_each_provider_listens_on() {
    let stdout = run_demo();
    let start = |header: &str| {
        stdout
            .find(header)
            .unwrap_or_else(|| panic!("no {header:?} in\n{stdout}"))
    };
    let a = start("Gestore Demo A S.p.A. (pec.demo-a.test)");
    let b = start("Gestore Demo B S.p.A. (pec.demo-b.test)");
    let relay = start("the providers know each other");
    let mut inbound = Vec::new();
    for section in [&stdout[a..b], &stdout[b..relay]] {
        // The "listening" lines come from the bound sockets; the lines a user reads to
        // connect a client must name the same ports.
        let listening = |name: &str| {
            section
                .lines()
                .find_map(|l| {
                    l.trim()
                        .strip_prefix(&format!("listening {name} 127.0.0.1:"))
                })
                .and_then(|rest| rest.split_whitespace().next())
                .unwrap_or_else(|| panic!("no {name} listener in\n{section}"))
                .to_string()
        };
        for (label, starttls, tls) in [
            ("sending (SMTP submission)", "submission", "submissions"),
            ("reading (IMAP)", "imap", "imaps"),
            ("reading (POP3)", "pop3", "pop3s"),
        ] {
            let line = section
                .lines()
                .find(|l| l.contains(label))
                .unwrap_or_else(|| panic!("no {label} line in\n{section}"));
            let words: Vec<&str> = line.split_whitespace().collect();
            assert!(words.contains(&listening(starttls).as_str()), "{line}");
            assert!(words.contains(&listening(tls).as_str()), "{line}");
        }
        inbound.push(listening("inbound"));
        // The webmail's URL is the bound web listener's.
        let web = format!("webmail: https://127.0.0.1:{}/", listening("web"));
        assert!(section.contains(&web), "no {web:?} in\n{section}");
    }
    // Each relays to the other's receiving point.
    let routes = &stdout[relay..];
    let a_to_b = format!("pec.demo-a.test -> localhost:{} ", inbound[1]);
    let b_to_a = format!("pec.demo-b.test -> localhost:{} ", inbound[0]);
    assert!(routes.contains(&a_to_b), "no {a_to_b:?} in\n{routes}");
    assert!(routes.contains(&b_to_a), "no {b_to_a:?} in\n{routes}");
}

#[test]
fn boxes_are_managed_and_the_log_read_while_the_server_runs() {
    if !have("python3") {
        return;
    }
    let mut p = Provider::new(&["mario"]);
    p.start();
    let config = path(&p.config);
    // A box added while serving receives at once; a disabled one gets a non-delivery notice.
    let out = gestore(
        &[
            "mailbox",
            "--config",
            &config,
            "add",
            &addr("nuovo"),
            "--password",
            "pw-nuovo",
        ],
        None,
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let out = gestore(
        &[
            "mailbox",
            "--config",
            &config,
            "add",
            &addr("spento"),
            "--password",
            "x",
        ],
        None,
    );
    assert_eq!(code(&out), 0);
    let out = gestore(
        &["mailbox", "--config", &config, "disable", &addr("spento")],
        None,
    );
    assert_eq!(code(&out), 0);
    let out = gestore(
        &[
            "mailbox",
            "--config",
            &config,
            "add",
            &addr("piena"),
            "--password",
            "x",
            "--quota",
            "10",
        ],
        None,
    );
    assert_eq!(code(&out), 0);
    let list = text(&gestore(&["mailbox", "--config", &config, "list"], None).stdout);
    assert!(
        list.contains(&addr("nuovo")) && list.contains("disabled"),
        "{list}"
    );

    let msg = format!(
        "From: {}\r\nTo: {}, {}, {}\r\nSubject: nuovi\r\n\r\nx\r\n",
        addr("mario"),
        addr("nuovo"),
        addr("spento"),
        addr("piena")
    );
    let rcpts = [addr("nuovo"), addr("spento"), addr("piena")];
    assert!(smtplib(p.submission, "mario", &rcpts, &msg)
        .status
        .success());
    p.wait_events("consegna-emessa", 1);
    p.wait_events("mancata-consegna-emessa", 2);
    let out = gestore(&["log", "--config", &config, "verify"], None);
    assert_eq!(code(&out), 0, "{}", text(&out.stdout));
    let out = gestore(
        &["mailbox", "--config", &config, "add", "x@elsewhere.test"],
        None,
    );
    assert_eq!(code(&out), 3, "a box outside our domains is refused");
    p.stop();
    assert_eq!(p.messages("nuovo", "INBOX").len(), 1);
    assert!(p.messages("spento", "INBOX").is_empty());
    assert!(p.messages("piena", "INBOX").is_empty());
    let notices: Vec<_> = sorted_kinds(&p, "mario")
        .into_iter()
        .filter(|(k, _)| k == "mancata-consegna")
        .map(|(_, c)| c)
        .collect();
    assert_eq!(notices, vec![Some(addr("piena")), Some(addr("spento"))]);
}

#[test]
fn passwd_takes_effect_and_remove_deletes_the_box_while_serving() {
    if !have("curl") {
        return;
    }
    let mut p = Provider::new(&["mario", "anna"]);
    p.start();
    let config = path(&p.config);
    let submit = |password: &str| curl_submit(&p, "mario", password, "anna", "pw");
    let out = gestore(
        &[
            "mailbox",
            "--config",
            &config,
            "passwd",
            &addr("mario"),
            "--password",
            "nuova-parola",
        ],
        None,
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        !submit("pw-mario").status.success(),
        "the old password must be refused"
    );
    assert!(
        submit("nuova-parola").status.success(),
        "the new password works at once"
    );

    let out = gestore(
        &["mailbox", "--config", &config, "remove", &addr("anna")],
        None,
    );
    assert_eq!(code(&out), 0);
    let list = text(&gestore(&["mailbox", "--config", &config, "list"], None).stdout);
    assert!(
        !list.contains(&addr("anna")) && list.contains(&addr("mario")),
        "{list}"
    );
}

#[test]
fn bench_reports_every_message_delivered() {
    let out = gestore(
        &[
            "bench",
            "--messages",
            "12",
            "--clients",
            "3",
            "--size",
            "2048",
        ],
        None,
    );
    let report = text(&out.stdout);
    assert_eq!(code(&out), 0, "{report}{}", text(&out.stderr));
    assert!(
        report.contains("12 of 12 delivered with receipts"),
        "{report}"
    );
    for line in [
        "certified messages/s",
        "p50",
        "peak memory",
        "signing ceiling",
    ] {
        assert!(report.contains(line), "{line}: {report}");
    }
}
