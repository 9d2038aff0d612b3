//! Bad input never crashes `gestore verify`: a one-line reason and the right exit code,
//! with memory bounded.

use crate::support::*;
use serde_json::Value;

/// Runs `gestore verify --json FILE` under an address-space cap, so unbounded memory use
/// makes the run fail instead of passing slowly.
fn verify_capped(file: &std::path::Path, cap_kib: u64) -> (i32, Value, String) {
    let cmd = format!(
        "ulimit -v {cap_kib}; exec '{}' verify --json '{}'",
        env!("CARGO_BIN_EXE_gestore"),
        path(file)
    );
    let out = run("sh", &["-c", &cmd]);
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}); stderr: {stderr}"));
    (code(&out), json[0].clone(), stderr)
}

fn verify_bytes(bytes: &[u8]) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("input.eml");
    std::fs::write(&file, bytes).unwrap();
    let (code, json, _) = verify_capped(&file, 1_000_000);
    (code, json)
}

fn assert_one_line_reason(r: &Value) {
    let reason = r["reason"]
        .as_str()
        .unwrap_or_else(|| panic!("no reason: {r}"));
    assert!(!reason.is_empty() && !reason.contains('\n'), "{reason:?}");
}

fn genuine(name: &str) -> Vec<u8> {
    std::fs::read(real_sample(name)).unwrap()
}

#[test]
fn truncated_signed_message_is_unreadable() {
    let raw = genuine("aruba-2014-consegna.eml");
    let cut = find(&raw, b"smime.p7s").expect("signature part") + 200;
    let (code, r) = verify_bytes(&raw[..cut]);
    assert_eq!(code, 3, "{r}");
    assert_one_line_reason(&r);
}

#[test]
fn truncated_in_the_signed_part_is_unreadable() {
    let raw = genuine("aruba-2014-consegna.eml");
    let (code, r) = verify_bytes(&raw[..raw.len() / 2]);
    assert_eq!(code, 3, "{r}");
    assert_one_line_reason(&r);
}

#[test]
fn multipart_signed_without_boundary_is_unreadable() {
    let raw = String::from_utf8(genuine("aruba-2014-accettazione.eml")).unwrap();
    let broken = raw.replacen("boundary=\"", "nobound=\"", 1);
    let (code, r) = verify_bytes(broken.as_bytes());
    assert_eq!(code, 3, "{r}");
    assert_one_line_reason(&r);
}

#[test]
fn repeated_boundary_does_not_pass_as_intact() {
    let raw = String::from_utf8(genuine("aruba-2014-accettazione.eml")).unwrap();
    let boundary = "------0E32ED7BC110EE1F6074D6F7771A6303";
    let first = raw.find(boundary).expect("boundary") + boundary.len();
    let mut broken = raw.clone();
    // A second delimiter right after the first: an empty first part, the real one second.
    broken.insert_str(first, &format!("\r\n\r\n{boundary}"));
    let (code, r) = verify_bytes(broken.as_bytes());
    assert!(code == 1 || code == 3, "code {code}: {r}");
}

#[test]
fn binary_garbage_is_unreadable() {
    let garbage: Vec<u8> = (0..65_536u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let (code, r) = verify_bytes(&garbage);
    assert_eq!(code, 3, "{r}");
    assert_one_line_reason(&r);
}

#[test]
fn empty_input_is_unreadable() {
    let (code, r) = verify_bytes(b"");
    assert_eq!(code, 3, "{r}");
    assert_one_line_reason(&r);
}

#[test]
fn invalid_utf8_in_an_outer_header_keeps_the_signature_intact() {
    let mut raw = genuine("aruba-2014-accettazione.eml");
    let at = find(&raw, b"Subject: ACCETTAZIONE: test").expect("subject") + 9;
    raw.splice(at..at, [0xff, 0xfe, 0xc3, b' ']);
    let (code, r) = verify_bytes(&raw);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["kind"], "accettazione");
}

#[test]
fn a_hundred_nested_messages_are_read_without_crash() {
    let mut msg =
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: core\r\n\r\nbody\r\n".to_vec();
    for i in 0..100 {
        let mut outer = format!(
            "From: a@example.com\r\nTo: b@example.com\r\nSubject: level {i}\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n"
        )
        .into_bytes();
        outer.extend_from_slice(&msg);
        msg = outer;
    }
    let (code, r) = verify_bytes(&msg);
    assert_eq!(code, 2, "{r}");
    assert_eq!(r["verdict"], "unsigned");
}

#[test]
fn xml_bomb_in_daticert_is_reported_not_expanded() {
    let bomb = concat!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE postacert [\n",
        "<!ENTITY a \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">\n",
        "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n",
        "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n",
        "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n",
        "<!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">\n",
        "]>\n<postacert tipo=\"accettazione\"><intestazione><mittente>&e;&e;&e;&e;</mittente>",
        "</intestazione></postacert>\n"
    );
    let msg = format!(
        "From: posta-certificata@pec.example.test\r\nTo: a@example.com\r\nSubject: ACCETTAZIONE: x\r\n\
         X-Ricevuta: accettazione\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\ntesto\r\n\
         --b\r\nContent-Type: application/xml; name=\"daticert.xml\"\r\n\
         Content-Disposition: inline; filename=\"daticert.xml\"\r\n\r\n{bomb}\r\n--b--\r\n"
    );
    let (code, r) = verify_bytes(msg.as_bytes());
    assert_eq!(code, 2, "unsigned: {r}");
    assert_eq!(r["kind"], "accettazione");
    let err = r["daticert"]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("daticert error: {r}"));
    assert!(!err.contains('\n'), "{err:?}");
}

#[test]
fn a_200_mb_attachment_is_checked_in_bounded_memory() {
    // A genuine receipt with a 200 MB attachment slipped into its signed part: the verifier
    // must read it, find the digest mismatch and stay within a 1.5 GB address space.
    let raw = String::from_utf8(genuine("aruba-2014-accettazione.eml")).unwrap();
    let inner = "------------=_1415985992-23219-13";
    let at = raw
        .rfind(&format!("{inner}--"))
        .expect("closing inner boundary");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.eml");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        f.write_all(&raw.as_bytes()[..at]).unwrap();
        f.write_all(format!("{inner}\r\nContent-Type: application/octet-stream; name=\"big.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n").as_bytes()).unwrap();
        let line = [b'Q'; 76];
        for _ in 0..(200 * 1024 * 1024 / 77) {
            f.write_all(&line).unwrap();
            f.write_all(b"\r\n").unwrap();
        }
        f.write_all(&raw.as_bytes()[at..]).unwrap();
    }
    let (code, r, _) = verify_capped(&file, 1_500_000);
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["verdict"], "tampered");
}

#[test]
fn regression_fuzz_orphan_part_does_not_panic() {
    // Found by the message_read fuzz target: a MIME part whose parent multipart mail-parser
    // cannot find tripped a debug assertion in mail-parser 0.11 (gestore exited 101).
    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/cli/fixtures/fuzz-orphan-part.eml"
    ))
    .unwrap();
    let (code, r) = verify_bytes(&raw);
    assert!((1..=3).contains(&code), "{r}");
    assert!(r["verdict"].is_string(), "{r}");
}
