//! `Verifier`: the same answers as `verify`, on the first message from a signer and on the
//! ones after it (served from the cache), at every time around the validity periods.

use std::process::Command;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use openssl::x509::X509;
use pec_smime::{verify, TrustStore, Verification, Verifier, VerifyError};

use super::util::{find, run, sample, signed_part_range, tool, DevPki};

const SAMPLES: [&str; 5] = [
    "aruba-2014-accettazione.eml",
    "aruba-2014-busta-1.eml",
    "aruba-2014-busta-2.eml",
    "aruba-2014-consegna.eml",
    "tampered-busta.eml",
];

/// Asserts that `verifier` answers as `verify` at `now`, twice (the second from the cache),
/// and returns the answer.
fn same_answer(
    verifier: &Verifier,
    raw: &[u8],
    now: DateTime<Utc>,
) -> Result<Verification, VerifyError> {
    let expected = verify(raw, verifier.trust(), now);
    let first = verifier.verify(raw, now);
    let cached = verifier.verify(raw, now);
    assert_eq!(first, expected, "first verification at {now}");
    assert_eq!(cached, expected, "cached verification at {now}");
    expected
}

/// Signs `content` with the openssl CLI and `extra` arguments; the output is S/MIME text.
fn openssl_cms_sign(pki: &DevPki, content: &[u8], extra: &[&str]) -> Vec<u8> {
    let input = pki.write("verifier-content.eml", content);
    let out = pki.write("verifier-signed.eml", b"");
    let (ok, text) = run(Command::new("openssl")
        .args(["cms", "-sign", "-binary", "-in"])
        .arg(&input)
        .arg("-signer")
        .arg(&pki.paths.provider_cert)
        .arg("-inkey")
        .arg(&pki.paths.provider_key)
        .args(extra)
        .arg("-out")
        .arg(&out));
    assert!(ok, "openssl cms -sign: {text}");
    std::fs::read(out).unwrap()
}

fn ca(pki: &DevPki) -> X509 {
    X509::from_pem(&std::fs::read(&pki.paths.ca_cert).unwrap()).unwrap()
}

#[test]
fn verifier_is_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Verifier>();
    let pki = DevPki::shared();
    let verifier = Arc::new(Verifier::new(pki.trust.clone()));
    let raw = Arc::new(pki.signed());
    let now = Utc::now();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (verifier, raw) = (Arc::clone(&verifier), Arc::clone(&raw));
            std::thread::spawn(move || verifier.verify(&raw, now).unwrap())
        })
        .collect();
    let expected = verify(&raw, &pki.trust, now).unwrap();
    for h in handles {
        assert_eq!(h.join().unwrap(), expected);
    }
    assert_eq!(verifier.cached_signers(), 1);
}

#[test]
fn dev_signature_same_answer_first_and_cached() {
    let pki = DevPki::shared();
    let verifier = Verifier::new(pki.trust.clone());
    let raw = pki.signed();
    for now in [Utc::now(), Utc::now() + Duration::days(3650)] {
        let v = same_answer(&verifier, &raw, now).unwrap();
        assert!(v.is_valid(), "{:?}", v.chain_error);
    }
    // Another message from the same signer is served from the cache.
    let other = pki.signer.sign(&super::util::message(5)).unwrap();
    let v = same_answer(&verifier, &other, Utc::now()).unwrap();
    assert!(v.is_valid_now());
    assert_eq!(verifier.cached_signers(), 1);
}

#[test]
fn genuine_samples_same_answer_untrusted() {
    let verifier = Verifier::new(TrustStore::new());
    for name in SAMPLES {
        let v = same_answer(&verifier, &sample(name), Utc::now()).unwrap();
        assert!(!v.trusted && !v.chain_valid, "{name}");
    }
}

#[test]
fn genuine_samples_same_answer_with_their_own_anchors() {
    // Trusting each certificate the samples embed in turn: the chain is judged at the
    // 2014 signing time and, for `valid_now`, today.
    let certs: Vec<Vec<u8>> = SAMPLES
        .iter()
        .flat_map(|name| {
            verify(&sample(name), &TrustStore::new(), Utc::now())
                .unwrap()
                .certificates
        })
        .collect();
    let mut trusted_once = false;
    for der in &certs {
        let mut trust = TrustStore::new();
        trust.add_bytes(der).unwrap();
        let verifier = Verifier::new(trust);
        for name in SAMPLES {
            for now in [
                Utc::now(),
                Utc.with_ymd_and_hms(2014, 11, 20, 0, 0, 0).unwrap(),
            ] {
                let v = same_answer(&verifier, &sample(name), now).unwrap();
                trusted_once |= v.trusted && v.chain_valid;
            }
        }
    }
    assert!(
        trusted_once,
        "some embedded certificate should anchor a sample"
    );
}

#[test]
fn tampered_message_same_answer() {
    let pki = DevPki::shared();
    let verifier = Verifier::new(pki.trust.clone());
    let signed = pki.signed();
    let range = signed_part_range(&signed);
    let at = range.start + find(&signed[range], b"accettato").unwrap();
    let mut tampered = signed.clone();
    tampered[at] ^= 0x01;
    // The good message first, so the tampered one meets a warm cache.
    assert!(same_answer(&verifier, &signed, Utc::now()).unwrap().intact);
    let v = same_answer(&verifier, &tampered, Utc::now()).unwrap();
    assert!(!v.intact && v.chain_valid);
}

#[test]
fn untrusted_signer_same_answer() {
    let ours = DevPki::shared();
    let stranger = DevPki::new();
    let verifier = Verifier::new(ours.trust.clone());
    let v = same_answer(&verifier, &stranger.signed(), Utc::now()).unwrap();
    assert!(v.intact && !v.trusted && !v.chain_valid);
    assert!(v.chain_error.is_some());
}

#[test]
fn two_anchors_with_one_name_same_answer() {
    // Two dev CAs of the same provider share their subject name: the chain openssl builds
    // may depend on the time, so nothing is derived from the cached verdict.
    let a = DevPki::new();
    let b = DevPki::new();
    let mut trust = TrustStore::new();
    trust.add(ca(&a));
    trust.add(ca(&b));
    let verifier = Verifier::new(trust);
    for pki in [&a, &b] {
        let v = same_answer(&verifier, &pki.signed(), Utc::now()).unwrap();
        assert!(v.is_valid_now(), "{:?}", v.chain_error);
    }
}

#[test]
fn unsigned_and_broken_messages_same_error() {
    let verifier = Verifier::new(DevPki::shared().trust.clone());
    let now = Utc::now();
    let unsigned = b"From: a@b.it\r\nSubject: x\r\n\r\nhello\r\n".to_vec();
    assert_eq!(
        same_answer(&verifier, &unsigned, now),
        Err(VerifyError::Unsigned)
    );
    let mut broken = DevPki::shared().signed();
    let at = find(&broken, b"MII").expect("base64 signature");
    broken[at] = b'*';
    broken[at + 1] = b'*';
    assert!(matches!(
        same_answer(&verifier, &broken, now),
        Err(VerifyError::Unreadable(_))
    ));
}

/// Every second around the edges of the validity periods of the provider certificate and its
/// CA, judged at `now` because the signature has no signing time: cached and uncached
/// answers agree, including the expiry and not-yet-valid reasons.
#[test]
fn no_signing_time_same_answer_around_validity_edges() {
    if !tool("openssl") {
        return;
    }
    let pki = DevPki::shared();
    let content = super::util::message(2).content;
    let detached = openssl_cms_sign(pki, &content, &["-noattr"]);
    let opaque = openssl_cms_sign(pki, &content, &["-noattr", "-nodetach"]);
    let verifier = Verifier::new(pki.trust.clone());
    let first = same_answer(&verifier, &detached, Utc::now()).unwrap();
    assert!(first.signing_time.is_none() && first.is_valid_now());
    let signer = first.signer.unwrap();
    let ca = ca(pki);
    let ca_times = [ca.not_before(), ca.not_after()].map(|t| {
        let diff = openssl::asn1::Asn1Time::from_unix(0)
            .unwrap()
            .diff(t)
            .unwrap();
        Utc.timestamp_opt(i64::from(diff.days) * 86_400 + i64::from(diff.secs), 0)
            .unwrap()
    });
    let edges = [
        signer.not_before,
        signer.not_after,
        ca_times[0],
        ca_times[1],
    ];
    let mut reasons = Vec::new();
    for raw in [&detached, &opaque] {
        for edge in edges {
            for offset in -3..=3 {
                let now = edge + Duration::seconds(offset);
                let v = same_answer(&verifier, raw, now).unwrap();
                reasons.extend(v.chain_error);
            }
        }
        for now in [
            Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2099, 1, 1, 0, 0, 0).unwrap(),
        ] {
            let v = same_answer(&verifier, raw, now).unwrap();
            assert!(v.trusted && !v.chain_valid);
        }
    }
    assert!(reasons.iter().any(|r| r.contains("expired")), "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("not yet valid")),
        "{reasons:?}"
    );
    assert_eq!(verifier.cached_signers(), 1);
}
