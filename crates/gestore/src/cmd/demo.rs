//! `gestore demo`: what gestore does today, in one command.
//!
//! Until the provider's servers exist (issue 3), the demo makes the dev PKI on first start,
//! writes one signed message of every PEC kind and checks each with the verifier, printing a
//! line per kind. Everything goes under the data folder.

use anyhow::{Context, Result};
use pec_core::MessageKind;
use pec_smime::pki::{self, PkiOptions};
use pec_smime::Signer;
use std::path::PathBuf;

/// Arguments of `gestore demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Data folder (dev PKI in DATA/pki, messages in DATA/samples).
    #[arg(long, default_value_os_t = crate::default_data_dir())]
    pub data: PathBuf,
}

/// Runs the demo.
pub fn run(args: &Args) -> Result<()> {
    let pki_dir = args.data.join("pki");
    let paths = pki::PkiPaths::in_dir(&pki_dir);
    if !paths.provider_cert.exists() {
        pki::init(
            &pki_dir,
            &PkiOptions::new(
                super::pki::DEV_PROVIDER_NAME,
                super::pki::DEV_SERVICE_ADDRESS,
            ),
        )
        .with_context(|| format!("cannot create the dev PKI in {}", pki_dir.display()))?;
        println!("dev PKI created in {}", pki_dir.display());
    }
    let signer = Signer::from_pki_dir(&pki_dir)?;
    let trust = super::trust_of(&paths.ca_cert)?;
    let out = args.data.join("samples");
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let now = chrono::Utc::now();
    for kind in MessageKind::PEC {
        let bytes = super::sample::build(kind, &signer)?;
        let file = out.join(format!("{}.eml", kind.name()));
        std::fs::write(&file, &bytes)
            .with_context(|| format!("cannot write {}", file.display()))?;
        let seen = pec_core::inspect::inspect(&bytes)?.kind;
        let v = pec_smime::verify(&bytes, &trust, now)?;
        println!(
            "{:<24} {:>6} bytes  kind read back: {:<24} signature: {}, trusted: {}",
            kind.name(),
            bytes.len(),
            seen.name(),
            if v.intact { "intact" } else { "TAMPERED" },
            if v.trusted { "yes" } else { "no" },
        );
    }
    println!("\nmessages written to {}; check one with:", out.display());
    println!(
        "  gestore verify --trust {} {}",
        pki_dir.display(),
        out.join("busta.eml").display()
    );
    Ok(())
}
