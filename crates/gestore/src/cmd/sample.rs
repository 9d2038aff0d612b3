//! `gestore sample KIND`: one signed example of a message kind.

use anyhow::{anyhow, Context, Result};
use pec_core::{MessageKind, RiferimentoTemporale};
use pec_smime::Signer;
use std::path::{Path, PathBuf};

/// Arguments of `gestore sample`.
#[derive(clap::Args)]
pub struct Args {
    /// busta, anomalia, accettazione, non-accettazione, non-accettazione-virus,
    /// presa-in-carico, consegna-completa, consegna-breve, consegna-sintetica,
    /// mancata-consegna, preavviso-12h, mancata-consegna-24h, rilevazione-virus,
    /// mancata-consegna-virus
    #[arg(value_parser = parse_kind)]
    pub kind: MessageKind,
    /// The PKI directory made by `gestore pki init`.
    #[arg(long)]
    pub pki: PathBuf,
    /// Where to write the signed message (`-` for standard output).
    #[arg(long)]
    pub out: PathBuf,
}

fn parse_kind(s: &str) -> Result<MessageKind, String> {
    MessageKind::from_name(s)
        .filter(|k| *k != MessageKind::Ordinaria)
        .ok_or_else(|| {
            let names: Vec<_> = MessageKind::PEC.iter().map(|k| k.name()).collect();
            format!("unknown kind {s:?}; one of: {}", names.join(", "))
        })
}

/// Builds, signs and writes the sample.
pub fn run(args: &Args) -> Result<()> {
    let signer = Signer::from_pki_dir(&args.pki)
        .with_context(|| format!("cannot load the PKI in {}", args.pki.display()))?;
    let bytes = build(args.kind, &signer)?;
    write_out(&args.out, &bytes)
}

/// One signed example of `kind`, signed by `signer`, dated now.
pub fn build(kind: MessageKind, signer: &Signer) -> Result<Vec<u8>> {
    let provider = super::provider_of(signer)?;
    let now = RiferimentoTemporale::from_utc(chrono::Utc::now());
    let unsigned = pec_core::builder::sample::sample(kind, &provider, now);
    signer
        .sign(&unsigned)
        .map_err(|e| anyhow!("cannot sign the {kind} sample: {e}"))
}

fn write_out(out: &Path, bytes: &[u8]) -> Result<()> {
    if out == Path::new("-") {
        use std::io::Write;
        std::io::stdout().write_all(bytes)?;
        return Ok(());
    }
    std::fs::write(out, bytes).with_context(|| format!("cannot write {}", out.display()))
}
