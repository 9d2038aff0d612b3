//! Fixtures shared by the unit tests: one provider and one instant.

use crate::message::Provider;
use crate::tempo::RiferimentoTemporale;
use chrono::{TimeZone, Utc};

/// The test provider's service address.
pub(crate) const SERVIZIO: &str = "posta-certificata@pec.gestore.example";

/// The provider that emits what the tests build.
pub(crate) fn provider() -> Provider {
    Provider {
        nome: "Gestore di Prova S.p.A.".into(),
        indirizzo_servizio: SERVIZIO.into(),
    }
}

/// 15/03/2024 10:30:00 (+0100).
pub(crate) fn adesso() -> RiferimentoTemporale {
    RiferimentoTemporale::from_utc(Utc.with_ymd_and_hms(2024, 3, 15, 9, 30, 0).unwrap())
}
