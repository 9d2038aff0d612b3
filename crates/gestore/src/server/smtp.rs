//! The SMTP listeners' backends: protocol in, pec-provider's points out. Each maps a point's
//! outcome to an SMTP reply and nothing more.

use pec_provider::accesso::{Invio, PuntoAccesso};
use pec_provider::caselle::{Accesso, Caselle};
use pec_provider::ricezione::{Messaggio, PuntoRicezione};
use pec_provider::virus::SCANNER_DOWN;
use pec_provider::Errore as Error;
use pec_smtp::{AuthResult, Backend, Submission, SubmitError};
use std::net::IpAddr;
use std::sync::Arc;

/// What SMTP says when a point could not store a message: 4xx, the client tries again.
fn temporary(e: &Error, what: &str) -> SubmitError {
    tracing::warn!("{what} not stored: {e:#}");
    if e.scanner_giu() {
        SubmitError::Temporary(SCANNER_DOWN.into())
    } else {
        SubmitError::Temporary("message not stored, try again later".into())
    }
}

/// The submission listeners' backend: logins and the access point.
pub struct Invii {
    /// The access point.
    pub accesso: Arc<PuntoAccesso>,
    /// Logins.
    pub caselle: Arc<Caselle>,
}

impl Backend for Invii {
    async fn authenticate(&self, user: &str, password: &str, peer: IpAddr) -> AuthResult {
        match self.caselle.accedi("smtp", user, password, peer).await {
            Accesso::Consentito(mailbox) => AuthResult::Accepted { mailbox },
            Accesso::Rifiutato => AuthResult::Rejected,
            Accesso::Bloccato(wait) => AuthResult::Unavailable(format!(
                "too many failed logins, try again in {} s",
                wait.as_secs().max(1)
            )),
            Accesso::Indisponibile(e) => AuthResult::Unavailable(e),
        }
    }

    async fn check_mail_from(
        &self,
        authenticated: &str,
        reverse_path: &str,
    ) -> Result<(), SubmitError> {
        if self.accesso.mittente_ammesso(authenticated, reverse_path) {
            return Ok(());
        }
        Err(SubmitError::Permanent(
            553,
            "5.7.1".into(),
            format!("Sender address rejected: not owned by user {authenticated}"),
        ))
    }

    async fn submit(&self, s: Submission) -> Result<(), SubmitError> {
        let invio = Invio {
            casella: s.authenticated,
            mail_from: s.mail_from,
            rcpt_to: s.rcpt_to,
            data: s.data,
        };
        // Accepted or not, the box got its receipt or notice: 250 either way (PEC-SPEC §2.3).
        self.accesso
            .invia(invio)
            .await
            .map(drop)
            .map_err(|e| temporary(&e, "submission"))
    }
}

/// The inbound listener's backend: the receiving point.
pub struct Arrivi(pub Arc<PuntoRicezione>);

impl Backend for Arrivi {
    async fn check_rcpt(&self, _authenticated: &str, rcpt: &str) -> Result<(), SubmitError> {
        if self.0.accetta_destinatario(rcpt) {
            Ok(())
        } else {
            Err(SubmitError::Permanent(
                550,
                "5.7.1".into(),
                "relay not permitted: not a domain of this provider".into(),
            ))
        }
    }

    async fn submit(&self, s: Submission) -> Result<(), SubmitError> {
        let m = Messaggio {
            mail_from: s.mail_from,
            rcpt_to: s.rcpt_to,
            data: s.data,
            peer: s.peer,
        };
        match self.0.ricevi(m).await {
            Ok(None) => Ok(()),
            Ok(Some(r)) => Err(SubmitError::Permanent(r.codice, r.enhanced.into(), r.testo)),
            Err(e) => Err(temporary(&e, "inbound message")),
        }
    }
}
