//! Access point: one row per rule of PEC-SPEC §2.3 / §9.4 / §9.6, read back from the built
//! messages through `inspect` (headers, subject, daticert).

use super::*;
use crate::daticert::{Daticert, Errore, Tipo};
use crate::inspect::{inspect, Inspection};
use crate::kind::MessageKind;
use crate::prova::{adesso, provider};

const CASELLA: &str = "mario@pec.example.it";
const TO: &str = "a@pec.altro.it";
const CC: &str = "b@mail.example.com";
const IDENTIFICATIVO: &str = "opec1.20240315103000.42@pec.gestore.example";
const RICEVUTA: &str = "opec1.20240315103000.43@pec.gestore.example";

/// certificato when the domain starts with `pec.` (our stand-in for the providers' index).
fn classifica(a: &str) -> TipoDestinatario {
    let dominio = a.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    if dominio.to_ascii_lowercase().starts_with("pec.") {
        TipoDestinatario::Certificato
    } else {
        TipoDestinatario::Esterno
    }
}

/// A valid submission's headers with `extra` lines appended, and a body.
fn messaggio(from: &str, extra: &str) -> Vec<u8> {
    format!(
        "From: Mario Rossi <{from}>\r\nTo: Ufficio <{TO}>\r\nCc: {CC}\r\n\
Subject: Prova di invio\r\nMessage-ID: <c-1@studio.example.it>\r\n{extra}\r\ncorpo\r\n"
    )
    .into_bytes()
}

fn rcpt(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Runs the access point on a clean message.
fn esegui(casella: &str, mail_from: &str, rcpt_to: &[String], raw: &[u8], limiti: Limiti) -> Esito {
    esegui_scansionato(casella, mail_from, rcpt_to, raw, limiti, None)
}

/// Runs the access point with the scanner's verdict `virus`.
fn esegui_scansionato(
    casella: &str,
    mail_from: &str,
    rcpt_to: &[String],
    raw: &[u8],
    limiti: Limiti,
    virus: Option<&str>,
) -> Esito {
    let p = provider();
    let punto = PuntoAccesso {
        provider: &p,
        limiti,
        classifica: &classifica,
    };
    let invio = Invio {
        casella,
        mail_from,
        rcpt_to,
        raw,
        virus,
    };
    let ids = Identificativi {
        identificativo: IDENTIFICATIVO,
        ricevuta: RICEVUTA,
    };
    punto_accesso(&invio, &punto, adesso(), &ids).expect("the access point always answers")
}

/// The message as it would travel, minus the signature layer.
fn wire(u: &UnsignedMessage) -> Vec<u8> {
    let mut w = Vec::new();
    for (n, v) in &u.headers {
        w.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    w.extend_from_slice(b"MIME-Version: 1.0\r\n");
    w.extend_from_slice(&u.content);
    w
}

fn leggi(u: &UnsignedMessage) -> (Inspection, Daticert) {
    let ins = inspect(&wire(u)).expect("built messages inspect");
    let d = ins
        .daticert
        .clone()
        .expect("daticert present")
        .expect("daticert readable");
    (ins, d)
}

fn rifiutato(e: Esito) -> NonAccettazione {
    match e {
        Esito::NonAccettato(n) => n,
        Esito::Accettato(_) => panic!("expected a refusal"),
    }
}

fn accettato(e: Esito) -> Accettazione {
    match e {
        Esito::Accettato(a) => a,
        Esito::NonAccettato(n) => panic!("expected acceptance, got {:?}", n.motivo),
    }
}

/// (name, authenticated box, MAIL FROM, RCPT TO, message, limits, expected reason).
type Caso = (
    &'static str,
    &'static str,
    &'static str,
    Vec<String>,
    Vec<u8>,
    Limiti,
    Motivo,
);

#[test]
fn every_reason_gives_its_notice() {
    let def = Limiti::default();
    let valido = messaggio(CASELLA, "");
    let due = rcpt(&[TO, CC]);
    let piccoli = Limiti {
        max_destinatari: 1,
        max_dimensione: u64::MAX,
    };
    let stretti = Limiti {
        max_destinatari: 50,
        max_dimensione: valido.len() as u64 * 2 - 1,
    };
    #[rustfmt::skip]
    let casi: Vec<Caso> = vec![
        ("not a message", CASELLA, CASELLA, due.clone(), b"\x00\x01 garbage".to_vec(), def, Motivo::Malformato),
        ("empty", CASELLA, CASELLA, due.clone(), Vec::new(), def, Motivo::Malformato),
        ("two From", CASELLA, CASELLA, due.clone(), messaggio(CASELLA, "From: x@pec.example.it\r\n"), def, Motivo::Malformato),
        ("From not an address", CASELLA, CASELLA, due.clone(), messaggio("nessuno", ""), def, Motivo::Malformato),
        ("no From", CASELLA, CASELLA, due.clone(),
            format!("To: {TO}\r\nSubject: Prova di invio\r\n\r\nx").into_bytes(), def, Motivo::MittenteAssente),
        ("From ≠ MAIL FROM", CASELLA, "altro@pec.example.it", due.clone(), valido.clone(), def, Motivo::MittenteDiverso),
        ("From ≠ authenticated box", "altro@pec.example.it", CASELLA, due.clone(), valido.clone(), def, Motivo::MittenteDiverso),
        ("no To", CASELLA, CASELLA, rcpt(&[CC]),
            format!("From: {CASELLA}\r\nCc: {CC}\r\nSubject: Prova di invio\r\n\r\nx").into_bytes(), def, Motivo::DestinatariAssenti),
        ("no RCPT TO", CASELLA, CASELLA, Vec::new(), valido.clone(), def, Motivo::DestinatariAssenti),
        ("RCPT not in To/Cc", CASELLA, CASELLA, rcpt(&[TO, "z@pec.altro.it"]), valido.clone(), def,
            Motivo::DestinatarioNonInIntestazione("z@pec.altro.it".into())),
        ("Bcc address", CASELLA, CASELLA, due.clone(), messaggio(CASELLA, "Bcc: c@pec.altro.it\r\n"), def, Motivo::BccPresente),
        ("Bcc non-address value", CASELLA, CASELLA, due.clone(), messaggio(CASELLA, "Bcc: undisclosed\r\n"), def, Motivo::BccPresente),
        ("too many recipients", CASELLA, CASELLA, due.clone(), valido.clone(), piccoli,
            Motivo::TroppiDestinatari { destinatari: 2, massimo: 1 }),
        ("size × recipients one byte over", CASELLA, CASELLA, due.clone(), valido.clone(), stretti,
            Motivo::TroppoGrande { dimensione: valido.len() as u64 * 2, massimo: stretti.max_dimensione }),
    ];
    for (nome, casella, mail_from, rcpt_to, raw, limiti, motivo) in casi {
        let n = rifiutato(esegui(casella, mail_from, &rcpt_to, &raw, limiti));
        assert_eq!(n.motivo, motivo, "{nome}");
        // The authenticated box, which is MAIL FROM whenever the SMTP layer let it through
        // (PEC-SPEC §3.2, §9.4).
        assert_eq!(n.mittente, casella, "{nome}: notice goes to the box");
        let (ins, d) = leggi(&n.avviso);
        assert_eq!(ins.kind, MessageKind::NonAccettazione, "{nome}");
        assert_eq!(n.avviso.header("X-Ricevuta"), Some("non-accettazione"));
        assert_eq!(n.avviso.header("To"), Some(casella), "{nome}");
        assert_eq!(ins.message_id.as_deref(), Some(RICEVUTA));
        assert!(
            ins.subject
                .as_deref()
                .unwrap()
                .starts_with("AVVISO DI NON ACCETTAZIONE:"),
            "{nome}"
        );
        assert_eq!(d.tipo, Tipo::NonAccettazione, "{nome}");
        assert_eq!(d.errore, Errore::Altro, "{nome}");
        assert_eq!(
            d.dati.errore_esteso.as_deref(),
            Some(motivo.descrizione().as_str())
        );
        assert_eq!(
            d.dati.identificativo, IDENTIFICATIVO,
            "{nome}: PEC-SPEC §4.4"
        );
        assert_eq!(d.intestazione.mittente, casella, "{nome}");
        assert!(!d.intestazione.destinatari.is_empty(), "{nome}");
        assert!(ins.postacert.is_none(), "{nome}: no original in the notice");
        let tipi: Vec<_> = n.eventi.iter().map(|e| e.evento.nome()).collect();
        assert_eq!(
            tipi,
            ["invio-ricevuto", "non-accettazione-emessa"],
            "{nome}"
        );
        assert_eq!(
            n.eventi[1].evento,
            TipoEvento::NonAccettazioneEmessa {
                motivo: motivo.codice().into(),
                descrizione: motivo.descrizione()
            }
        );
        assert_eq!(n.eventi[1].generati, [RICEVUTA]);
    }
}

#[test]
fn descriptions_are_one_italian_line_and_codes_are_distinct() {
    let motivi = [
        Motivo::Malformato,
        Motivo::MittenteAssente,
        Motivo::MittenteDiverso,
        Motivo::DestinatariAssenti,
        Motivo::DestinatarioNonInIntestazione("z@x.it".into()),
        Motivo::BccPresente,
        Motivo::TroppiDestinatari {
            destinatari: 51,
            massimo: 50,
        },
        Motivo::TroppoGrande {
            dimensione: 2,
            massimo: 1,
        },
        Motivo::Virus("Gestore.Test.Virus".into()),
    ];
    let mut codici: Vec<_> = motivi.iter().map(Motivo::codice).collect();
    for m in &motivi {
        let d = m.descrizione();
        assert!(!d.is_empty() && !d.contains(['\r', '\n']), "{d}");
        assert_eq!(m.to_string(), d);
    }
    assert!(motivi[4].descrizione().contains("z@x.it"));
    codici.sort();
    codici.dedup();
    assert_eq!(codici.len(), motivi.len());
}

#[test]
fn unreadable_message_notice_certifies_the_smtp_envelope() {
    let n = rifiutato(esegui(
        CASELLA,
        "<mario@pec.example.it>",
        &rcpt(&[TO, CC, TO]),
        b"\x00garbage",
        Limiti::default(),
    ));
    assert_eq!(n.mittente, CASELLA);
    let (ins, d) = leggi(&n.avviso);
    assert_eq!(ins.riferimento_message_id, None);
    assert_eq!(d.intestazione.mittente, CASELLA);
    let dest: Vec<_> = d
        .intestazione
        .destinatari
        .iter()
        .map(|d| (d.indirizzo.as_str(), d.tipo.clone()))
        .collect();
    assert_eq!(
        dest,
        [
            (TO, TipoDestinatario::Certificato),
            (CC, TipoDestinatario::Esterno)
        ]
    );
    assert_eq!(d.intestazione.oggetto, None);
}

#[test]
fn notice_for_a_bad_from_keeps_subject_and_client_msgid() {
    let raw = format!("To: {TO}\r\nSubject: Senza mittente\r\nMessage-ID: <c-9@x.it>\r\n\r\nx");
    let n = rifiutato(esegui(
        CASELLA,
        CASELLA,
        &rcpt(&[TO]),
        raw.as_bytes(),
        Limiti::default(),
    ));
    assert_eq!(n.motivo, Motivo::MittenteAssente);
    let (ins, d) = leggi(&n.avviso);
    assert_eq!(
        ins.subject.as_deref(),
        Some("AVVISO DI NON ACCETTAZIONE: Senza mittente")
    );
    assert_eq!(ins.riferimento_message_id.as_deref(), Some("<c-9@x.it>"));
    assert_eq!(d.dati.msgid.as_deref(), Some("<c-9@x.it>"));
    assert_eq!(d.intestazione.mittente, CASELLA);
}

#[test]
fn null_reverse_path_notice_goes_to_the_authenticated_box() {
    let n = rifiutato(esegui(
        CASELLA,
        "<>",
        &rcpt(&[TO]),
        &messaggio(CASELLA, ""),
        Limiti::default(),
    ));
    assert_eq!(n.motivo, Motivo::MittenteDiverso);
    assert_eq!(n.mittente, CASELLA);
    assert_eq!(n.avviso.header("To"), Some(CASELLA));
}

#[test]
fn a_notice_never_goes_to_another_box_named_by_mail_from() {
    // Issue 12, item 3: MAIL FROM a neighbour's box (or a foreign address) must not make
    // the notice land there.
    for mail_from in ["altro@pec.example.it", "chiunque@example.com"] {
        let n = rifiutato(esegui(
            CASELLA,
            mail_from,
            &rcpt(&[TO]),
            &messaggio(mail_from, ""),
            Limiti::default(),
        ));
        assert_eq!(n.motivo, Motivo::MittenteDiverso);
        assert_eq!(n.mittente, CASELLA);
        assert_eq!(n.avviso.header("To"), Some(CASELLA));
        let (_, d) = leggi(&n.avviso);
        assert_eq!(d.intestazione.mittente, CASELLA);
    }
}

#[test]
fn only_the_authenticated_box_may_be_the_reverse_path() {
    assert!(mittente_ammesso(CASELLA, CASELLA));
    assert!(mittente_ammesso(
        CASELLA,
        &format!("<{}>", CASELLA.to_uppercase())
    ));
    assert!(!mittente_ammesso(CASELLA, "altro@pec.example.it"));
    assert!(!mittente_ammesso(CASELLA, "<>"));
    assert!(!mittente_ammesso(CASELLA, ""));
}

#[test]
fn valid_message_to_one_to_and_one_cc_is_accepted() {
    let raw = messaggio(CASELLA, "X-TipoRicevuta: breve\r\n");
    let a = accettato(esegui(
        CASELLA,
        CASELLA,
        &rcpt(&[TO, CC]),
        &raw,
        Limiti::default(),
    ));
    assert_eq!(a.mittente, CASELLA);
    assert_eq!(
        a.destinatari,
        [
            DestinatarioInvio {
                indirizzo: TO.into(),
                tipo: TipoDestinatario::Certificato,
                posizione: Posizione::To
            },
            DestinatarioInvio {
                indirizzo: CC.into(),
                tipo: TipoDestinatario::Esterno,
                posizione: Posizione::Cc
            },
        ]
    );

    // Ricevuta di accettazione (PEC-SPEC §4.3).
    let (ins, d) = leggi(&a.ricevuta);
    assert_eq!(ins.kind, MessageKind::Accettazione);
    assert_eq!(a.ricevuta.header("To"), Some(CASELLA));
    assert_eq!(ins.subject.as_deref(), Some("ACCETTAZIONE: Prova di invio"));
    assert_eq!(ins.message_id.as_deref(), Some(RICEVUTA));
    assert_eq!(
        ins.riferimento_message_id.as_deref(),
        Some("<c-1@studio.example.it>")
    );
    assert_eq!(
        (d.tipo.clone(), d.errore.clone()),
        (Tipo::Accettazione, Errore::Nessuno)
    );
    assert_eq!(d.dati.identificativo, IDENTIFICATIVO);
    assert_eq!(d.dati.data, adesso());
    let dest: Vec<_> = d
        .intestazione
        .destinatari
        .iter()
        .map(|d| (d.indirizzo.as_str(), d.tipo.as_str()))
        .collect();
    assert_eq!(dest, [(TO, "certificato"), (CC, "esterno")]);
    assert!(ins.postacert.is_none());

    // Busta di trasporto (PEC-SPEC §4.1).
    let (ins, d) = leggi(&a.busta);
    assert_eq!(ins.kind, MessageKind::BustaTrasporto);
    assert_eq!(ins.message_id.as_deref(), Some(IDENTIFICATIVO));
    assert_eq!(
        ins.subject.as_deref(),
        Some("POSTA CERTIFICATA: Prova di invio")
    );
    assert_eq!(ins.tipo_ricevuta.as_deref(), Some("breve"));
    assert!(a
        .busta
        .header("From")
        .unwrap()
        .contains("Per conto di: mario@pec.example.it"));
    assert_eq!(a.busta.header("Bcc"), None);
    assert_eq!(d.tipo, Tipo::PostaCertificata);
    assert_eq!(d.dati.ricevuta, Some(TipoRicevuta::Breve));
    let postacert = ins.postacert.expect("original carried");
    let testo = String::from_utf8_lossy(&postacert);
    assert!(
        testo.contains(&format!("Message-ID: <{IDENTIFICATIVO}>")),
        "{testo}"
    );
    assert!(testo.contains("X-Riferimento-Message-ID: <c-1@studio.example.it>"));

    // Log (PEC-SPEC §8).
    let tipi: Vec<_> = a.eventi.iter().map(|e| e.evento.nome()).collect();
    assert_eq!(
        tipi,
        ["invio-ricevuto", "accettazione-emessa", "busta-emessa"]
    );
    for e in &a.eventi {
        assert_eq!(e.identificativo, IDENTIFICATIVO);
        assert_eq!(e.msgid.as_deref(), Some("<c-1@studio.example.it>"));
        assert_eq!(e.mittente, CASELLA);
        assert_eq!(e.oggetto.as_deref(), Some("Prova di invio"));
        assert_eq!(e.gestore, "Gestore di Prova S.p.A.");
        assert_eq!(e.data, adesso());
    }
    assert_eq!(
        a.eventi[0].evento,
        TipoEvento::InvioRicevuto {
            casella: CASELLA.into(),
            dimensione: raw.len() as u64
        }
    );
    assert_eq!(a.eventi[1].generati, [RICEVUTA]);
    assert_eq!(a.eventi[2].generati, [IDENTIFICATIVO]);
    assert_eq!(a.eventi[2].destinatari, [TO, CC]);
}

#[test]
fn sender_match_ignores_case_and_angle_brackets() {
    let raw = messaggio("Mario@PEC.Example.IT", "");
    let a = accettato(esegui(
        "MARIO@pec.example.it",
        "<mario@pec.example.it>",
        &rcpt(&["A@PEC.ALTRO.IT"]),
        &raw,
        Limiti::default(),
    ));
    // The certified sender is the reverse-path (PEC-SPEC §3.2).
    assert_eq!(a.mittente, "mario@pec.example.it");
    assert_eq!(a.ricevuta.header("To"), Some("mario@pec.example.it"));
    let (_, d) = leggi(&a.busta);
    assert_eq!(d.intestazione.mittente, "mario@pec.example.it");
    assert_eq!(a.destinatari[0].posizione, Posizione::To);
    assert_eq!(a.destinatari[0].tipo, TipoDestinatario::Certificato);
}

#[test]
fn empty_bcc_header_is_allowed() {
    let raw = messaggio(CASELLA, "Bcc:\r\n");
    accettato(esegui(
        CASELLA,
        CASELLA,
        &rcpt(&[TO]),
        &raw,
        Limiti::default(),
    ));
}

#[test]
fn size_times_recipients_limit_is_inclusive() {
    let raw = messaggio(CASELLA, "");
    let n = raw.len() as u64;
    let limiti = |max_dimensione| Limiti {
        max_destinatari: 50,
        max_dimensione,
    };
    let due = rcpt(&[TO, CC]);
    accettato(esegui(CASELLA, CASELLA, &due, &raw, limiti(2 * n)));
    let r = rifiutato(esegui(CASELLA, CASELLA, &due, &raw, limiti(2 * n - 1)));
    assert_eq!(
        r.motivo,
        Motivo::TroppoGrande {
            dimensione: 2 * n,
            massimo: 2 * n - 1
        }
    );
    // The same size passes with one recipient: the product is what counts.
    accettato(esegui(
        CASELLA,
        CASELLA,
        &rcpt(&[TO]),
        &raw,
        limiti(2 * n - 1),
    ));
}

#[test]
fn recipient_limit_is_inclusive() {
    let to: Vec<String> = (0..50).map(|i| format!("u{i}@pec.altro.it")).collect();
    let raw = format!(
        "From: {CASELLA}\r\nTo: {}\r\nSubject: tanti\r\n\r\nx",
        to.join(", ")
    );
    accettato(esegui(
        CASELLA,
        CASELLA,
        &to,
        raw.as_bytes(),
        Limiti::default(),
    ));
    let limiti = Limiti {
        max_destinatari: 49,
        ..Limiti::default()
    };
    let r = rifiutato(esegui(CASELLA, CASELLA, &to, raw.as_bytes(), limiti));
    assert_eq!(
        r.motivo,
        Motivo::TroppiDestinatari {
            destinatari: 50,
            massimo: 49
        }
    );
}

#[test]
fn default_limits_meet_the_decree() {
    let d = Limiti::default();
    assert!(d.conformi());
    assert!(d.max_destinatari >= 50);
    assert!(d.max_dimensione >= 30_000_000);
    assert!(!Limiti {
        max_destinatari: 49,
        ..d
    }
    .conformi());
    assert!(!Limiti {
        max_dimensione: 29 << 20,
        ..d
    }
    .conformi());
}

#[test]
fn check_order_reports_the_first_failure() {
    // From ≠ MAIL FROM and Bcc present and RCPT outside To/Cc: the sender check comes first.
    let raw = messaggio(CASELLA, "Bcc: c@pec.altro.it\r\n");
    let r = rifiutato(esegui(
        CASELLA,
        "x@pec.example.it",
        &rcpt(&["z@pec.altro.it"]),
        &raw,
        Limiti::default(),
    ));
    assert_eq!(r.motivo, Motivo::MittenteDiverso);
    // RCPT outside To/Cc is reported before Bcc.
    let r = rifiutato(esegui(
        CASELLA,
        CASELLA,
        &rcpt(&["z@pec.altro.it"]),
        &raw,
        Limiti::default(),
    ));
    assert_eq!(
        r.motivo,
        Motivo::DestinatarioNonInIntestazione("z@pec.altro.it".into())
    );
}

#[test]
fn no_recipient_at_all_is_a_build_error_not_a_panic() {
    let p = provider();
    let punto = PuntoAccesso {
        provider: &p,
        limiti: Limiti::default(),
        classifica: &classifica,
    };
    let invio = Invio {
        casella: CASELLA,
        mail_from: CASELLA,
        rcpt_to: &[],
        raw: b"garbage",
        virus: None,
    };
    let ids = Identificativi {
        identificativo: IDENTIFICATIVO,
        ricevuta: RICEVUTA,
    };
    assert!(matches!(
        punto_accesso(&invio, &punto, adesso(), &ids),
        Err(AccessoError::Costruzione(_))
    ));
}

/// The names of the events, in order.
fn tipi(eventi: &[Evento]) -> Vec<&'static str> {
    eventi.iter().map(|e| e.evento.nome()).collect()
}

#[test]
fn an_infected_message_gets_the_virus_notice_and_the_quarantine() {
    let raw = messaggio(CASELLA, "");
    let n = rifiutato(esegui_scansionato(
        CASELLA,
        CASELLA,
        &rcpt(&[TO, CC]),
        &raw,
        Limiti::default(),
        Some("Gestore.Test.Virus"),
    ));
    assert_eq!(n.motivo, Motivo::Virus("Gestore.Test.Virus".into()));
    assert!(n.quarantena);
    assert_eq!(n.mittente, CASELLA);
    // PEC-SPEC §4.5: as §4.4 plus X-VerificaSicurezza, its own subject, errore="virus".
    assert_eq!(n.avviso.header("X-VerificaSicurezza"), Some("errore"));
    assert_eq!(n.avviso.header("X-Ricevuta"), Some("non-accettazione"));
    assert_eq!(n.avviso.header("To"), Some(CASELLA));
    let (ins, d) = leggi(&n.avviso);
    assert_eq!(ins.kind, MessageKind::NonAccettazioneVirus);
    assert_eq!(
        ins.subject.as_deref(),
        Some("AVVISO DI NON ACCETTAZIONE PER VIRUS: Prova di invio")
    );
    assert_eq!(d.tipo, Tipo::NonAccettazione);
    assert_eq!(d.errore, Errore::Virus);
    assert_eq!(d.dati.errore_esteso.as_deref(), Some("Gestore.Test.Virus"));
    assert_eq!(d.dati.identificativo, IDENTIFICATIVO);
    assert_eq!(ins.message_id.as_deref(), Some(RICEVUTA));
    // The original is not included (PEC-SPEC §4.5).
    assert!(ins.postacert.is_none());
    assert!(!String::from_utf8_lossy(&wire(&n.avviso)).contains("corpo"));
    assert_eq!(
        tipi(&n.eventi),
        [
            "invio-ricevuto",
            "virus-rilevato",
            "non-accettazione-emessa"
        ]
    );
    assert_eq!(
        n.eventi[1].evento,
        TipoEvento::VirusRilevato {
            punto: "accesso".into(),
            virus: "Gestore.Test.Virus".into(),
            quarantena: true,
        }
    );
    assert!(matches!(
        &n.eventi[2].evento,
        TipoEvento::NonAccettazioneEmessa { motivo, descrizione }
            if motivo == "virus" && descrizione.contains("Gestore.Test.Virus")
    ));
    assert_eq!(n.eventi[2].generati, [RICEVUTA]);
}

#[test]
fn formal_checks_come_before_the_virus_but_the_message_is_quarantined() {
    // PEC-SPEC §2.3 step 3: the formal notice wins; the infected message is still kept.
    let raw = messaggio(CASELLA, "Bcc: x@pec.altro.it\r\n");
    let n = rifiutato(esegui_scansionato(
        CASELLA,
        CASELLA,
        &rcpt(&[TO]),
        &raw,
        Limiti::default(),
        Some("Gestore.Test.Virus"),
    ));
    assert_eq!(n.motivo, Motivo::BccPresente);
    assert!(n.quarantena);
    assert_eq!(n.avviso.header("X-VerificaSicurezza"), None);
    let (ins, d) = leggi(&n.avviso);
    assert_eq!(ins.kind, MessageKind::NonAccettazione);
    assert_eq!(d.errore, Errore::Altro);
    assert_eq!(
        tipi(&n.eventi),
        [
            "invio-ricevuto",
            "virus-rilevato",
            "non-accettazione-emessa"
        ]
    );
}

#[test]
fn a_clean_refusal_is_not_quarantined() {
    let raw = messaggio(CASELLA, "Bcc: x@pec.altro.it\r\n");
    let n = rifiutato(esegui(
        CASELLA,
        CASELLA,
        &rcpt(&[TO]),
        &raw,
        Limiti::default(),
    ));
    assert!(!n.quarantena);
    assert_eq!(
        tipi(&n.eventi),
        ["invio-ricevuto", "non-accettazione-emessa"]
    );
}

/// The envelope handed back as read (`Accettazione::letta`) is exactly what reading the
/// envelope's bytes gives, whatever receipt type, recipients and header forms the original
/// has: the access point need not parse what it just built.
#[test]
fn the_envelope_handed_back_is_the_envelope_read_from_its_bytes() {
    for extra in [
        "",
        "X-TipoRicevuta: breve\r\n",
        "X-TipoRicevuta: sintetica\r\nReply-To: altro@studio.example.it\r\n",
        "X-TipoRicevuta: sconosciuta\r\nIn-Reply-To: <x@y>\r\n",
    ] {
        let raw = messaggio(CASELLA, extra);
        let a = accettato(esegui(
            CASELLA,
            CASELLA,
            &rcpt(&[TO, CC]),
            &raw,
            Limiti::MINIMI,
        ));
        let letta = crate::consegna::BustaRicevuta::leggi(&wire(&a.busta)).expect("readable");
        assert_eq!(*a.letta, letta, "{extra:?}");
    }
}
