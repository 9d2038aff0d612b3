//! Registro: canonical JSON lines and the hash chain's tamper detection (PEC-SPEC §8).

use super::*;
use crate::daticert::{Destinatario, TipoDestinatario};
use chrono::{TimeZone, Utc};

fn adesso() -> RiferimentoTemporale {
    RiferimentoTemporale::from_utc(Utc.with_ymd_and_hms(2024, 3, 15, 9, 30, 0).unwrap())
}

fn dati() -> DatiMessaggio {
    DatiMessaggio {
        mittente: "mario@pec.example.it".into(),
        destinatari: vec![
            Destinatario {
                indirizzo: "a@pec.altro.it".into(),
                tipo: TipoDestinatario::Certificato,
            },
            Destinatario {
                indirizzo: "b@mail.it".into(),
                tipo: TipoDestinatario::Esterno,
            },
        ],
        risposte: "mario@pec.example.it".into(),
        oggetto: Some("Fattura n\u{b0} 12 \"città\"".into()),
        identificativo: "opec.1@pec.gestore.example".into(),
        msgid: Some("<c-1@studio.example.it>".into()),
        tipo_ricevuta: TipoRicevuta::Completa,
    }
}

fn evento(tipo: TipoEvento) -> Evento {
    Evento::di(
        tipo,
        adesso(),
        &dati(),
        "Gestore di Prova S.p.A.",
        vec!["opec.2@pec.gestore.example".into()],
    )
}

fn tutti_i_tipi() -> Vec<TipoEvento> {
    vec![
        TipoEvento::InvioRicevuto {
            casella: "mario@pec.example.it".into(),
            dimensione: 1234,
        },
        TipoEvento::AccettazioneEmessa,
        TipoEvento::NonAccettazioneEmessa {
            motivo: "bcc-presente".into(),
            descrizione: "Bcc non vuoto".into(),
        },
        TipoEvento::BustaEmessa,
        TipoEvento::ConsegnaEmessa {
            ricevuta: TipoRicevuta::Breve,
            destinatario: "a@pec.altro.it".into(),
        },
        TipoEvento::MancataConsegnaEmessa {
            errore: Errore::NoDest,
            errore_esteso: "5.1.1 - X - indirizzo non valido".into(),
            destinatario: "a@pec.altro.it".into(),
        },
        TipoEvento::MessaggioConsegnato {
            casella: "a@pec.altro.it".into(),
        },
        TipoEvento::BustaRicevuta {
            caselle: vec!["a@pec.altro.it".into()],
        },
        TipoEvento::PresaInCaricoEmessa {
            ricezione: vec!["a@pec.altro.it".into()],
            mail_receipt: "ricevute@pec.example.it".into(),
        },
        TipoEvento::RicevutaRicevuta {
            ricevuta: "presa-in-carico".into(),
            riguarda: vec!["a@pec.altro.it".into()],
            caselle: vec!["ricevute@pec.gestore.example".into()],
        },
        TipoEvento::AnomaliaEmessa {
            motivo: "firma non valida".into(),
            caselle: vec!["a@pec.altro.it".into()],
        },
        TipoEvento::MessaggioRifiutato {
            motivo: "posta ordinaria non accettata".into(),
        },
        TipoEvento::BustaInoltrata {
            destinatario: "a@pec.altro.it".into(),
            gestore: Some("Altro Gestore S.p.A.".into()),
        },
        TipoEvento::BustaInoltrata {
            destinatario: "b@mail.it".into(),
            gestore: None,
        },
        TipoEvento::InoltroFallito {
            destinatario: "a@pec.altro.it".into(),
            errore: "550 5.1.1 no such user".into(),
        },
        TipoEvento::ScadenzaEmessa {
            scadenza: crate::builder::Scadenza::Ore12,
            destinatario: "a@pec.altro.it".into(),
        },
        TipoEvento::ScadenzaEmessa {
            scadenza: crate::builder::Scadenza::Ore24,
            destinatario: "a@pec.altro.it".into(),
        },
        TipoEvento::VirusRilevato {
            punto: "ricezione".into(),
            virus: "Gestore.Test.Virus".into(),
            quarantena: true,
        },
        TipoEvento::RilevazioneVirusEmessa {
            destinatario: "a@pec.altro.it".into(),
            mail_receipt: "ricevute@pec.example.it".into(),
        },
    ]
}

#[test]
fn canonical_line_is_pinned_byte_for_byte() {
    let e = evento(TipoEvento::ConsegnaEmessa {
        ricevuta: TipoRicevuta::Breve,
        destinatario: "a@pec.altro.it".into(),
    });
    assert_eq!(
        e.riga(),
        "{\"data\":\"2024-03-15T10:30:00+01:00\",\
\"evento\":{\"tipo\":\"consegna-emessa\",\"ricevuta\":\"breve\",\"destinatario\":\"a@pec.altro.it\"},\
\"identificativo\":\"opec.1@pec.gestore.example\",\"msgid\":\"<c-1@studio.example.it>\",\
\"mittente\":\"mario@pec.example.it\",\"destinatari\":[\"a@pec.altro.it\",\"b@mail.it\"],\
\"oggetto\":\"Fattura n\u{b0} 12 \\\"città\\\"\",\"generati\":[\"opec.2@pec.gestore.example\"],\
\"gestore\":\"Gestore di Prova S.p.A.\"}"
    );
}

#[test]
fn every_event_type_round_trips_and_is_one_stable_line() {
    for tipo in tutti_i_tipi() {
        let nome = tipo.nome();
        let e = evento(tipo);
        let riga = e.riga();
        assert!(!riga.contains('\n') && !riga.contains('\r'), "{riga}");
        assert!(riga.contains(&format!("\"tipo\":\"{nome}\"")), "{riga}");
        assert_eq!(riga, e.clone().riga(), "same event, same bytes");
        let letto = Evento::da_riga(&format!("{riga}\n")).unwrap();
        assert_eq!(letto, e);
        assert_eq!(letto.riga(), riga, "read back and rewritten: same bytes");
    }
}

#[test]
fn scadenza_is_written_as_12h_or_24h() {
    let e = evento(TipoEvento::ScadenzaEmessa {
        scadenza: crate::builder::Scadenza::Ore24,
        destinatario: "a@pec.altro.it".into(),
    });
    assert!(e.riga().contains(
        "\"evento\":{\"tipo\":\"scadenza-emessa\",\"scadenza\":\"24h\",\"destinatario\":\"a@pec.altro.it\"}"
    ), "{}", e.riga());
}

#[test]
fn summer_time_keeps_its_offset() {
    let mut e = evento(TipoEvento::BustaEmessa);
    e.data = RiferimentoTemporale::from_utc(Utc.with_ymd_and_hms(2023, 8, 18, 15, 37, 14).unwrap());
    assert!(e
        .riga()
        .starts_with("{\"data\":\"2023-08-18T17:37:14+02:00\""));
    assert_eq!(Evento::da_riga(&e.riga()).unwrap().data.utc(), e.data.utc());
}

#[test]
fn lines_that_are_not_events_are_refused() {
    let buona = evento(TipoEvento::BustaEmessa).riga();
    for cattiva in [
        String::new(),
        "{}".to_string(),
        buona.replace("busta-emessa", "boh"),
        buona.replace("\"gestore\"", "\"extra\":1,\"gestore\""),
        buona.replace("2024-03-15T10:30:00+01:00", "ieri"),
    ] {
        assert!(Evento::da_riga(&cattiva).is_err(), "{cattiva}");
    }
}

/// A chain of `n` event lines with their stored hashes.
fn catena(n: usize) -> Vec<(Vec<u8>, [u8; 32])> {
    let mut prev = GENESI;
    let mut out = Vec::new();
    for (i, tipo) in tutti_i_tipi().into_iter().cycle().take(n).enumerate() {
        let mut e = evento(tipo);
        e.identificativo = format!("opec.{i}@pec.gestore.example");
        let riga = e.riga().into_bytes();
        prev = hash_evento(&prev, &riga);
        out.push((riga, prev));
    }
    out
}

#[test]
fn hash_is_sha256_of_previous_and_line() {
    // SHA-256 of 32 zero bytes followed by "abc", computed independently.
    let atteso = Sha256::new()
        .chain_update([0u8; 32])
        .chain_update(b"abc")
        .finalize();
    assert_eq!(hash_evento(&GENESI, b"abc").as_slice(), atteso.as_slice());
    assert_ne!(hash_evento(&GENESI, b"abc"), hash_evento(&GENESI, b"abd"));
    assert_ne!(hash_evento(&[1; 32], b"abc"), hash_evento(&GENESI, b"abc"));
}

#[test]
fn an_intact_chain_verifies_and_gives_its_head() {
    let c = catena(10);
    assert_eq!(verifica_catena(c.clone()), Ok(()));
    assert_eq!(testa_catena(c.clone()), Ok(c[9].1));
    let vuota: Vec<(Vec<u8>, [u8; 32])> = Vec::new();
    assert_eq!(testa_catena(vuota), Ok(GENESI));
}

#[test]
fn tampering_is_found_at_the_first_broken_link() {
    type Manomissione = fn(&mut Vec<(Vec<u8>, [u8; 32])>);
    let casi: [(&str, Manomissione, usize); 7] = [
        (
            "edit a line",
            |c| {
                c[4].0 = String::from_utf8_lossy(&c[4].0)
                    .replace("opec.4", "opec.X")
                    .into()
            },
            4,
        ),
        ("edit a stored hash", |c| c[6].1[0] ^= 1, 6),
        ("delete a line", |c| drop(c.remove(3)), 3),
        ("delete the first line", |c| drop(c.remove(0)), 0),
        ("swap two lines", |c| c.swap(2, 5), 2),
        (
            "insert a line",
            |c| {
                let copia = c[1].clone();
                c.insert(7, copia)
            },
            7,
        ),
        (
            "edit a line and rehash it alone",
            |c| {
                c[4].0.push(b' ');
                c[4].1 = hash_evento(&c[3].1, &c[4].0);
            },
            5,
        ),
    ];
    for (nome, manomissione, posizione) in casi {
        let mut c = catena(10);
        manomissione(&mut c);
        let r = verifica_catena(c).expect_err(nome);
        assert_eq!(r.posizione, posizione, "{nome}");
        assert!(r.to_string().contains(&format!("line {posizione}")), "{r}");
    }
}

#[test]
fn lines_cut_from_the_end_show_only_against_a_kept_head() {
    let c = catena(10);
    let testa = testa_catena(c.clone()).unwrap();
    let tagliata: Vec<_> = c[..8].to_vec();
    assert_eq!(verifica_catena(tagliata.clone()), Ok(()));
    assert_ne!(testa_catena(tagliata), Ok(testa));
}
