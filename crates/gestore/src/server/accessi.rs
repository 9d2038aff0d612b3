//! Logins, one rule for SMTP submission, IMAP and POP3 (and the web later): the password is
//! checked only if [`pec_listen::Throttle`] lets the attempt through, and every failure is
//! counted per client address and per box across protocols (issue 12, item 7). Each failure
//! and each block is one line on standard error that a fail2ban filter can match:
//!
//! ```text
//! gestore: auth failed service=imap ip=192.0.2.7 user=mario.rossi@pec.example.test
//! gestore: auth blocked service=smtp ip=192.0.2.7 user=… reason=too-many-failures-address retry-after=840s
//! ```

use super::Gestore;
use pec_store::Store;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The outcome of a login attempt.
pub(super) enum Accesso {
    /// The box the client may use.
    Consentito(String),
    /// Wrong user or password.
    Rifiutato,
    /// Too many failures lately, from this address or on this box: retry after this long.
    Bloccato(Duration),
    /// The store could not be asked.
    Indisponibile(String),
}

impl Gestore {
    /// Checks a login for `service` (`smtp`, `imap`, `pop3`) from `peer`.
    pub(super) async fn accedi(
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

/// How long a blocked attempt waits before it is answered.
const RIFIUTO: Duration = Duration::from_secs(1);

/// The throttle's numbers from `[limits]`.
pub(super) fn limiti(config: &crate::config::Config) -> pec_listen::ThrottleLimits {
    let l = &config.limits;
    pec_listen::ThrottleLimits {
        per_ip: l.login_failures,
        per_box: l.login_failures,
        window: Duration::from_secs(15 * 60),
        block: Duration::from_secs(l.login_block_minutes.saturating_mul(60)),
    }
}
