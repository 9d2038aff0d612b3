//! The settings the points use, as plain data: the binary reads them from its configuration
//! file; tests and other front ends build them directly.

use pec_core::accesso::Limiti;
use pec_core::ricezione::Politica;
use pec_listen::ThrottleLimits;
use pec_smtp::relay::RelayConfig;
use std::path::PathBuf;

/// Everything [`crate::Gestore::new`] needs besides the store, the signer and the clock.
#[derive(Debug, Clone)]
pub struct Impostazioni {
    /// Our PEC domains.
    pub domini: Vec<String>,
    /// The service address (PEC-SPEC §2.1).
    pub servizio: String,
    /// Recipients and size × recipients per submission (PEC-SPEC §9.6).
    pub limiti: Limiti,
    /// Ordinary mail at the receiving point: anomaly or refusal.
    pub politica: Politica,
    /// Virus scanning, when on.
    pub antivirus: Option<Antivirus>,
    /// Sending to other domains.
    pub relay: RelayConfig,
    /// The name the relay greets with (EHLO).
    pub helo: String,
    /// The providers' index.
    pub indice: FonteIndice,
    /// Failed logins before a block, and for how long.
    pub accessi: ThrottleLimits,
}

/// Where the providers' index comes from and which CAs sign providers' certificates.
#[derive(Debug, Clone, Default)]
pub struct FonteIndice {
    /// The index file (kept current by LDAP sync or by hand); `None` for an empty index.
    pub file: Option<PathBuf>,
    /// CAs of providers' certificates (AgID's in production).
    pub trust_anchors: Vec<PathBuf>,
}

/// Virus scanning (`[antivirus]`).
#[derive(Debug, Clone)]
pub struct Antivirus {
    /// clamd: a Unix socket path when it starts with `/`, else `host:port`.
    pub clamd: String,
    /// Scan deadline.
    pub timeout: std::time::Duration,
    /// Scan at the access point.
    pub access: bool,
    /// Scan at the receiving point.
    pub receiving: bool,
    /// Quarantine retention in months (≥ 30).
    pub quarantine_months: u32,
}
