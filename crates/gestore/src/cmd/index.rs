//! `gestore index show|lookup|export --config FILE`: the providers' index (PEC-SPEC §7) as
//! this provider sees it, and our own record for it.

use crate::config::Config;
use anyhow::{Context, Result};
use pec_directory::{Gestore, Indice};
use std::path::PathBuf;
use std::process::ExitCode;

/// `gestore index …`.
#[derive(clap::Args)]
pub struct Args {
    /// The configuration file.
    #[arg(long)]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

/// Index commands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Every provider of the configured index, and the records it skipped.
    Show,
    /// Which provider manages DOMAIN (or the domain of an address); exit 1 if none.
    Lookup {
        /// A domain or an address.
        domain: String,
    },
    /// Our own provider record as LDIF (for the index of another provider, or IGPEC).
    Export {
        /// Also write the `o=postacert` root entry first.
        #[arg(long)]
        root: bool,
        /// Write it signed with our key, as a DER CMS `.p7m` file, to FILE (PEC-SPEC §7.2).
        #[arg(long, value_name = "FILE")]
        p7m: Option<PathBuf>,
    },
    /// Check another provider's signed record (`.p7m`) and put it into our index file in
    /// place of that provider's old record. Refused unless the signature is intact and
    /// valid, the signer's certificate is in the record, and the signer is the provider our
    /// index already lists under that name, or chains to an `[index] trust_anchors` CA.
    Apply {
        /// The `.p7m` file.
        file: PathBuf,
    },
}

/// Runs the command.
pub fn run(args: &Args) -> Result<ExitCode> {
    let config = Config::load(&args.config)?;
    match &args.command {
        Command::Show => {
            let indice = load(&config)?;
            for g in indice.gestori() {
                print_record(g);
            }
            for w in indice.warnings() {
                println!("warning: {w}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Lookup { domain } => {
            let ours = config.is_local(domain)
                || config
                    .domains
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(domain.trim()));
            let indice = load(&config)?;
            match indice.per_dominio(domain) {
                Some(g) => {
                    print_record(g);
                    Ok(ExitCode::SUCCESS)
                }
                None if ours => {
                    println!(
                        "{domain}: one of our own PEC domains ({})",
                        config.provider_name
                    );
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    println!("{domain}: not a PEC domain (esterno)");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Export { root, p7m } => {
            let ldif = export(&config, *root)?;
            match p7m {
                Some(file) => {
                    let signer = crate::server::signer(&config)?;
                    let der = signer
                        .sign_opaque(ldif.as_bytes())
                        .context("signing the record")?;
                    std::fs::write(file, der)
                        .with_context(|| format!("cannot write {}", file.display()))?;
                }
                None => print!("{ldif}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Apply { file } => {
            let der =
                std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let names = apply(&config, &der, chrono::Utc::now())?;
            println!("applied: {}", names.join(", "));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Checks a signed record and writes the index with it; returns the providers replaced.
pub fn apply(
    config: &Config,
    der: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<String>> {
    let path = config
        .index_file
        .as_ref()
        .context("no [index] file in the configuration")?;
    let current = Indice::load(path).with_context(|| format!("{}", path.display()))?;
    let mut anchors = pec_smime::TrustStore::new();
    for a in &config.trust_anchors {
        let pem = std::fs::read(a).with_context(|| format!("cannot read {}", a.display()))?;
        anchors
            .add_bytes(&pem)
            .with_context(|| format!("{}: not a certificate", a.display()))?;
    }
    let v = pec_smime::verify_p7m(der, &anchors, now).context("not a signed record")?;
    anyhow::ensure!(
        v.intact,
        "the signature does not match the record: {}",
        v.integrity_error.unwrap_or_default()
    );
    anyhow::ensure!(v.valid_now, "the signing certificate is not valid now");
    let signer = v.signer.as_ref().context("no signer certificate")?;
    let incoming = Indice::from_ldif(&v.content).context("the signed LDIF")?;
    anyhow::ensure!(
        !incoming.gestori().is_empty(),
        "the signed LDIF holds no usable provider record"
    );
    let mut names = Vec::new();
    for g in incoming.gestori() {
        anyhow::ensure!(
            g.certificati().contains(&signer.der),
            "{}: the record is not signed with a certificate of its own",
            g.nome()
        );
        let known = current
            .per_certificato(&signer.der)
            .is_some_and(|k| k.nome() == g.nome());
        anyhow::ensure!(
            known || v.chain_valid,
            "{}: the signer is neither the provider our index lists under that name nor certified by a trust anchor",
            g.nome()
        );
        if !names.iter().any(|n| n == g.nome()) {
            names.push(g.nome().to_string());
        }
    }
    let kept = current
        .gestori()
        .iter()
        .filter(|g| !names.iter().any(|n| n == g.nome()))
        .cloned();
    let merged = Indice::from_gestori(kept.chain(incoming.gestori().iter().cloned()));
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, merged.to_ldif(None))
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(names)
}

/// Our own record as LDIF: name, service address as mailReceipt, our domains and the
/// signing certificate (the dev PKI is made if it does not exist yet).
pub fn export(config: &Config, root: bool) -> Result<String> {
    let signer = crate::server::signer(config)?;
    let der = signer
        .certificate()
        .to_der()
        .context("the signing certificate")?;
    let record = Gestore::new(
        &config.provider_name,
        &config.service_address,
        &config.domains,
        der,
    )
    .context("our own record")?;
    let mut out = String::new();
    if root {
        out.push_str("version: 1\n\n");
        out.push_str(&pec_directory::ldif_root(None));
    }
    out.push_str(&record.to_ldif());
    Ok(out)
}

fn load(config: &Config) -> Result<Indice> {
    let path = config
        .index_file
        .as_ref()
        .context("no [index] file in the configuration")?;
    Indice::load(path).with_context(|| format!("{}", path.display()))
}

fn print_record(g: &Gestore) {
    println!("provider: {}", g.nome());
    if let Some(unit) = g.unit() {
        println!("  unit: {unit}");
    }
    println!("  mailReceipt: {}", g.mail_receipt());
    for d in g.domini() {
        println!("  domain: {d}");
    }
    for h in g.hash() {
        println!("  certificate SHA-1: {h}");
    }
}
