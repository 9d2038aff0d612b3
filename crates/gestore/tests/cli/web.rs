//! The webmail (issue 14) with a real HTTP client (Python's standard library as a browser:
//! cookies, forms, redirects), against real `gestore serve` processes: login, compose with an
//! attachment, delivery across two providers, reading the original inside the envelope,
//! downloads that still verify, and what strangers and careless forms get.

use crate::between::{Pair, A, B};
use crate::provider::{verified_json, Provider};
use crate::support::*;
use serde_json::Value;

/// Runs a scenario of fixtures/webmail.py against `base`; its JSON report.
fn browser(base: &str, scenario: &str, args: &[&str]) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/fixtures/webmail.py");
    let mut all = vec![script, base, scenario];
    all.extend_from_slice(args);
    let out = run("python3", &all);
    assert!(
        out.status.success(),
        "webmail.py {scenario}: {}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("webmail.py {scenario}: {e}: {}", text(&out.stdout)))
}

#[test]
fn mario_writes_to_anna_and_giulia_and_anna_reads_the_original_with_its_attachment() {
    let pair = Pair::with_webmail(&["mario", "giulia"], &["anna"]);
    let (a, b) = (&pair.a, &pair.b);
    // Mario over HTTPS (the provider's own dev certificate), Anna over plain loopback HTTP.
    let a_url = format!("https://localhost:{}", a.web);
    let b_url = format!("http://127.0.0.1:{}", b.web_http);
    let subject = "Richiesta di accesso agli atti";
    let proofs = tempfile::tempdir().unwrap();
    let sent = browser(
        &a_url,
        "send",
        &[
            &format!("mario@{A}"),
            "pw-mario",
            &format!("anna@{B}"),
            &format!("giulia@{A}"),
            subject,
            "%PDF-1.4 domanda firmata",
            &path(proofs.path()),
        ],
    );
    assert_eq!(sent["login"], 200, "{sent}");
    assert_eq!(sent["inbox_after_login"], true, "{sent}");
    assert_eq!(sent["send"], 200, "{sent}");
    assert_eq!(sent["accepted"], true, "{sent}");
    assert_eq!(sent["acceptance"], 1, "{sent}");
    // One delivery receipt from B (Anna) and one from A (Giulia).
    assert_eq!(sent["deliveries"], 2, "{sent}");
    // Search in Mario's inbox: the acceptance and both receipts name the subject and Anna.
    assert_eq!(sent["search_subject"], 3, "{sent}");
    assert_eq!(sent["search_two_words"], 3, "{sent}");
    assert_eq!(sent["search_nothing"], 0, "{sent}");
    assert_eq!(sent["search_before"], 0, "{sent}");
    assert_eq!(sent["search_today"], 3, "{sent}");
    // Stato dell'invio: both delivered in the Sent list and on the message's page, with a
    // step per event (Anna: relayed, taken in charge, delivered; Giulia: delivered), and no
    // self-reload once nothing is pending.
    assert_eq!(sent["sent_delivered"], 2, "{sent}");
    assert_eq!(sent["sent_refresh"], false, "{sent}");
    assert_eq!(sent["tracking"], true, "{sent}");
    assert_eq!(sent["tracking_delivered"], 2, "{sent}");
    assert!(sent["tracking_steps"].as_u64().unwrap() >= 4, "{sent}");
    // The proofs in Mario's box: the envelope, the acceptance, Anna's delivery receipt
    // (signed by B, completa: she is in To) and Giulia's (signed by A, sintetica: she is in
    // Cc), each verifying as stored. The presa in carico went to A's service box.
    assert_eq!(sent["zip_status"], 200, "{sent}");
    assert_eq!(sent["zip_type"], "application/zip", "{sent}");
    let names: Vec<&str> = sent["zip"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(names.contains(&"stato-dell-invio.txt"), "{names:?}");
    let mut kinds = Vec::new();
    for name in names.iter().filter(|n| n.ends_with(".eml")) {
        let raw = std::fs::read(proofs.path().join(name)).unwrap();
        // Who signed it, by the issuer the signature names; then checked against that CA.
        let out = gestore(&["verify", "--json", "-"], Some(&raw));
        let first: Value = serde_json::from_slice(&out.stdout).unwrap();
        let issuer = first[0]["signature"]["signer"]["issuer"]
            .as_str()
            .unwrap_or("");
        let signer = if issuer.contains("Gestore B") { b } else { a };
        let v = verified_json(a, signer, &raw);
        assert_eq!(v["verdict"], "intact", "{name}: {v}");
        kinds.push(v["kind"].as_str().unwrap().to_string());
    }
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "accettazione",
            "busta",
            "consegna-completa",
            "consegna-sintetica"
        ],
        "{names:?}"
    );
    let stato = std::fs::read_to_string(proofs.path().join("stato-dell-invio.txt")).unwrap();
    assert!(stato.contains(&format!("anna@{B}: consegnato")), "{stato}");
    let id = sent["identificativo"].as_str().expect("msgid shown");
    // The same access point as SMTP: its events are in the legal log.
    assert!(
        a.events("busta-emessa").iter().any(|e| e.contains(id)),
        "no busta-emessa for {id}"
    );

    let dir = tempfile::tempdir().unwrap();
    let read = browser(
        &b_url,
        "read",
        &[
            &format!("anna@{B}"),
            "pw-anna",
            subject,
            &path(dir.path()),
            &format!("mario@{A}"),
        ],
    );
    assert_eq!(read["reply_to"], format!("mario@{A}"), "{read}");
    assert_eq!(read["reply_subject"], format!("Re: {subject}"), "{read}");
    assert_eq!(read["reply_quotes"], true, "{read}");
    assert_eq!(read["forward_lists_attachment"], true, "{read}");
    assert_eq!(read["forwarded"], true, "{read}");
    // The forward reaches Mario at A with the original's attachment.
    let fwd_dir = tempfile::tempdir().unwrap();
    let fwd = browser(
        &a_url,
        "read",
        &[
            &format!("mario@{A}"),
            "pw-mario",
            &format!("I: {subject}"),
            &path(fwd_dir.path()),
        ],
    );
    assert_eq!(fwd["listed"], true, "{fwd}");
    assert_eq!(fwd["attachments"], 1, "{fwd}");
    assert_eq!(fwd["attachment"], "%PDF-1.4 domanda firmata", "{fwd}");
    assert_eq!(read["listed"], true, "{read}");
    assert_eq!(read["message"], 200, "{read}");
    assert_eq!(read["certification_panel"], true, "{read}");
    // A's signature, checked by B against the providers' index.
    assert_eq!(read["signature_ok"], true, "{read}");
    assert_eq!(read["original_text"], true, "{read}");
    assert_eq!(read["attachments"], 1, "{read}");
    assert_eq!(read["attachment"], "%PDF-1.4 domanda firmata", "{read}");
    assert!(read["attachment_disposition"]
        .as_str()
        .unwrap()
        .starts_with("attachment"));
    assert!(read["csp"].as_str().unwrap().contains("default-src 'none'"));
    // The .eml is the stored envelope: A's signature still verifies (openssl and gestore).
    let eml = std::fs::read(read["eml"].as_str().unwrap()).unwrap();
    let v = verified_json(b, a, &eml);
    assert_eq!(v["kind"], "busta", "{v}");
    assert_eq!(v["verdict"], "intact", "{v}");

    // "Verifica una PEC", without logging in: the envelope as stored, the same altered, and
    // a message nobody signed.
    let genuine = dir.path().join("genuina.eml");
    let altered = dir.path().join("alterata.eml");
    let plain = dir.path().join("ordinaria.eml");
    std::fs::write(&genuine, &eml).unwrap();
    std::fs::write(&altered, tamper(&eml)).unwrap();
    std::fs::write(
        &plain,
        b"From: x@example.com\r\nSubject: ciao\r\n\r\nciao\r\n",
    )
    .unwrap();
    let ver = browser(
        &b_url,
        "verify",
        &[&path(&genuine), &path(&altered), &path(&plain)],
    );
    assert_eq!(ver["page"], 200, "{ver}");
    assert_eq!(ver["genuina.eml"][1], "ok", "{ver}");
    assert_eq!(ver["alterata.eml"][1], "ko", "{ver}");
    assert!(
        ver["alterata.eml"][2]
            .as_str()
            .unwrap()
            .contains("alterato"),
        "{ver}"
    );
    assert_eq!(ver["ordinaria.eml"][1], "ko", "{ver}");
    assert!(
        ver["ordinaria.eml"][2]
            .as_str()
            .unwrap()
            .contains("Non firmato"),
        "{ver}"
    );
}

#[test]
fn strangers_forms_without_tokens_and_script_in_mail_get_nothing() {
    let mut p = Provider::new(&["mario"]);
    p.webmail = true;
    p.write_config();
    p.start();
    let url = format!("http://127.0.0.1:{}", p.web_http);
    let user = format!("mario@{}", p.domain);
    let r = browser(&url, "probe", &[&user, "pw-mario"]);
    assert_eq!(r["anonymous"], 303, "{r}");
    assert_eq!(r["anonymous_location"], "/accesso", "{r}");
    assert_eq!(r["login_without_token"], 403, "{r}");
    assert_eq!(r["wrong_password"], 401, "{r}");
    assert_eq!(r["login"], 200, "{r}");
    assert_eq!(r["session_cookie"], true, "{r}");
    assert_eq!(r["httponly"], true, "{r}");
    assert_eq!(r["samesite"], "Strict", "{r}");
    // Plain HTTP (loopback): no Secure flag, or the browser would never send it back.
    assert_eq!(r["secure"], false, "{r}");
    assert_eq!(r["send_without_csrf"], 403, "{r}");
    assert_eq!(r["logout_without_csrf"], 403, "{r}");
    assert_eq!(r["unknown_uid"], 404, "{r}");
    assert_eq!(r["unknown_folder"], 404, "{r}");
    assert_eq!(r["bad_uid"], 400, "{r}");
    assert_eq!(r["evil_send"], 200, "{r}");
    assert_eq!(r["list_escaped"], true, "{r}");
    assert_eq!(r["list_raw_script"], false, "{r}");
    assert_eq!(r["page_raw_script"], false, "{r}");
    assert_eq!(r["page_raw_img"], false, "{r}");
    assert_eq!(r["evil_attachment_type"], "application/octet-stream", "{r}");
    assert!(r["evil_attachment_disposition"]
        .as_str()
        .unwrap()
        .starts_with("attachment; filename=\""));
    assert!(!r["evil_attachment_disposition"]
        .as_str()
        .unwrap()
        .contains('<'));
    assert!(
        r["csp"].as_str().unwrap().contains("default-src 'none'"),
        "{r}"
    );
    assert_eq!(r["nosniff"], "nosniff", "{r}");
    assert_eq!(r["logout"], 303, "{r}");
    assert_eq!(r["after_logout"], 303, "{r}");
    // The failed login is the same line, in the same connection span, that the documented
    // fail2ban filter reads for SMTP, IMAP and POP3.
    assert!(
        p.errors("auth failed service=web ip=127.0.0.1")
            .iter()
            .any(|l| l.contains("WARN session{listener=web_http 127.0.0.1:")),
        "no auth failed line for the web"
    );
}

#[test]
fn the_second_factor_is_asked_after_the_password_and_each_code_is_good_once() {
    let mut p = Provider::new(&["mario", "giulia"]);
    p.webmail = true;
    p.write_config();
    p.start();
    let url = format!("http://127.0.0.1:{}", p.web_http);
    // The operator turns it on for Giulia (while the server runs: through the admin socket).
    let giulia = format!("giulia@{}", p.domain);
    let out = gestore(
        &[
            "mailbox",
            "--config",
            &path(&p.config),
            "2fa",
            "enable",
            &giulia,
        ],
        None,
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let uri = text(&out.stdout).trim().to_string();
    assert!(
        uri.starts_with(&format!(
            "otpauth://totp/Gestore%20di%20Prova%20S.p.A.:{giulia}?secret="
        )),
        "{uri}"
    );
    let secret = uri
        .split("secret=")
        .nth(1)
        .and_then(|r| r.split('&').next())
        .unwrap()
        .to_string();
    let r = browser(&url, "totp", &[&giulia, "pw-giulia", &secret]);
    assert_eq!(r["asks_code"], true, "{r}");
    assert_eq!(r["inbox_before_code"][0], 303, "{r}");
    assert_eq!(r["inbox_before_code"][1], "/accesso/codice", "{r}");
    assert_eq!(r["wrong_code"], 401, "{r}");
    assert_eq!(r["right_code"], 200, "{r}");
    assert_eq!(r["inbox"], true, "{r}");
    assert_eq!(r["replayed_code"], 401, "{r}");
    // Mario turns it on himself in the webmail, then logs in with it.
    let mario = format!("mario@{}", p.domain);
    let r = browser(&url, "enrol", &[&mario, "pw-mario"]);
    assert_eq!(r["enrol_page"], 200, "{r}");
    assert_eq!(r["qr"], true, "{r}");
    assert_eq!(r["secret_shown"], 32, "{r}");
    assert_eq!(r["wrong_confirm_active"], false, "{r}");
    assert_eq!(r["confirmed"], true, "{r}");
    assert_eq!(r["asks_code"], true, "{r}");
    assert_eq!(r["login_with_code"], 200, "{r}");
    assert_eq!(r["last_accesses"], 1, "{r}");
    // Off again from the CLI: the password alone is enough.
    let out = gestore(
        &[
            "mailbox",
            "--config",
            &path(&p.config),
            "2fa",
            "disable",
            &giulia,
        ],
        None,
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let r = browser(&url, "probe", &[&giulia, "pw-giulia"]);
    assert_eq!(r["login"], 200, "{r}");
}

#[test]
fn plain_http_off_loopback_is_refused_at_start() {
    let p = Provider::new(&[]);
    let config = std::fs::read_to_string(&p.config).unwrap();
    let config = config.replace("[listen]\n", "[listen]\nweb_http = \"0.0.0.0:0\"\n");
    std::fs::write(&p.config, config).unwrap();
    let out = gestore(&["config", "check", &path(&p.config)], None);
    assert_ne!(code(&out), 0);
    assert!(
        text(&out.stderr).contains("listen.web_http") && text(&out.stderr).contains("loopback"),
        "{}",
        text(&out.stderr)
    );
}

/// The browser tools scripts/browser installs; `None` (the test then says why and fails
/// under GESTORE_REQUIRE_TOOLS) when they are missing.
fn browser_tools() -> Option<String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/browser");
    let out = std::process::Command::new(script)
        .arg("axe")
        .output()
        .ok()?;
    let axe = text(&out.stdout).trim().to_string();
    let ok = std::path::Path::new(&axe).exists()
        && std::path::Path::new("/usr/bin/chromium").exists()
        && std::path::Path::new("/usr/bin/chromedriver").exists();
    ok.then_some(axe)
}

#[test]
fn in_chromium_mario_sends_and_tracks_anna_reads_and_every_page_passes_axe() {
    let Some(axe) = browser_tools() else {
        assert!(
            std::env::var_os("GESTORE_REQUIRE_TOOLS").is_none(),
            "chromium, chromedriver or axe-core missing: run scripts/browser install"
        );
        eprintln!("skipped: chromium or axe-core missing (scripts/browser install)");
        return;
    };
    let pair = Pair::with_webmail(&["mario", "giulia"], &["anna"]);
    let (a, b) = (&pair.a, &pair.b);
    // Screenshots are kept where docs/webmail.md's images are refreshed from.
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("webmail-screenshots");
    std::fs::create_dir_all(&out).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/fixtures/browser.py");
    let run_out = run(
        "/usr/bin/python3",
        &[
            script,
            &format!("https://localhost:{}", a.web),
            &format!("http://127.0.0.1:{}", b.web_http),
            &format!("mario@{A}"),
            &format!("anna@{B}"),
            &format!("giulia@{A}"),
            &axe,
            &path(&out),
        ],
    );
    assert!(
        run_out.status.success(),
        "browser.py: {}",
        text(&run_out.stderr)
    );
    let r: Value = serde_json::from_slice(&run_out.stdout).unwrap();
    assert_eq!(r["inbox"], true, "{r}");
    assert_eq!(r["accepted"], true, "{r}");
    assert_eq!(r["sent_delivered"], 2, "{r}");
    assert_eq!(r["tracking"], true, "{r}");
    assert_eq!(r["original_text"], true, "{r}");
    assert_eq!(r["attachment_link"], 1, "{r}");
    assert_eq!(r["certified"], true, "{r}");
    assert_eq!(r["signature_ok"], true, "{r}");
    for k in [
        "evil_alert_after_send",
        "evil_alert_in_list",
        "evil_alert_in_message",
    ] {
        assert_eq!(r[k], false, "{k}: {r}");
    }
    assert_eq!(r["evil_shown_as_text"], true, "{r}");
    let pages = [
        "accesso",
        "posta-in-arrivo",
        "scrivi",
        "stato-dell-invio",
        "messaggio",
    ];
    for page in pages {
        assert_eq!(
            r["axe"][page],
            serde_json::json!([]),
            "serious or critical accessibility violations on {page}: {r}"
        );
        assert!(out.join(format!("{page}.png")).exists(), "{page}.png");
    }
}
