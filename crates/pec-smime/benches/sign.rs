//! Signing cost against its floor, and verification of a large message.
//!
//! Budget (ARCHITECTURE.md "Speed budget"): building and signing a receipt must cost at most
//! 1.3× a bare RSA-2048 SHA-256 signature, the unavoidable part.

use std::hint::black_box;
use std::time::Duration;

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use pec_core::UnsignedMessage;
use pec_smime::{pki, verify, PkiOptions, Signer, TrustStore};

/// A receipt-like message whose content is about `size` bytes.
fn message(size: usize) -> UnsignedMessage {
    let line =
        "Il messaggio \"prova\" proveniente da mario.rossi@pec.example.it =E8 stato accettato.\r\n";
    let mut text = String::with_capacity(size + line.len());
    while text.len() < size {
        text.push_str(line);
    }
    let content = format!(
        "Content-Type: multipart/mixed; boundary=\"----=_mixed_1\"\r\n\r\n\
         ------=_mixed_1\r\n\
         Content-Type: text/plain; charset=iso-8859-1\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\r\n\
         {text}\
         ------=_mixed_1--\r\n"
    );
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
    let key =
        PKey::private_key_from_pem(&std::fs::read(&paths.provider_key).expect("key")).expect("key");
    let mut trust = TrustStore::new();
    trust
        .add_bytes(&std::fs::read(&paths.ca_cert).expect("ca"))
        .expect("ca");

    let small = message(4 * 1024);
    let large = signer.sign(&message(1 << 20)).expect("sign 1 MB");
    let now = Utc::now();
    assert!(verify(&large, &trust, now).expect("verify").is_valid());

    let mut group = c.benchmark_group("pec-smime");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("rsa2048_sha256_bare_32B", |b| {
        let data = [0x5au8; 32];
        b.iter(|| {
            let mut s = openssl::sign::Signer::new(MessageDigest::sha256(), &key).expect("signer");
            s.update(black_box(&data)).expect("update");
            black_box(s.sign_to_vec().expect("sign"))
        })
    });
    group.bench_function("sign_4KB_message", |b| {
        b.iter(|| black_box(signer.sign(black_box(&small)).expect("sign")))
    });
    group.bench_function("verify_1MB_message", |b| {
        b.iter(|| black_box(verify(black_box(&large), &trust, now).expect("verify")))
    });
    group.finish();
}

criterion_group!(sign, benches);
criterion_main!(sign);
