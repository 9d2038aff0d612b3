//! What can go wrong in the pipeline. Every failure means nothing of the step was committed:
//! a front end answers "try again later" (SMTP 4xx, IMAP NO), the worker retries with
//! backoff. Two kinds are told apart because the caller acts on them: the scanner giving no
//! verdict (its own 4xx text) and the store refusing a box (the delivery point answers with
//! the box's real state).

use pec_store::StoreError;

/// A failure of the pipeline, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum Errore {
    /// The virus scanner gave no verdict: never passed unscanned.
    #[error("virus scanner: {0}")]
    Scanner(#[from] pec_antivirus::ScanError),
    /// The store failed or refused.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A queue item this version cannot read.
    #[error(transparent)]
    Lavoro(#[from] pec_core::lavoro::LavoroIlleggibile),
    /// Signing or verifying.
    #[error("signature: {0}")]
    Firma(String),
    /// A PEC rule could not build its output (a peer's malformed message, or a bug of ours).
    #[error("{0}")]
    Regola(String),
    /// A file or the system.
    #[error("{0}")]
    Sistema(String),
    /// What was being done when `fonte` happened.
    #[error("{cosa}: {fonte}")]
    Contesto {
        /// What was being done.
        cosa: &'static str,
        /// What went wrong.
        fonte: Box<Errore>,
    },
}

impl Errore {
    /// The failure under its contexts.
    pub fn radice(&self) -> &Errore {
        match self {
            Errore::Contesto { fonte, .. } => fonte.radice(),
            e => e,
        }
    }

    /// Whether the virus scanner gave no verdict (the front end says so in its 4xx).
    pub fn scanner_giu(&self) -> bool {
        matches!(self.radice(), Errore::Scanner(_))
    }

    /// The store's error, when the store failed.
    pub fn store(&self) -> Option<&StoreError> {
        match self.radice() {
            Errore::Store(e) => Some(e),
            _ => None,
        }
    }
}

/// The pipeline's result.
pub type Risultato<T> = Result<T, Errore>;

/// Adds what was being done to an error.
pub(crate) trait Contesto<T> {
    /// `Err(e)` becomes `Err(Errore::Contesto { cosa, e })`.
    fn ctx(self, cosa: &'static str) -> Risultato<T>;
}

impl<T, E: Into<Errore>> Contesto<T> for Result<T, E> {
    fn ctx(self, cosa: &'static str) -> Risultato<T> {
        self.map_err(|e| Errore::Contesto {
            cosa,
            fonte: Box::new(e.into()),
        })
    }
}

impl<T> Contesto<T> for Option<T> {
    fn ctx(self, cosa: &'static str) -> Risultato<T> {
        self.ok_or(Errore::Regola(format!("{cosa}: missing")))
    }
}

/// pec-core's errors: a rule that could not build its output.
macro_rules! da_regola {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for Errore {
            fn from(e: $t) -> Self {
                Errore::Regola(e.to_string())
            }
        }
    )*};
}

da_regola!(
    pec_core::builder::BuildError,
    pec_core::consegna::ConsegnaError,
    pec_core::ricezione::RicezioneError,
    pec_core::accesso::AccessoError,
    pec_core::virus::VirusError,
    pec_core::inspect::InspectError,
    pec_core::daticert::ReadError,
    pec_core::daticert::WriteError,
    pec_core::effetti::EffettiError,
);

impl From<pec_smime::Error> for Errore {
    fn from(e: pec_smime::Error) -> Self {
        Errore::Firma(e.to_string())
    }
}

impl From<pec_smime::VerifyError> for Errore {
    fn from(e: pec_smime::VerifyError) -> Self {
        Errore::Firma(e.to_string())
    }
}

impl From<serde_json::Error> for Errore {
    fn from(e: serde_json::Error) -> Self {
        Errore::Regola(format!("queue item: {e}"))
    }
}

impl From<tokio::task::JoinError> for Errore {
    fn from(e: tokio::task::JoinError) -> Self {
        Errore::Sistema(format!("task: {e}"))
    }
}

impl From<std::io::Error> for Errore {
    fn from(e: std::io::Error) -> Self {
        Errore::Sistema(e.to_string())
    }
}

impl From<pec_smtp::relay::RelaySetupError> for Errore {
    fn from(e: pec_smtp::relay::RelaySetupError) -> Self {
        Errore::Sistema(e.to_string())
    }
}
