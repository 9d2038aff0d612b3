//! Mailbox management as the protocol front ends need it: logins, the service box, and the
//! rules on what a mail client may change.
//!
//! Logins, one rule for SMTP submission, IMAP and POP3 (and the web later): the password is
//! checked only if [`pec_listen::Throttle`] lets the attempt through, and every failure is
//! counted per client address and per box across protocols (issue 12, item 7). Each failure
//! and each block is one line on standard error that a fail2ban filter can match:
//!
//! ```text
//! gestore: auth failed service=imap ip=192.0.2.7 user=mario.rossi@pec.example.test
//! gestore: auth blocked service=smtp ip=192.0.2.7 user=… reason=too-many-failures-address retry-after=840s
//! ```

use crate::comune::indirizzo;
use crate::errore::{Errore, Risultato as Result};
use crate::quarantena::Quarantena;
use pec_store::{SqliteStore, Store};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The outcome of a login attempt.
pub enum Accesso {
    /// The box the client may use.
    Consentito(String),
    /// Wrong user or password.
    Rifiutato,
    /// Too many failures lately, from this address or on this box: retry after this long.
    Bloccato(Duration),
    /// The store could not be asked.
    Indisponibile(String),
}

/// The boxes, as mail clients reach them.
pub struct Caselle {
    store: SqliteStore,
    accessi: pec_listen::Throttle,
    quarantena: Arc<Quarantena>,
    servizio: String,
}

impl Caselle {
    pub(crate) fn new(
        store: SqliteStore,
        limiti: pec_listen::ThrottleLimits,
        quarantena: Arc<Quarantena>,
        servizio: &str,
    ) -> Self {
        Self {
            store,
            accessi: pec_listen::Throttle::new(limiti),
            quarantena,
            servizio: servizio.to_string(),
        }
    }

    /// The store behind the boxes, for the folder and message operations of IMAP and POP3.
    pub fn store(&self) -> &SqliteStore {
        &self.store
    }

    /// `Some(why)` when a mail client of `mailbox` may not change `folder` (the quarantine
    /// is read-only): the client gets a NO with that text.
    pub fn sola_lettura(&self, mailbox: &str, folder: &str) -> Option<String> {
        self.quarantena.sola_lettura(mailbox, folder)
    }

    /// The service box (PEC-SPEC §2.1: presa in carico and rilevazione virus from other
    /// providers arrive there), made on first start with a random password the operator
    /// can change with `gestore mailbox passwd`.
    pub async fn crea_servizio(&self) -> Result<()> {
        let address = indirizzo(&self.servizio)?;
        if self.store.mailbox(&address).await?.is_none() {
            let mut secret = [0u8; 18];
            getrandom::fill(&mut secret).map_err(|e| Errore::Sistema(format!("random: {e}")))?;
            let password: String = secret.iter().map(|b| format!("{b:02x}")).collect();
            self.store.add_mailbox(&address, &password, 0).await?;
        }
        Ok(())
    }

    /// Checks a login for `service` (`smtp`, `imap`, `pop3`) from `peer`.
    pub async fn accedi(
        &self,
        service: &'static str,
        user: &str,
        password: &str,
        peer: IpAddr,
    ) -> Accesso {
        let tentativo = match self.accessi.begin(service, user, peer, Instant::now()) {
            Ok(t) => t,
            Err(wait) => {
                // A refusal costs the client as much as a failure would: retrying at wire
                // speed on one connection gets it nothing.
                tokio::time::sleep(RIFIUTO).await;
                return Accesso::Bloccato(wait);
            }
        };
        if user.len() > pec_listen::CHIAVE_MAX {
            // No address is that long: a failure, without asking the store.
            tentativo.failed(Instant::now());
            return Accesso::Rifiutato;
        }
        match self.store.verify_password(user, password).await {
            Ok(true) => {
                tentativo.succeeded(Instant::now());
                Accesso::Consentito(user.trim().to_ascii_lowercase())
            }
            Ok(false) => {
                tentativo.failed(Instant::now());
                Accesso::Rifiutato
            }
            Err(e) => Accesso::Indisponibile(e.to_string()),
        }
    }
}

impl Caselle {
    /// Whether `casella` has the webmail's second factor on.
    pub async fn totp_attivo(&self, casella: &str) -> Result<bool> {
        Ok(self.store.totp(&indirizzo(casella)?).await?.is_some())
    }

    /// Checks the code typed after the password at the webmail (`crate::totp`), at time
    /// `ora`: throttled and counted like a password (a wrong code is a failed login), each
    /// code good once.
    pub async fn verifica_codice(
        &self,
        casella: &str,
        codice: &str,
        peer: IpAddr,
        ora: chrono::DateTime<chrono::Utc>,
    ) -> Accesso {
        let tentativo = match self
            .accessi
            .begin("web-totp", casella, peer, Instant::now())
        {
            Ok(t) => t,
            Err(wait) => {
                tokio::time::sleep(RIFIUTO).await;
                return Accesso::Bloccato(wait);
            }
        };
        let esito = async {
            let addr = indirizzo(casella)?;
            let Some(t) = self.store.totp(&addr).await? else {
                return Ok(false);
            };
            let ora = u64::try_from(ora.timestamp()).unwrap_or_default();
            let Some(passo) = crate::totp::verifica(&t.secret, codice, ora, t.last_step) else {
                return Ok(false);
            };
            let r = self
                .store
                .commit(
                    pec_store::Batch::new().with(pec_store::Operation::UseTotpStep {
                        address: addr,
                        step: passo,
                    }),
                )
                .await?;
            Ok::<_, Errore>(
                r.outcomes.first() == Some(&pec_store::Outcome::TotpStep { accepted: true }),
            )
        }
        .await;
        match esito {
            Ok(true) => {
                tentativo.succeeded(Instant::now());
                Accesso::Consentito(casella.to_ascii_lowercase())
            }
            Ok(false) => {
                tentativo.failed(Instant::now());
                Accesso::Rifiutato
            }
            Err(e) => Accesso::Indisponibile(e.to_string()),
        }
    }

    /// Turns the second factor of `casella` on with `segreto` (base32; the caller has had
    /// the user prove their app holds it) or off with `None`.
    pub async fn imposta_totp(&self, casella: &str, segreto: Option<String>) -> Result<()> {
        let op = pec_store::Operation::SetTotp {
            address: indirizzo(casella)?,
            secret: segreto,
        };
        self.store.commit(pec_store::Batch::new().with(op)).await?;
        Ok(())
    }
}

/// How long a blocked attempt waits before it is answered.
const RIFIUTO: Duration = Duration::from_secs(1);
