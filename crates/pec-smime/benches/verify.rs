//! Verification cost of a small signed message: the plain [`verify`] against a long-lived
//! [`Verifier`] whose signer cache is warm.

use std::hint::black_box;
use std::time::Duration;

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion};
use pec_core::UnsignedMessage;
use pec_smime::{pki, verify, PkiOptions, Signer, TrustStore, Verifier};

/// A receipt-like message of about 1 KB.
fn message() -> UnsignedMessage {
    let content = "Content-Type: text/plain; charset=iso-8859-1\r\n\
                   Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        .to_string()
        + &"Il messaggio \"prova\" =E8 stato accettato dal sistema.\r\n".repeat(18);
    UnsignedMessage {
        headers: vec![
            ("Date".into(), "Fri, 14 Nov 2014 18:26:32 +0100".into()),
            ("From".into(), "posta-certificata@pec.example.it".into()),
            ("To".into(), "mario.rossi@pec.example.it".into()),
            ("Subject".into(), "ACCETTAZIONE: prova".into()),
            ("Message-ID".into(), "<opec1@pec.example.it>".into()),
            ("X-Ricevuta".into(), "accettazione".into()),
        ],
        content: content.into_bytes(),
    }
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = pki::init(
        dir.path(),
        &PkiOptions::new("Example PEC S.p.A.", "posta-certificata@pec.example.it"),
    )
    .expect("pki");
    let signer = Signer::from_pki_dir(dir.path()).expect("signer");
    let mut trust = TrustStore::new();
    trust
        .add_bytes(&std::fs::read(&paths.ca_cert).expect("ca"))
        .expect("ca");
    let small = signer.sign(&message()).expect("sign");
    let now = Utc::now();
    assert!(verify(&small, &trust, now).expect("verify").is_valid_now());

    let mut group = c.benchmark_group("pec-smime-verify");
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    group.bench_function("verify_small_message", |b| {
        b.iter(|| black_box(verify(black_box(&small), &trust, now).expect("verify")))
    });
    let verifier = Verifier::new(trust.clone());
    assert_eq!(verifier.verify(&small, now), verify(&small, &trust, now));
    group.bench_function("verifier_small_message_warm", |b| {
        b.iter(|| black_box(verifier.verify(black_box(&small), now).expect("verify")))
    });
    group.finish();
}

criterion_group!(verify_benches, benches);
criterion_main!(verify_benches);
