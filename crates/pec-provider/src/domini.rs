//! Our PEC domains and service box: which addresses are ours.

use std::sync::Arc;

/// Our PEC domains and service box.
#[derive(Debug, Clone)]
pub struct Domini {
    domini: Arc<[String]>,
    servizio: String,
}

impl Domini {
    /// `domini` (any case) and the service address.
    pub fn new(domini: &[String], servizio: &str) -> Self {
        Self {
            domini: domini.iter().map(|d| d.to_ascii_lowercase()).collect(),
            servizio: servizio.to_ascii_lowercase(),
        }
    }

    /// Whether `address` is in one of our domains.
    pub fn locale(&self, address: &str) -> bool {
        address
            .rsplit_once('@')
            .is_some_and(|(_, d)| self.domini.iter().any(|ours| ours.eq_ignore_ascii_case(d)))
    }

    /// The service address (PEC-SPEC §2.1), lower case.
    pub fn servizio(&self) -> &str {
        &self.servizio
    }

    /// Runs `f` with the routing pec-core's effects need at time `ora` (synchronously: the
    /// routing borrows this and is not kept across an await).
    pub fn instrada<T>(
        &self,
        ora: chrono::DateTime<chrono::Utc>,
        f: impl FnOnce(&pec_core::effetti::Instradamento<'_>) -> T,
    ) -> T {
        let locale = |a: &str| self.locale(a);
        f(&pec_core::effetti::Instradamento {
            locale: &locale,
            servizio: &self.servizio,
            ora,
        })
    }
}
