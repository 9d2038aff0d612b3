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
        Command::Export { root } => {
            print!("{}", export(&config, *root)?);
            Ok(ExitCode::SUCCESS)
        }
    }
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
