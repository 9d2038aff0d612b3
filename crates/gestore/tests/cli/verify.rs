//! `gestore verify` on the genuine samples and on our own output.

use crate::support::*;
use serde_json::Value;

fn json_of(file: &str) -> (i32, Value) {
    let sample = real_sample(file);
    let out = gestore(&["verify", "--json", &path(&sample)], None);
    let json: Value = serde_json::from_slice(&out.stdout).expect("json");
    (code(&out), json[0].clone())
}

#[test]
fn genuine_envelope_is_intact_with_its_daticert() {
    let (code, r) = json_of("aruba-2014-busta-1.eml");
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["kind"], "busta");
    assert_eq!(r["signature"]["intact"], true);
    assert_eq!(r["signature"]["digest_algorithm"], "sha1");
    assert_eq!(
        r["signature"]["valid_now"], false,
        "the 2014 certificate has expired"
    );
    let emails = r["signature"]["signer"]["emails"]
        .as_array()
        .expect("emails");
    assert!(
        emails.iter().any(|e| e == "posta-certificata@pec.aruba.it"),
        "{emails:?}"
    );
    let d = &r["daticert"];
    assert_eq!(d["tipo"], "posta-certificata");
    assert_eq!(d["gestore_emittente"], "ARUBA PEC S.p.A.");
    assert_eq!(d["mittente"], "thinkstudio@pec.it");
    assert_eq!(d["destinatari"][0]["indirizzo"], "l.battistini@pec.it");
    assert_eq!(d["destinatari"][0]["tipo"], "certificato");
    assert_eq!(d["oggetto"], "Re: archetipo");
    assert_eq!(d["giorno"], "07/11/2014");
    assert_eq!(d["ora"], "16:52:00");
    assert_eq!(d["zona"], "+0100");
    assert_eq!(
        d["identificativo"],
        "opec275.20141107165200.03048.08.1.17@pec.aruba.it"
    );
    assert_eq!(
        d["msgid"],
        "<NEOEQO$8B558E13C0664DE7004C1EFB790D1A09@pec.it>"
    );
    assert_eq!(d["ricevuta"], "completa");
    assert_eq!(r["postacert"], true);
}

#[test]
fn genuine_second_envelope_is_intact() {
    let (code, r) = json_of("aruba-2014-busta-2.eml");
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["kind"], "busta");
    assert_eq!(r["daticert"]["oggetto"], "Re: test");
}

#[test]
fn genuine_acceptance_receipt_is_intact() {
    let (code, r) = json_of("aruba-2014-accettazione.eml");
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["kind"], "accettazione");
    assert_eq!(r["daticert"]["tipo"], "accettazione");
    assert_eq!(
        r["daticert"]["destinatari"][0]["indirizzo"],
        "thinkstudio@pec.it"
    );
    assert_eq!(r["daticert"]["ricevuta"], Value::Null);
    assert_eq!(r["postacert"], false);
}

#[test]
fn genuine_delivery_receipt_is_intact_and_names_the_recipient() {
    let (code, r) = json_of("aruba-2014-consegna.eml");
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["kind"], "consegna-completa");
    assert_eq!(r["daticert"]["consegna"], "thinkstudio@pec.it");
    assert_eq!(r["postacert"], true);
}

#[test]
fn edited_envelope_is_reported_tampered() {
    let (code, r) = json_of("tampered-busta.eml");
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["verdict"], "tampered");
    assert_eq!(r["signature"]["intact"], false);
    assert_eq!(r["kind"], "busta");
}

#[test]
fn all_samples_at_once_exit_with_the_gravest_code() {
    let files: Vec<String> = [
        "aruba-2014-busta-1.eml",
        "aruba-2014-busta-2.eml",
        "aruba-2014-accettazione.eml",
        "aruba-2014-consegna.eml",
        "tampered-busta.eml",
    ]
    .iter()
    .map(|f| path(&real_sample(f)))
    .collect();
    let mut args = vec!["verify"];
    args.extend(files.iter().map(String::as_str));
    let out = gestore(&args, None);
    assert_eq!(code(&out), 1);
    let summary = text(&out.stdout);
    assert_eq!(
        summary.matches("verdict:        intact").count(),
        4,
        "{summary}"
    );
    assert_eq!(
        summary.matches("verdict:        tampered").count(),
        1,
        "{summary}"
    );
    assert!(summary.contains("ARUBA PEC S.p.A."), "{summary}");
    assert!(summary.contains("identificativo:"), "{summary}");
}

#[test]
fn stdin_is_read_with_a_dash() {
    let raw = std::fs::read(real_sample("aruba-2014-accettazione.eml")).unwrap();
    let out = gestore(&["verify", "-"], Some(&raw));
    assert_eq!(code(&out), 0, "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("ricevuta di accettazione"));
}

#[test]
fn extract_writes_the_original_and_its_attachments() {
    let dir = tempfile::tempdir().unwrap();
    let out = gestore(
        &[
            "verify",
            "--extract",
            &path(dir.path()),
            &path(&real_sample("aruba-2014-busta-1.eml")),
        ],
        None,
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let original = std::fs::read(dir.path().join("postacert.eml")).expect("postacert.eml");
    assert!(
        find(
            &original,
            b"Message-ID: <opec275.20141107165200.03048.08.1.17@pec.aruba.it>"
        )
        .is_some()
            || find(&original, b"Message-ID:").is_some()
    );
    let daticert = std::fs::read_to_string(dir.path().join("daticert.xml")).expect("daticert.xml");
    assert!(daticert.contains("<postacert tipo=\"posta-certificata\""));
}

#[test]
fn extract_of_our_busta_writes_the_attachment_of_the_original() {
    let pki = Pki::new();
    let file = pki.sample("busta");
    let dir = pki.dir.path().join("extracted");
    let out = gestore(&["verify", "--extract", &path(&dir), &path(&file)], None);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"postacert.eml".to_string()), "{names:?}");
    assert!(
        names.len() >= 3,
        "postacert, daticert and at least one attachment: {names:?}"
    );
}

#[test]
fn ordinary_mail_is_unsigned_and_named_ordinaria() {
    let raw = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: ciao\r\n\r\nhello\r\n";
    let out = gestore(&["verify", "--json", "-"], Some(raw));
    assert_eq!(code(&out), 2);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["kind"], "ordinaria");
    assert_eq!(json[0]["verdict"], "unsigned");
}
