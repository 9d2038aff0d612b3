//! The IMAP and POP3 listeners' backend: pec-imap's backend over the store, under the
//! provider's rules on logins and read-only folders (pec-provider's `Caselle`).

use pec_imap::store::{Guardia, StoreBackend};
use pec_imap::BackendError;
use pec_provider::caselle::{Accesso, Caselle};
use std::net::IpAddr;
use std::sync::Arc;

/// The provider's boxes as IMAP and POP3 see them.
pub fn boxes(caselle: Arc<Caselle>) -> StoreBackend<Regole> {
    StoreBackend::new(caselle.store().clone(), Regole(caselle))
}

/// pec-provider's rules, as pec-imap asks them.
pub struct Regole(Arc<Caselle>);

impl Guardia for Regole {
    async fn accedi(
        &self,
        service: &'static str,
        user: &str,
        password: &str,
        peer: IpAddr,
    ) -> Result<Option<String>, BackendError> {
        match self.0.accedi(service, user, password, peer).await {
            Accesso::Consentito(mailbox) => Ok(Some(mailbox)),
            Accesso::Rifiutato => Ok(None),
            Accesso::Bloccato(wait) => Err(BackendError::Temporary(format!(
                "too many failed logins, try again in {} s",
                wait.as_secs().max(1)
            ))),
            Accesso::Indisponibile(e) => Err(BackendError::Temporary(e)),
        }
    }

    fn sola_lettura(&self, mailbox: &str, folder: &str) -> Option<String> {
        self.0.sola_lettura(mailbox, folder)
    }
}
