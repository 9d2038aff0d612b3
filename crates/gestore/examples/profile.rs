//! Times the pieces of build+sign and verify, to see where the cost goes.
use pec_core::{MessageKind, RiferimentoTemporale};
use pec_smime::pki::{self, PkiOptions};
use pec_smime::{Signer, TrustStore};
use std::time::Instant;

fn time<T>(name: &str, n: u32, mut f: impl FnMut() -> T) {
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(f());
    }
    println!(
        "{name:<28} {:>8.1} µs",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}

fn main() {
    // PKI_DIR reuses a PKI, so instruction counts do not include (random) key generation.
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("PKI_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let paths = pki::PkiPaths::in_dir(&dir);
    if !paths.provider_cert.exists() {
        pki::init(
            &dir,
            &PkiOptions::new("P S.p.A.", "posta-certificata@pec.p.test"),
        )
        .unwrap();
    }
    let signer = Signer::from_pki_dir(&dir).unwrap();
    let provider = signer.provider().unwrap();
    let mut trust = TrustStore::new();
    trust
        .add_bytes(&std::fs::read(&paths.ca_cert).unwrap())
        .unwrap();
    let now = RiferimentoTemporale::from_utc(chrono::Utc::now());
    let kind = MessageKind::Accettazione;
    let unsigned = pec_core::builder::sample::sample(kind, &provider, now);
    let signed = signer.sign(&unsigned).unwrap();
    let n: u32 = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let only = std::env::var("ONLY").unwrap_or_default();
    if only == "bare" {
        let key =
            openssl::pkey::PKey::private_key_from_pem(&std::fs::read(&paths.provider_key).unwrap())
                .unwrap();
        time("bare rsa sign", n, || {
            let mut s =
                openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
            s.update(b"gestore baseline").unwrap();
            s.sign_to_vec().unwrap()
        });
        return;
    }
    if only == "build+sign" {
        time("build+sign", n, || {
            signer
                .sign(&pec_core::builder::sample::sample(kind, &provider, now))
                .unwrap()
        });
        return;
    }
    if only == "verify" {
        time("verify", n, || {
            pec_smime::verify(&signed, &trust, chrono::Utc::now()).unwrap()
        });
        return;
    }
    time("sample()", n, || {
        pec_core::builder::sample::sample(kind, &provider, now)
    });
    time("Originale::parse", n, || {
        pec_core::builder::sample::originale()
    });
    time("sign", n, || signer.sign(&unsigned).unwrap());
    time("verify", n, || {
        pec_smime::verify(&signed, &trust, chrono::Utc::now()).unwrap()
    });
    time("verify (empty trust)", n, || {
        pec_smime::verify(&signed, &TrustStore::new(), chrono::Utc::now()).unwrap()
    });
    time("inspect", n, || {
        pec_core::inspect::inspect(&signed).unwrap()
    });
}
