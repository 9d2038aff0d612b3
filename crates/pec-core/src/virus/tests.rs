//! The sender side's answer to a rilevazione virus (PEC-SPEC §4.11), read back from what
//! another provider's builder wrote.

use super::*;
use crate::builder::sample::{self, DESTINATARIO_TO};
use crate::builder::{avviso_rilevazione_virus, ricevuta_presa_in_carico};
use crate::kind::MessageKind;
use crate::prova::{adesso, leggi, provider};

const IDENTIFICATIVO: &str = "opec1.20240315103000.42@pec.gestore.example";
const AVVISO: &str = "opec1.20240315103500.7@pec.gestore.example";

/// The recipients' provider, which found the virus.
fn gestore_b() -> Provider {
    Provider {
        nome: "Gestore Destinatario S.p.A.".into(),
        indirizzo_servizio: "posta-certificata@pec.destinatario.example".into(),
    }
}

/// The daticert of the rilevazione virus B sends about our envelope, with `virus` as
/// `<errore-esteso>` (or none).
fn rilevazione(virus: &str) -> Daticert {
    let b = gestore_b();
    let e = Emissione {
        provider: &b,
        data: adesso(),
        message_id: "opec7.1@pec.destinatario.example",
    };
    let u = avviso_rilevazione_virus(
        &e,
        &sample::dati(IDENTIFICATIVO),
        DESTINATARIO_TO,
        virus,
        "ricevute@pec.gestore.example",
    )
    .unwrap();
    leggi(&u).1
}

#[test]
fn a_rilevazione_gives_our_user_the_mancata_consegna_per_virus() {
    let m = mancata_consegna(
        &rilevazione("Gestore.Test.Virus"),
        &provider(),
        adesso(),
        AVVISO,
    )
    .unwrap();
    let dati = sample::dati(IDENTIFICATIVO);
    assert_eq!(m.mittente, dati.mittente);
    assert_eq!(m.destinatario, DESTINATARIO_TO);
    assert_eq!(m.avviso.header("To"), Some(dati.mittente.as_str()));
    assert_eq!(m.avviso.header("X-Ricevuta"), Some("errore-consegna"));
    assert_eq!(m.avviso.header("X-VerificaSicurezza"), Some("errore"));
    let (ins, d) = leggi(&m.avviso);
    assert_eq!(ins.kind, MessageKind::MancataConsegnaVirus);
    assert_eq!(ins.message_id.as_deref(), Some(AVVISO));
    assert!(ins
        .subject
        .as_deref()
        .is_some_and(|s| s.starts_with("AVVISO DI MANCATA CONSEGNA PER VIRUS: ")));
    assert_eq!(d.tipo, Tipo::ErroreConsegna);
    assert_eq!(d.errore, Errore::Virus);
    assert_eq!(d.dati.consegna.as_deref(), Some(DESTINATARIO_TO));
    assert_eq!(d.dati.errore_esteso.as_deref(), Some("Gestore.Test.Virus"));
    assert_eq!(d.dati.identificativo, IDENTIFICATIVO);
    assert_eq!(d.dati.gestore_emittente, provider().nome, "we emit it");
    assert_eq!(m.eventi.len(), 1);
    assert_eq!(
        m.eventi[0].evento,
        TipoEvento::MancataConsegnaEmessa {
            errore: Errore::Virus,
            errore_esteso: "Gestore.Test.Virus".into(),
            destinatario: DESTINATARIO_TO.into(),
        }
    );
    assert_eq!(m.eventi[0].generati, [AVVISO]);
    assert_eq!(m.eventi[0].identificativo, IDENTIFICATIVO);
}

#[test]
fn a_rilevazione_without_the_virus_name_still_gives_the_notice() {
    let mut r = rilevazione("x");
    r.dati.errore_esteso = None;
    let m = mancata_consegna(&r, &provider(), adesso(), AVVISO).unwrap();
    let (_, d) = leggi(&m.avviso);
    assert_eq!(d.dati.errore_esteso.as_deref(), Some("virus"));
}

#[test]
fn only_a_rilevazione_with_a_recipient_is_answered() {
    let b = gestore_b();
    let e = Emissione {
        provider: &b,
        data: adesso(),
        message_id: "opec7.2@pec.destinatario.example",
    };
    let presa = ricevuta_presa_in_carico(
        &e,
        &sample::dati(IDENTIFICATIVO),
        &[DESTINATARIO_TO.to_string()],
        "ricevute@pec.gestore.example",
    )
    .unwrap();
    let presa = leggi(&presa).1;
    assert_eq!(
        mancata_consegna(&presa, &provider(), adesso(), AVVISO).unwrap_err(),
        VirusError::NonRilevazione(Tipo::PresaInCarico)
    );
    let mut r = rilevazione("x");
    r.dati.consegna = None;
    assert_eq!(
        mancata_consegna(&r, &provider(), adesso(), AVVISO).unwrap_err(),
        VirusError::SenzaDestinatario
    );
}

#[test]
fn the_quarantine_keeps_30_calendar_months_at_least() {
    use chrono::TimeZone;
    let t = |y, m, d| chrono::Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap();
    assert_eq!(fine_conservazione(t(2024, 3, 15), 30), t(2026, 9, 15));
    assert_eq!(fine_conservazione(t(2024, 8, 31), 30), t(2027, 2, 28));
    assert_eq!(fine_conservazione(t(2024, 3, 15), 36), t(2027, 3, 15));
    // Less than the law allows is read as the law's minimum.
    assert_eq!(fine_conservazione(t(2024, 3, 15), 1), t(2026, 9, 15));
    assert_eq!(
        fine_conservazione(chrono::DateTime::<chrono::Utc>::MAX_UTC, 30),
        chrono::DateTime::<chrono::Utc>::MAX_UTC
    );
}
