//! `gestore pki init`: the development PKI.

use anyhow::{Context, Result};
use pec_smime::pki::{self, PkiOptions};
use std::path::PathBuf;

/// Provider name of the dev PKI when none is given.
pub const DEV_PROVIDER_NAME: &str = "Gestore di prova S.p.A.";
/// Service address of the dev PKI when none is given.
pub const DEV_SERVICE_ADDRESS: &str = "posta-certificata@pec.example.test";

/// Arguments of `gestore pki init`.
#[derive(clap::Args)]
pub struct InitArgs {
    /// Directory to write ca.pem, ca.key, provider.pem, provider.key into.
    #[arg(long)]
    pub dir: PathBuf,
    /// Provider name, as in the certificate's O and CN and in daticert's gestore-emittente.
    #[arg(long, default_value = DEV_PROVIDER_NAME)]
    pub provider_name: String,
    /// The provider's service address, put in the certificate's subjectAltName.
    #[arg(long, default_value = DEV_SERVICE_ADDRESS)]
    pub service_address: String,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

/// Creates the PKI and says where it is.
pub fn init(args: &InitArgs) -> Result<()> {
    let opts = PkiOptions {
        force: args.force,
        ..PkiOptions::new(&args.provider_name, &args.service_address)
    };
    let paths = pki::init(&args.dir, &opts)
        .with_context(|| format!("cannot create the PKI in {}", args.dir.display()))?;
    println!("test CA:              {}", paths.ca_cert.display());
    println!("provider certificate: {}", paths.provider_cert.display());
    println!("provider key:         {}", paths.provider_key.display());
    Ok(())
}
