//! The 12 h / 24 h rules: the five rows of the PEC-SPEC §4.9 table, simulated on a virtual
//! clock, and the edges exactly at the deadlines.

use super::*;
use crate::builder::sample;
use crate::daticert::Tipo;
use crate::inspect::inspect;
use crate::prova::{adesso, provider};
use chrono::TimeZone;

fn inviato() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 15, 9, 30, 0).unwrap()
}

fn ore(h: i64) -> Duration {
    Duration::hours(h)
}

/// The notices emitted for one recipient, given the receipts that arrive (kind, time since
/// dispatch), as the sender side runs: a check emits iff [`annullate`] did not cancel it
/// before it fired (the cancellation is committed with the receipt that causes it).
///
/// Events at the same instant as a check are processed after it ("before" is strict).
fn simula(arrivi: &[(MessageKind, Duration)]) -> Vec<Scadenza> {
    let mut esiti = Vec::new();
    for (s, quando) in scadenze(inviato()) {
        let annullata = arrivi
            .iter()
            .filter(|(_, t)| inviato() + *t < quando)
            .any(|(k, _)| annullate(*k).contains(&s));
        if !annullata {
            esiti.push(s);
        }
    }
    esiti
}

fn verifica(nome: &str, arrivi: &[(MessageKind, Duration)], attesi: &[Scadenza]) {
    assert_eq!(simula(arrivi), attesi, "{nome}: timers and annullate");
}

use MessageKind::*;
use Scadenza::*;

#[test]
fn row_1_presa_before_12h_and_no_consegna_gives_only_the_24h_notice() {
    verifica("row 1", &[(PresaInCarico, ore(1))], &[Ore24]);
}

#[test]
fn row_2_no_presa_and_consegna_between_12h_and_24h_gives_only_the_12h_notice() {
    verifica("row 2", &[(ConsegnaCompleta, ore(18))], &[Ore12]);
    verifica("row 2, errore", &[(MancataConsegna, ore(13))], &[Ore12]);
}

#[test]
fn row_3_neither_presa_nor_consegna_gives_both_notices() {
    verifica("row 3", &[], &[Ore12, Ore24]);
    verifica(
        "row 3, receipts after 24 h",
        &[(PresaInCarico, ore(25)), (ConsegnaBreve, ore(26))],
        &[Ore12, Ore24],
    );
}

#[test]
fn row_4_consegna_before_12h_gives_no_notice() {
    verifica("row 4", &[(ConsegnaSintetica, ore(2))], &[]);
    verifica("row 4, errore", &[(MancataConsegna, ore(2))], &[]);
}

#[test]
fn row_5_presa_before_12h_and_consegna_before_24h_gives_no_notice() {
    verifica(
        "row 5",
        &[(PresaInCarico, ore(1)), (ConsegnaCompleta, ore(20))],
        &[],
    );
    verifica(
        "row 5, errore",
        &[(PresaInCarico, ore(1)), (MancataConsegna, ore(23))],
        &[],
    );
}

#[test]
fn a_receipt_exactly_at_12h_is_too_late() {
    verifica(
        "presa at 12 h",
        &[(PresaInCarico, ore(12))],
        &[Ore12, Ore24],
    );
    verifica("consegna at 12 h", &[(ConsegnaCompleta, ore(12))], &[Ore12]);
}

#[test]
fn a_consegna_exactly_at_the_24h_check_is_too_late() {
    verifica(
        "consegna at the check",
        &[(PresaInCarico, ore(1)), (ConsegnaCompleta, CONTROLLO_24H)],
        &[Ore24],
    );
    verifica(
        "consegna a second before",
        &[
            (PresaInCarico, ore(1)),
            (ConsegnaCompleta, CONTROLLO_24H - Duration::seconds(1)),
        ],
        &[],
    );
}

#[test]
fn the_24h_check_fires_inside_the_window_of_spec_4_9() {
    let [(s12, t12), (s24, t24)] = scadenze(inviato());
    assert_eq!((s12, t12 - inviato()), (Ore12, ore(12)));
    assert_eq!(s24, Ore24);
    assert!(t24 - inviato() >= ore(22), "not before 22 h");
    assert!(t24 - inviato() < ore(24), "by the 24 h deadline");
}

#[test]
fn what_each_receipt_cancels() {
    assert_eq!(annullate(PresaInCarico), &[Ore12]);
    for k in [
        ConsegnaCompleta,
        ConsegnaBreve,
        ConsegnaSintetica,
        MancataConsegna,
        MancataConsegnaVirus,
        RilevazioneVirus,
    ] {
        assert_eq!(annullate(k), &[Ore12, Ore24], "{k}");
    }
    for k in [
        BustaTrasporto,
        BustaAnomalia,
        Accettazione,
        NonAccettazione,
        Preavviso12h,
        MancataConsegna24h,
        Ordinaria,
    ] {
        assert!(annullate(k).is_empty(), "{k}");
    }
}

#[test]
fn avviso_builds_the_notice_of_its_check_with_its_event() {
    let p = provider();
    let dati = sample::dati("opec1.1@pec.gestore.example");
    for (s, kind) in [(Ore12, Preavviso12h), (Ore24, MancataConsegna24h)] {
        let e = Emissione {
            provider: &p,
            data: adesso(),
            message_id: "<opec1.9@pec.gestore.example>",
        };
        let u = avviso(s, &e, &dati, sample::DESTINATARIO_TO).unwrap();
        let mut wire = Vec::new();
        for (n, v) in &u.headers {
            wire.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        wire.extend_from_slice(b"MIME-Version: 1.0\r\n");
        wire.extend_from_slice(&u.content);
        let ins = inspect(&wire).unwrap();
        assert_eq!(ins.kind, kind);
        let d = ins.daticert.unwrap().unwrap();
        assert_eq!(d.tipo, Tipo::PreavvisoErroreConsegna);
        assert_eq!(d.dati.consegna.as_deref(), Some(sample::DESTINATARIO_TO));

        let ev = evento(s, &e, &dati, sample::DESTINATARIO_TO);
        assert_eq!(
            ev.evento,
            TipoEvento::ScadenzaEmessa {
                scadenza: s,
                destinatario: sample::DESTINATARIO_TO.into()
            }
        );
        assert_eq!(ev.generati, ["opec1.9@pec.gestore.example"]);
        assert_eq!(ev.identificativo, "opec1.1@pec.gestore.example");
        assert_eq!(ev.gestore, p.nome);
    }
}
