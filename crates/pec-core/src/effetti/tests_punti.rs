//! The builders of each point, checked on real outcomes of pec-core's decisions: where each
//! message goes, under which key, what is queued, what the alternative changes.

use super::prova::{accodati, depositi, instradamento, locale};
use super::*;
use crate::accesso::{punto_accesso, Esito, Identificativi, Invio, Limiti, PuntoAccesso};
use crate::builder::Scadenza;
use crate::daticert::TipoDestinatario;
use crate::inoltro::RifiutoRemoto;
use crate::lavoro::{self, Controllo};
use crate::prova::{adesso, provider};
use crate::ricezione::EsitoRicezione;
use crate::MessageKind;

const MITTENTE: &str = "mario@pec.a.test";
const LOCALE: &str = "luca@pec.a.test";
const REMOTO: &str = "anna@pec.b.test";
const ESTERNO: &str = "bob@mail.example.com";
const ID: &str = "opec.1@pec.a.test";

fn classifica(a: &str) -> TipoDestinatario {
    match a.contains("@pec.") {
        true => TipoDestinatario::Certificato,
        false => TipoDestinatario::Esterno,
    }
}

/// The access point's decision on a message to `rcpt` (virus: the scanner's verdict).
fn accesso(rcpt: &[&str], virus: Option<&str>) -> Esito {
    let p = provider();
    let punto = PuntoAccesso {
        provider: &p,
        limiti: Limiti {
            max_destinatari: 10,
            max_dimensione: 1 << 20,
        },
        classifica: &classifica,
    };
    let to = rcpt.join(", ");
    let raw = format!(
        "From: {MITTENTE}\r\nTo: {to}\r\nSubject: prova\r\nMessage-ID: <c@x>\r\n\r\ncorpo\r\n"
    );
    let rcpt_to: Vec<String> = rcpt.iter().map(|s| s.to_string()).collect();
    let invio = Invio {
        casella: MITTENTE,
        mail_from: MITTENTE,
        rcpt_to: &rcpt_to,
        raw: raw.as_bytes(),
        virus,
    };
    let ids = Identificativi {
        identificativo: ID,
        ricevuta: "opec.2@pec.a.test",
    };
    punto_accesso(&invio, &punto, adesso(), &ids).unwrap()
}

fn contatore() -> impl FnMut() -> String {
    let mut n = 10;
    move || {
        n += 1;
        format!("opec.{n}@pec.a.test")
    }
}

/// The effects of the access point's acceptance of a message to `rcpt`.
fn accettata_a(rcpt: &[&str]) -> Decisione {
    let Esito::Accettato(a) = accesso(rcpt, None) else {
        panic!("not accepted")
    };
    let p = provider();
    let mut nuovo_id = contatore();
    let a = Accettata {
        accettazione: a,
        identificativo: ID,
        nuovo_id: &mut nuovo_id,
        provider: &p,
    };
    accettata(a, &instradamento()).unwrap()
}

fn ammissioni(p: &Piano) -> Vec<(String, Ammissione)> {
    p.effetti
        .iter()
        .filter_map(|e| match e {
            Effetto::Deposita {
                casella,
                ammissione,
                ..
            } => Some((casella.clone(), *ammissione)),
            _ => None,
        })
        .collect()
}

fn box_key(casella: &str, cosa: &str) -> String {
    format!("box:{casella}:{ID}:{cosa}")
}

#[test]
fn an_accepted_message_delivers_our_boxes_in_its_transaction_and_queues_the_rest() {
    let d = accettata_a(&[LOCALE, REMOTO, ESTERNO]);
    // The receipt, the envelope, the local recipient's delivery receipt.
    assert_eq!(d.da_firmare.len(), 3);
    assert_eq!(
        depositi(&d.piano),
        vec![
            (MITTENTE.into(), "INBOX", box_key(MITTENTE, "accettazione")),
            (MITTENTE.into(), "Sent", box_key(MITTENTE, "sent")),
            (LOCALE.into(), "INBOX", box_key(LOCALE, "busta")),
            (
                MITTENTE.into(),
                "INBOX",
                box_key(MITTENTE, &format!("consegna:{LOCALE}"))
            ),
        ]
    );
    // Only the local delivery presumes the box active.
    let presunte: Vec<_> = ammissioni(&d.piano)
        .into_iter()
        .filter(|(_, a)| *a == Ammissione::Consegna)
        .map(|(c, _)| c)
        .collect();
    assert_eq!(presunte, vec![LOCALE.to_string()]);
    // A relay item per remote recipient; checks for the certified one only.
    assert_eq!(
        accodati(&d.piano),
        vec![
            format!("relay:{ID}:{REMOTO}"),
            format!("scadenza:12h:{ID}:{REMOTO}"),
            format!("scadenza:24h:{ID}:{REMOTO}"),
            format!("relay:{ID}:{ESTERNO}"),
        ]
    );
    assert_eq!(d.piano.consegne, 1);
    let eventi: Vec<_> = d.piano.eventi().map(|e| e.evento.nome()).collect();
    assert!(eventi.contains(&"busta-emessa"), "{eventi:?}");
    assert!(eventi.contains(&"consegna-emessa"), "{eventi:?}");

    // If the box refuses: the same signed messages, the local delivery queued instead.
    let alt = d.altrimenti.as_ref().unwrap();
    assert!(ammissioni(alt)
        .iter()
        .all(|(_, a)| *a == Ammissione::Forzata));
    assert_eq!(
        accodati(alt),
        vec![
            format!("deliver:{ID}:{LOCALE}"),
            format!("relay:{ID}:{REMOTO}"),
            format!("scadenza:12h:{ID}:{REMOTO}"),
            format!("scadenza:24h:{ID}:{REMOTO}"),
            format!("relay:{ID}:{ESTERNO}"),
        ]
    );
    assert_eq!(alt.consegne, 0);
    assert!(!alt.eventi().any(|e| e.evento.nome() == "consegna-emessa"));
    // Everything refers to the envelope signed once, at position 1.
    let Some(Effetto::Accoda { contenuto, .. }) = alt.effetti.iter().find(|e| {
        matches!(
            e,
            Effetto::Accoda {
                chiave: Chiave::Consegna { .. },
                ..
            }
        )
    }) else {
        panic!()
    };
    assert_eq!(*contenuto, Contenuto::Firmato(1));
}

#[test]
fn without_local_recipients_there_is_no_alternative() {
    let d = accettata_a(&[ESTERNO]);
    assert_eq!(d.da_firmare.len(), 2);
    assert!(d.altrimenti.is_none());
    assert_eq!(accodati(&d.piano), vec![format!("relay:{ID}:{ESTERNO}")]);
}

#[test]
fn an_infected_submission_gets_its_notice_and_is_quarantined() {
    // Clean but with too many recipients: refused all the same, not quarantined.
    let troppi: Vec<String> = (0..11).map(|i| format!("r{i}@pec.b.test")).collect();
    let troppi: Vec<&str> = troppi.iter().map(String::as_str).collect();
    for (rcpt, virus, cosa, quarantena) in [
        (
            vec![REMOTO],
            Some("Eicar-Test-Signature"),
            "non-accettazione-virus",
            true,
        ),
        (troppi, None, "non-accettazione", false),
    ] {
        let Esito::NonAccettato(n) = accesso(&rcpt, virus) else {
            panic!("accepted")
        };
        let d = non_accettata(n, ID, b"the original", &instradamento());
        let dep = depositi(&d.piano);
        assert_eq!(dep[0], (MITTENTE.into(), "INBOX", box_key(MITTENTE, cosa)));
        assert_eq!(dep.len(), 1 + quarantena as usize);
        if quarantena {
            assert_eq!(dep[1].1, "Quarantena");
            assert_eq!(dep[1].0, "posta-certificata@pec.a.test");
        }
        assert!(accodati(&d.piano).is_empty());
        assert!(d.piano.eventi().count() >= 2);
    }
}

#[test]
fn checks_are_due_at_12_and_23_30_hours_and_the_24_h_one_stops_the_relay() {
    let r = instradamento();
    let mut p = Piano::new(None);
    let xml = Contenuto::Dati(Arc::from(&b"<x/>"[..]));
    controlli(&mut p, REMOTO, MITTENTE, ID, xml, r.ora);
    let dues: Vec<_> = p
        .effetti
        .iter()
        .map(|e| match e {
            Effetto::Accoda { chiave, quando, .. } => {
                (chiave.to_string(), (*quando - r.ora).num_minutes())
            }
            _ => panic!("not queued"),
        })
        .collect();
    assert_eq!(
        dues,
        vec![
            (format!("scadenza:12h:{ID}:{REMOTO}"), 12 * 60),
            (format!("scadenza:24h:{ID}:{REMOTO}"), 23 * 60 + 30),
        ]
    );

    let Esito::Accettato(a) = accesso(&[REMOTO], None) else {
        panic!()
    };
    let xml = a.letta.daticert.to_xml().unwrap();
    for (scadenza, ferma) in [(Scadenza::Ore12, false), (Scadenza::Ore24, true)] {
        let c = Controllo {
            destinatario: REMOTO.into(),
            mittente: MITTENTE.into(),
            identificativo: ID.into(),
            scadenza,
        };
        let d = avviso_scadenza(&c, xml.as_bytes(), "opec.9@pec.a.test", &provider(), &r).unwrap();
        assert_eq!(d.da_firmare.len(), 1);
        assert_eq!(depositi(&d.piano).len(), 1);
        let abbandona = d.piano.effetti.iter().any(|e| {
            matches!(e, Effetto::Abbandona { chiave, .. }
                if chiave.to_string() == format!("relay:{ID}:{REMOTO}"))
        });
        assert_eq!(abbandona, ferma, "{scadenza:?}");
    }
}

/// An envelope of ours to REMOTO, as the relay carries it (unsigned is enough to read).
fn busta_e_spedizione(busta: bool) -> (Vec<u8>, lavoro::Spedizione) {
    let Esito::Accettato(a) = accesso(&[REMOTO], None) else {
        panic!()
    };
    let raw = crate::prova::wire(&a.busta);
    let s = lavoro::Spedizione {
        destinatario: REMOTO.into(),
        mail_from: MITTENTE.into(),
        identificativo: ID.into(),
        busta,
        accepted_ms: 0,
        modello: None,
    };
    (raw, s)
}

#[test]
fn an_envelope_refused_for_good_tells_our_sender_and_closes_its_checks() {
    let (raw, s) = busta_e_spedizione(true);
    let rifiuto = RifiutoRemoto::Risposta {
        codice: 550,
        enhanced: Some("5.1.1".into()),
        testo: "no such user".into(),
    };
    let mut nuovo_id = contatore();
    let esito = EsitoInoltro::Rifiutato(rifiuto.clone());
    let d = inoltro(
        &s,
        esito,
        &raw,
        &provider(),
        &mut nuovo_id,
        &instradamento(),
    )
    .unwrap();
    assert_eq!(
        depositi(&d.piano),
        vec![(
            MITTENTE.into(),
            "INBOX",
            box_key(MITTENTE, &format!("mancata-consegna:{REMOTO}"))
        )]
    );
    let chiusi: Vec<_> = d
        .piano
        .effetti
        .iter()
        .filter_map(|e| match e {
            Effetto::Chiudi { chiave } => Some(chiave.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        chiusi,
        vec![
            format!("scadenza:12h:{ID}:{REMOTO}"),
            format!("scadenza:24h:{ID}:{REMOTO}")
        ]
    );
    assert_eq!(
        d.piano.eventi().next().unwrap().evento.nome(),
        "mancata-consegna-emessa"
    );

    // A receipt of ours that cannot be sent: nothing to tell anyone.
    let (raw, s) = busta_e_spedizione(false);
    let esito = EsitoInoltro::Rifiutato(rifiuto);
    let d = inoltro(
        &s,
        esito,
        &raw,
        &provider(),
        &mut nuovo_id,
        &instradamento(),
    )
    .unwrap();
    assert_eq!(d, Decisione::new(None));
}

#[test]
fn a_sent_or_abandoned_envelope_is_logged_from_its_model_event() {
    let (raw, mut s) = busta_e_spedizione(true);
    let mut nuovo_id = contatore();
    let r = instradamento();
    let esito = EsitoInoltro::Accettato {
        gestore: Some("B".into()),
    };
    let letto = inoltro(&s, esito.clone(), &raw, &provider(), &mut nuovo_id, &r).unwrap();
    let e = letto.piano.eventi().next().unwrap().clone();
    assert_eq!(e.evento.nome(), "busta-inoltrata");
    assert_eq!(e.identificativo, ID);
    // With a model event, the same data without reading the envelope (garbage here).
    s.modello = Some(Box::new(e.clone()));
    let d = inoltro(&s, esito, b"not read", &provider(), &mut nuovo_id, &r).unwrap();
    assert_eq!(d.piano.eventi().next(), Some(&e));
    let esito = EsitoInoltro::Abbandonato("timeout".into());
    let d = inoltro(&s, esito, b"not read", &provider(), &mut nuovo_id, &r).unwrap();
    assert_eq!(
        d.piano.eventi().next().unwrap().evento.nome(),
        "inoltro-fallito"
    );
    assert!(depositi(&d.piano).is_empty() && accodati(&d.piano).is_empty());
}

#[test]
fn a_receipt_about_our_envelope_goes_to_an_active_box_and_closes_the_checks_it_answers() {
    let Esito::Accettato(a) = accesso(&[REMOTO], None) else {
        panic!()
    };
    let raw: &[u8] = b"as received";
    for (kind, chiusi, remoti) in [
        (MessageKind::PresaInCarico, 1, 0),
        (MessageKind::ConsegnaCompleta, 2, 1),
    ] {
        let esito = EsitoRicezione::Ricevuta {
            kind,
            identificativo: ID.into(),
            daticert: Box::new(a.letta.daticert.clone()),
            riguarda: vec![REMOTO.into()],
            casella: MITTENTE.to_uppercase(),
            consegnata: b"receipt".to_vec(),
            eventi: a.eventi.clone(),
            estranei: None,
        };
        let mut nuovo_id = contatore();
        let arrivato = Arrivato {
            raw,
            mail_from: "posta-certificata@pec.b.test",
            provider: &provider(),
            nuovo_id: &mut nuovo_id,
        };
        let d = ricezione(esito, arrivato, &instradamento()).unwrap();
        assert_eq!(d.len(), 1);
        let d = &d[0];
        assert!(d.piano.una_volta.is_some());
        assert_eq!(
            ammissioni(&d.piano),
            vec![(MITTENTE.into(), Ammissione::SeAttiva)]
        );
        let n = d
            .piano
            .effetti
            .iter()
            .filter(|e| matches!(e, Effetto::Chiudi { .. }))
            .count();
        assert_eq!((n, d.piano.chiusi_remoti), (chiusi, remoti), "{kind:?}");
        assert!(d.da_firmare.is_empty());
    }
}

#[test]
fn an_anomaly_is_stored_once_per_content_in_each_active_box() {
    let esito = |raw: &[u8]| {
        let mut nuovo_id = contatore();
        let e = EsitoRicezione::Anomalia {
            busta: crate::UnsignedMessage {
                headers: Vec::new(),
                content: b"anomalia".to_vec(),
            },
            motivo: "ordinary mail".into(),
            destinatari: vec![LOCALE.into(), MITTENTE.into()],
            eventi: Vec::new(),
        };
        let arrivato = Arrivato {
            raw,
            mail_from: ESTERNO,
            provider: &provider(),
            nuovo_id: &mut nuovo_id,
        };
        ricezione(e, arrivato, &instradamento()).unwrap().remove(0)
    };
    let (a, b, c) = (esito(b"one"), esito(b"one"), esito(b"two"));
    assert_eq!(a, b);
    assert_ne!(a.piano.una_volta, c.piano.una_volta);
    assert_eq!(
        ammissioni(&a.piano),
        vec![
            (LOCALE.into(), Ammissione::SeAttiva),
            (MITTENTE.into(), Ammissione::SeAttiva)
        ]
    );
    let tag = crate::chiave::tag(b"one");
    assert_eq!(
        depositi(&a.piano)[0].2,
        format!("box:{LOCALE}:anomalia:{tag}")
    );
    assert!(locale(LOCALE) && !locale(ESTERNO));
}
