//! Build+sign and verify, per PEC message kind, beside the bare RSA-2048 signature they
//! cannot go below. `cargo bench -p gestore --bench kinds`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pec_core::{MessageKind, RiferimentoTemporale};
use pec_smime::pki::{self, PkiOptions};
use pec_smime::{Signer, TrustStore};
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = pki::init(
        dir.path(),
        &PkiOptions::new("Bench S.p.A.", "posta-certificata@pec.bench.test"),
    )
    .expect("pki");
    let signer = Signer::from_pki_dir(dir.path()).expect("signer");
    let provider = signer.provider().expect("provider");
    let bytes = std::fs::read(&paths.ca_cert).expect("ca");
    let mut trust = TrustStore::new();
    trust.add_bytes(&bytes).expect("trust");
    let now = RiferimentoTemporale::from_utc(chrono::Utc::now());
    let key_pem = std::fs::read(&paths.provider_key).expect("key");
    let key = openssl::pkey::PKey::private_key_from_pem(&key_pem).expect("key");

    let mut g = c.benchmark_group("baseline");
    g.measurement_time(Duration::from_secs(3)).sample_size(30);
    g.bench_function("rsa2048-sha256-sign", |b| {
        b.iter(|| {
            let mut s = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key)
                .expect("signer");
            s.update(b"gestore baseline: one bare RSA-2048 signature")
                .expect("update");
            s.sign_to_vec().expect("sign")
        })
    });
    g.finish();

    let mut g = c.benchmark_group("build+sign");
    g.measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .throughput(Throughput::Elements(1));
    for kind in MessageKind::PEC {
        g.bench_with_input(
            BenchmarkId::from_parameter(kind.name()),
            &kind,
            |b, &kind| {
                b.iter(|| {
                    let unsigned = pec_core::builder::sample::sample(kind, &provider, now);
                    signer.sign(&unsigned).expect("sign")
                })
            },
        );
    }
    g.finish();

    let mut g = c.benchmark_group("verify");
    g.measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .throughput(Throughput::Elements(1));
    let verify_now = chrono::Utc::now();
    for kind in MessageKind::PEC {
        let signed = signer
            .sign(&pec_core::builder::sample::sample(kind, &provider, now))
            .expect("sign");
        g.bench_with_input(
            BenchmarkId::from_parameter(kind.name()),
            &signed,
            |b, signed| {
                b.iter(|| {
                    let v = pec_smime::verify(signed, &trust, verify_now).expect("verify");
                    assert!(v.intact);
                    pec_core::inspect::inspect(signed).expect("inspect")
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
