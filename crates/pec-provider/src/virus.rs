//! Viruses at the access and receiving points: clamd as the scanner (`pec-antivirus`), the
//! quarantine, and the storing of what pec-core decided (the rules and their table are in
//! `pec_core::virus`; PEC-SPEC §2.3, §4.5, §4.10, §4.11, §9.3).
//!
//! * **Scanning** (`[antivirus] access`, `receiving`): a message is scanned before anything is
//!   decided or stored, and the verdict passed to the point as plain data. A scanner that
//!   gives no verdict (unreachable, timeout, size limit, clamd error) is an error: the SMTP
//!   transaction gets a 4xx ("virus scanner unavailable") and nothing is stored — never
//!   passed unscanned.
//! * **Access point**: pec-core answers with the avviso di non accettazione per virus (or the
//!   formal notice), `quarantena` set; see `accesso.rs`.
//! * **Receiving point**: an infected valid envelope (`EsitoRicezione::Infetta`) is stored
//!   by `ricezione/virus.rs`: presa in carico and the avvisi di rilevazione virus to the sending provider's
//!   `mailReceipt`, the quarantine copy, the log, in one transaction; no delivery. Anything
//!   else infected is refused 554 (`ricezione.rs`).
//! * **Sender side**: a valid rilevazione virus about one of our envelopes also gives our user
//!   the avviso di mancata consegna per virus (`pec_core::virus::mancata_consegna`,
//!   `ricezione/virus.rs`), in the same transaction that files the rilevazione and cancels the recipient's checks.
//!
//! The quarantine itself (where infected messages are kept, for how long, who may change it)
//! is `quarantena.rs`.

use crate::errore::{Errore, Risultato as Result};
use crate::impostazioni::Antivirus;
use pec_antivirus::{ClamdAddr, Scanner, Verdetto};

/// The reply text of a 4xx when the scanner gives no verdict.
pub const SCANNER_DOWN: &str = "virus scanner unavailable, try again later";

/// Which scanning point asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Punto {
    /// The access point (our users' submissions).
    Accesso,
    /// The receiving point (what other providers and the Internet send us).
    Ricezione,
}

/// clamd and where it scans (`[antivirus]`); scans nothing when not configured.
pub struct Scansione {
    scanner: Option<(Scanner, Antivirus)>,
}

impl Scansione {
    /// From `[antivirus]`: `clamd` is a Unix socket path when it starts with `/`, else
    /// `host:port`.
    pub fn new(av: Option<&Antivirus>) -> Self {
        let scanner = av.map(|av| {
            let addr = if av.clamd.starts_with('/') {
                ClamdAddr::Unix(av.clamd.clone().into())
            } else {
                ClamdAddr::Tcp(av.clamd.clone())
            };
            (Scanner::new(addr).with_timeout(av.timeout), av.clone())
        });
        Self { scanner }
    }

    /// Scans `bytes` if `punto` scans: `Some(virus name)` when infected, `None` when clean or
    /// not scanned there. A scanner that gives no verdict is an error (never "clean").
    pub(crate) async fn scansiona(&self, bytes: &[u8], punto: Punto) -> Result<Option<String>> {
        let Some((scanner, av)) = &self.scanner else {
            return Ok(None);
        };
        let on = match punto {
            Punto::Accesso => av.access,
            Punto::Ricezione => av.receiving,
        };
        if !on {
            return Ok(None);
        }
        match scanner.scan(bytes).await {
            Ok(Verdetto::Pulito) => Ok(None),
            Ok(Verdetto::Infetto { nome }) => Ok(Some(nome)),
            Err(e) => {
                tracing::warn!("antivirus: {e}");
                Err(Errore::from(e))
            }
        }
    }
}
