//! Delivery point: each mailbox state, To vs Cc under each X-TipoRicevuta, signed and unsigned
//! envelopes, read back through `inspect` (PEC-SPEC §4.7, §4.8).

use super::*;
use crate::accesso::{punto_accesso, Esito, Identificativi, Invio, Limiti, PuntoAccesso};
use crate::builder::sample::{DESTINATARIO_CC, DESTINATARIO_TO, ORIGINALE};
use crate::daticert::{Tipo, TipoDestinatario};
use crate::message::Provider;
use crate::prova::{firma_finta, leggi, wire};
use crate::tempo::RiferimentoTemporale;
use chrono::{TimeZone, Utc};

const MITTENTE: &str = "mario.rossi@pec.example.it";
const IDENTIFICATIVO: &str = "opec1.20240315103000.42@pec.mittente.example";
const RICEVUTA: &str = "opec7.20240315103005.1@pec.destinatario.example";

fn mittente_gestore() -> Provider {
    Provider {
        nome: "Gestore Mittente S.p.A.".into(),
        indirizzo_servizio: "posta-certificata@pec.mittente.example".into(),
    }
}

fn nostro() -> Provider {
    Provider {
        nome: "Gestore Destinatario S.p.A.".into(),
        indirizzo_servizio: "posta-certificata@pec.destinatario.example".into(),
    }
}

fn quando(s: u32) -> RiferimentoTemporale {
    RiferimentoTemporale::from_utc(Utc.with_ymd_and_hms(2024, 3, 15, 9, 30, s).unwrap())
}

/// The sample original (a PDF attachment, one To on PEC, one Cc on ordinary mail) with
/// `X-TipoRicevuta: <tipo>` when given, sent through our own access point.
fn busta_firmata(tipo: Option<&str>) -> Vec<u8> {
    let mut raw = Vec::new();
    if let Some(t) = tipo {
        raw.extend_from_slice(format!("X-TipoRicevuta: {t}\r\n").as_bytes());
    }
    raw.extend_from_slice(ORIGINALE);
    let p = mittente_gestore();
    let classifica = |a: &str| {
        if a.eq_ignore_ascii_case(DESTINATARIO_CC) {
            TipoDestinatario::Esterno
        } else {
            TipoDestinatario::Certificato
        }
    };
    let rcpt = [DESTINATARIO_TO.to_string(), DESTINATARIO_CC.to_string()];
    let esito = punto_accesso(
        &Invio {
            casella: MITTENTE,
            mail_from: MITTENTE,
            rcpt_to: &rcpt,
            raw: &raw,
            virus: None,
        },
        &PuntoAccesso {
            provider: &p,
            limiti: Limiti::default(),
            classifica: &classifica,
        },
        quando(0),
        &Identificativi {
            identificativo: IDENTIFICATIVO,
            ricevuta: "opec1.20240315103000.43@pec.mittente.example",
        },
    )
    .unwrap();
    match esito {
        Esito::Accettato(a) => firma_finta(&a.busta),
        Esito::NonAccettato(n) => panic!("sample refused: {:?}", n.motivo),
    }
}

fn consegna(busta: &BustaRicevuta, destinatario: &str, stato: StatoCasella) -> EsitoConsegna {
    let p = nostro();
    let e = Emissione {
        provider: &p,
        data: quando(5),
        message_id: RICEVUTA,
    };
    punto_consegna(
        busta,
        &Recapito {
            destinatario,
            stato,
        },
        &e,
    )
    .unwrap()
}

#[test]
fn reads_the_signed_envelope() {
    let raw = busta_firmata(Some("breve"));
    let b = BustaRicevuta::leggi(&raw).unwrap();
    assert_eq!(b.tipo_ricevuta, TipoRicevuta::Breve);
    assert_eq!(b.to, [DESTINATARIO_TO]);
    assert_eq!(b.cc, [DESTINATARIO_CC]);
    assert_eq!(b.daticert.tipo, Tipo::PostaCertificata);
    assert_eq!(b.daticert.dati.identificativo, IDENTIFICATIVO);
    assert_eq!(b.posizione(DESTINATARIO_TO), Posizione::To);
    assert_eq!(b.posizione(&DESTINATARIO_CC.to_uppercase()), Posizione::Cc);
    let p = String::from_utf8_lossy(&b.postacert);
    assert!(
        p.contains(&format!("Message-ID: <{IDENTIFICATIVO}>")),
        "{p}"
    );
    assert!(p.contains("fattura-12.pdf"));
}

#[test]
fn receipt_kind_follows_x_tiporicevuta_and_position() {
    use TipoRicevuta::*;
    let casi = [
        (
            None,
            DESTINATARIO_TO,
            Completa,
            MessageKind::ConsegnaCompleta,
        ),
        (
            None,
            DESTINATARIO_CC,
            Sintetica,
            MessageKind::ConsegnaSintetica,
        ),
        (
            Some("completa"),
            DESTINATARIO_TO,
            Completa,
            MessageKind::ConsegnaCompleta,
        ),
        (
            Some("breve"),
            DESTINATARIO_TO,
            Breve,
            MessageKind::ConsegnaBreve,
        ),
        (
            Some("breve"),
            DESTINATARIO_CC,
            Sintetica,
            MessageKind::ConsegnaSintetica,
        ),
        (
            Some("sintetica"),
            DESTINATARIO_TO,
            Sintetica,
            MessageKind::ConsegnaSintetica,
        ),
        (
            Some("sintetica"),
            DESTINATARIO_CC,
            Sintetica,
            MessageKind::ConsegnaSintetica,
        ),
    ];
    for (richiesta, destinatario, atteso, kind) in casi {
        let raw = busta_firmata(richiesta);
        let b = BustaRicevuta::leggi(&raw).unwrap();
        let nome = format!("{richiesta:?} → {destinatario}");
        let EsitoConsegna::Consegnata {
            ricevuta,
            tipo,
            eventi,
        } = consegna(&b, destinatario, StatoCasella::Attiva)
        else {
            panic!("{nome}: not delivered");
        };
        assert_eq!(tipo, atteso, "{nome}");
        let (ins, d) = leggi(&ricevuta);
        assert_eq!(ins.kind, kind, "{nome}");
        assert_eq!(ricevuta.header("X-Ricevuta"), Some("avvenuta-consegna"));
        assert_eq!(
            ricevuta.header("To"),
            Some(MITTENTE),
            "{nome}: to the sender"
        );
        assert_eq!(
            ricevuta.header("From"),
            Some("posta-certificata@pec.destinatario.example")
        );
        assert_eq!(ins.message_id.as_deref(), Some(RICEVUTA));
        assert!(ins
            .subject
            .as_deref()
            .unwrap()
            .starts_with("CONSEGNA: Fattura"));
        assert_eq!(d.tipo, Tipo::AvvenutaConsegna);
        assert_eq!(d.errore, Errore::Nessuno);
        assert_eq!(d.dati.ricevuta, Some(atteso.clone()), "{nome}");
        assert_eq!(d.dati.consegna.as_deref(), Some(destinatario));
        assert_eq!(d.dati.identificativo, IDENTIFICATIVO);
        assert_eq!(d.dati.gestore_emittente, "Gestore Destinatario S.p.A.");
        assert_eq!(d.dati.data, quando(5));
        match atteso {
            Completa => assert_eq!(ins.postacert.as_deref(), Some(b.postacert.as_slice())),
            Breve => {
                let copia = String::from_utf8_lossy(ins.postacert.as_deref().unwrap()).to_string();
                assert!(copia.contains("fattura-12.pdf.hash"), "{nome}: {copia}");
                assert!(
                    !copia.contains("JVBERi0xLjQK"),
                    "{nome}: attachment replaced"
                );
            }
            _ => assert!(ins.postacert.is_none(), "{nome}"),
        }
        let tipi: Vec<_> = eventi.iter().map(|e| e.evento.nome()).collect();
        assert_eq!(tipi, ["messaggio-consegnato", "consegna-emessa"]);
        assert_eq!(
            eventi[1].evento,
            TipoEvento::ConsegnaEmessa {
                ricevuta: atteso,
                destinatario: destinatario.into()
            }
        );
        assert_eq!(eventi[1].generati, [RICEVUTA]);
        for ev in &eventi {
            assert_eq!(ev.identificativo, IDENTIFICATIVO);
            assert_eq!(ev.gestore, "Gestore Mittente S.p.A.", "sending provider");
            assert_eq!(ev.mittente, MITTENTE);
            assert_eq!(ev.data, quando(5));
        }
    }
}

#[test]
fn every_mailbox_state_that_cannot_receive_gives_its_notice() {
    let raw = busta_firmata(Some("breve"));
    let b = BustaRicevuta::leggi(&raw).unwrap();
    let casi = [
        (
            StatoCasella::Sconosciuta,
            Errore::NoDest,
            "5.1.1 - Gestore Destinatario S.p.A. - indirizzo non valido",
        ),
        (
            StatoCasella::Disabilitata,
            Errore::Altro,
            "5.2.1 - Gestore Destinatario S.p.A. - casella disabilitata",
        ),
        (
            StatoCasella::Piena,
            Errore::Altro,
            "5.2.2 - Gestore Destinatario S.p.A. - casella piena",
        ),
    ];
    for (stato, errore_atteso, testo) in casi {
        let esito = consegna(&b, DESTINATARIO_TO, stato);
        assert_eq!(esito.eventi().len(), 1);
        let EsitoConsegna::NonConsegnata {
            avviso,
            errore,
            errore_esteso,
            eventi,
        } = esito
        else {
            panic!("{stato:?}: delivered");
        };
        assert_eq!(errore, errore_atteso, "{stato:?}");
        assert_eq!(errore_esteso, testo);
        let (ins, d) = leggi(&avviso);
        assert_eq!(ins.kind, MessageKind::MancataConsegna, "{stato:?}");
        assert_eq!(avviso.header("X-Ricevuta"), Some("errore-consegna"));
        assert_eq!(avviso.header("To"), Some(MITTENTE));
        assert!(ins
            .subject
            .as_deref()
            .unwrap()
            .starts_with("AVVISO DI MANCATA CONSEGNA: Fattura"));
        assert_eq!(d.tipo, Tipo::ErroreConsegna);
        assert_eq!(d.errore, errore_atteso);
        assert_eq!(d.dati.errore_esteso.as_deref(), Some(testo));
        assert_eq!(d.dati.consegna.as_deref(), Some(DESTINATARIO_TO));
        assert!(ins.postacert.is_none(), "no original in the notice");
        assert_eq!(
            eventi[0].evento,
            TipoEvento::MancataConsegnaEmessa {
                errore: errore_atteso,
                errore_esteso: testo.into(),
                destinatario: DESTINATARIO_TO.into()
            }
        );
        assert_eq!(eventi[0].generati, [RICEVUTA]);
    }
    assert_eq!(StatoCasella::Attiva.errore(), None);
}

#[test]
fn unsigned_and_signed_envelopes_read_the_same() {
    let firmata = busta_firmata(None);
    let b1 = BustaRicevuta::leggi(&firmata).unwrap();
    // Strip the signature layer: outer headers + the inner entity.
    let inizio = firmata
        .windows(11)
        .position(|w| w == b"--firma-0\r\n")
        .unwrap();
    let testa = &firmata[..firmata
        .windows(14)
        .position(|w| w == b"MIME-Version: ")
        .unwrap()];
    let fine = firmata
        .windows(13)
        .rposition(|w| w == b"\r\n--firma-0\r\n")
        .unwrap();
    let mut nuda = testa.to_vec();
    nuda.extend_from_slice(b"MIME-Version: 1.0\r\n");
    nuda.extend_from_slice(&firmata[inizio + 11..fine]);
    let b2 = BustaRicevuta::leggi(&nuda).unwrap();
    assert_eq!(b1.daticert, b2.daticert);
    assert_eq!(b1.postacert, b2.postacert);
    assert_eq!((b1.to, b1.cc), (b2.to, b2.cc));
}

#[test]
fn only_transport_envelopes_are_delivered_with_a_receipt() {
    assert!(matches!(
        BustaRicevuta::leggi(b""),
        Err(ConsegnaError::Illeggibile(_))
    ));
    let ordinaria = ORIGINALE;
    assert_eq!(
        BustaRicevuta::leggi(ordinaria).unwrap_err(),
        ConsegnaError::NonBusta(MessageKind::Ordinaria)
    );
    // A delivery receipt is delivered unchanged elsewhere, never receipted (PEC-SPEC §2.3).
    let b = BustaRicevuta::leggi(&busta_firmata(None)).unwrap();
    let EsitoConsegna::Consegnata { ricevuta, .. } =
        consegna(&b, DESTINATARIO_TO, StatoCasella::Attiva)
    else {
        panic!("not delivered")
    };
    assert_eq!(
        BustaRicevuta::leggi(&wire(&ricevuta)).unwrap_err(),
        ConsegnaError::NonBusta(MessageKind::ConsegnaCompleta)
    );
}

#[test]
fn envelope_without_postacert_is_refused() {
    let raw = busta_firmata(None);
    let testo = String::from_utf8_lossy(&raw).replace("message/rfc822", "text/plain");
    assert_eq!(
        BustaRicevuta::leggi(testo.as_bytes()).unwrap_err(),
        ConsegnaError::PostacertAssente
    );
}
