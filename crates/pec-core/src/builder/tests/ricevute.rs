//! Ricevuta di accettazione (PEC-SPEC §4.3), presa in carico (§4.6), avvenuta consegna
//! completa / breve / sintetica (§4.7).

use super::*;
use crate::breve::{copia_breve, hash_parte};
use crate::daticert::TipoRicevuta;

/// Header names every receipt carries, in order (PEC-SPEC §4.3–§4.11), then the kind's own.
const RICEVUTA: [&str; 7] = [
    "Date",
    "From",
    "To",
    "Subject",
    "Message-ID",
    "X-Riferimento-Message-ID",
    "X-Ricevuta",
];

fn nomi(u: &UnsignedMessage) -> Vec<&str> {
    u.headers.iter().map(|(n, _)| n.as_str()).collect()
}

/// The header checks shared by every receipt: From is the bare service address, the own
/// Message-ID, the client msgid reference, the X-Ricevuta value and the decoded subject.
fn assert_ricevuta(u: &UnsignedMessage, kind: MessageKind, to: &str) {
    assert_eq!(u.header("From"), Some(SERVIZIO));
    assert_eq!(u.header("To"), Some(to));
    assert_eq!(
        u.header("Message-ID"),
        Some(format!("<{PROPRIO}>").as_str())
    );
    assert_eq!(u.header("X-Riferimento-Message-ID"), Some(MSGID));
    assert_eq!(u.header("X-Ricevuta"), kind.pec_header().map(|(_, v)| v));
    assert_eq!(u.header("Date"), Some("Fri, 15 Mar 2024 10:30:00 +0100"));
    assert_eq!(u.header("X-Trasporto"), None);
    assert_eq!(u.header("X-TipoRicevuta"), None);
    assert_eq!(u.header("Reply-To"), None);
    let w = wire(u);
    let m = parse(&w);
    assert_oggetto(&m, kind);
}

#[test]
fn accettazione_to_the_sender_without_original() {
    let u = con_emissione(PROPRIO, |e| ricevuta_accettazione(e, &dati())).unwrap();
    assert_eq!(nomi(&u), RICEVUTA);
    assert_ricevuta(&u, MessageKind::Accettazione, MITTENTE);
    assert_eq!(u.header("X-Ricevuta"), Some("accettazione"));
    let w = wire(&u);
    let m = parse(&w);
    assert_eq!(layout(&m), SENZA_POSTACERT);
    assert_daticert(
        &m,
        &daticert_atteso(Tipo::Accettazione, Errore::Nessuno, |_| {}),
    );
    let t = testo_plain(&m);
    assert!(
        t.contains(&format!("{DESTINATARIO_TO} (\"posta certificata\")")),
        "{t}"
    );
    assert!(
        t.contains(&format!("{DESTINATARIO_CC} (\"posta ordinaria\")")),
        "{t}"
    );
    assert!(t.contains("\u{e8} stato accettato dal sistema ed inoltrato."));
    assert!(t.contains(&format!("Identificativo del messaggio: {IDENTIFICATIVO}")));
}

#[test]
fn presa_in_carico_to_mail_receipt_with_one_ricezione_per_recipient() {
    let ricezione = vec![
        DESTINATARIO_TO.to_string(),
        "altro@pec.cliente.example".to_string(),
    ];
    let u = con_emissione(PROPRIO, |e| {
        ricevuta_presa_in_carico(e, &dati(), &ricezione, sample::MAIL_RECEIPT)
    })
    .unwrap();
    assert_eq!(nomi(&u), RICEVUTA);
    assert_ricevuta(&u, MessageKind::PresaInCarico, sample::MAIL_RECEIPT);
    assert_eq!(u.header("X-Ricevuta"), Some("presa-in-carico"));
    let w = wire(&u);
    let m = parse(&w);
    assert_eq!(layout(&m), SENZA_POSTACERT);
    assert_daticert(
        &m,
        &daticert_atteso(Tipo::PresaInCarico, Errore::Nessuno, |d| {
            d.ricezione = ricezione.clone()
        }),
    );
}

fn consegna(tipo: TipoRicevuta) -> UnsignedMessage {
    let postacert = sample::originale().postacert(IDENTIFICATIVO);
    let c = Consegna {
        destinatario: DESTINATARIO_TO,
        tipo: &tipo,
        postacert: &postacert,
    };
    con_emissione(PROPRIO, |e| ricevuta_consegna(e, &dati(), &c)).unwrap()
}

fn daticert_consegna(tipo: TipoRicevuta) -> Daticert {
    daticert_atteso(Tipo::AvvenutaConsegna, Errore::Nessuno, |d| {
        d.ricevuta = Some(tipo);
        d.consegna = Some(DESTINATARIO_TO.into());
    })
}

#[test]
fn consegna_completa_carries_the_original_of_the_envelope() {
    let u = consegna(TipoRicevuta::Completa);
    assert_eq!(nomi(&u), RICEVUTA);
    assert_ricevuta(&u, MessageKind::ConsegnaCompleta, MITTENTE);
    assert_eq!(u.header("X-Ricevuta"), Some("avvenuta-consegna"));
    let w = wire(&u);
    let m = parse(&w);
    assert_eq!(layout(&m), CON_POSTACERT);
    let postacert = sample::originale().postacert(IDENTIFICATIVO);
    assert_eq!(parte(&m, "postacert.eml"), Some(postacert.as_slice()));
    assert_daticert(&m, &daticert_consegna(TipoRicevuta::Completa));
    let t = testo_plain(&m);
    assert!(
        t.starts_with(&format!(
            "-- Ricevuta di avvenuta consegna del messaggio indirizzato a {DESTINATARIO_TO} --"
        )),
        "{t}"
    );
    assert!(t.contains("\u{e8} stato correttamente consegnato al destinatario."));
}

#[test]
fn consegna_breve_carries_the_hashed_original() {
    let u = consegna(TipoRicevuta::Breve);
    assert_ricevuta(&u, MessageKind::ConsegnaBreve, MITTENTE);
    assert_eq!(u.header("X-Ricevuta"), Some("avvenuta-consegna"));
    let w = wire(&u);
    let m = parse(&w);
    assert_eq!(layout(&m), CON_POSTACERT);
    let postacert = sample::originale().postacert(IDENTIFICATIVO);
    let breve = copia_breve(&postacert).unwrap();
    let allegato = parte(&m, "postacert.eml").unwrap();
    assert_eq!(allegato, breve.as_slice());
    let s = String::from_utf8_lossy(allegato);
    assert!(s.contains("filename=\"fattura-12.pdf.hash\""), "{s}");
    assert!(!s.contains("JVBERi0x"));
    let b64 =
        "JVBERi0xLjQKMSAwIG9iago8PCAvVHlwZSAvQ2F0YWxvZyAvUGFnZXMgMiAwIFIgPj4KZW5kb2JqCjIg\r\n\
MCBvYmoKPDwgL1R5cGUgL1BhZ2VzIC9LaWRzIFtdIC9Db3VudCAwID4+CmVuZG9iagp0cmFpbGVyCjw8\r\n\
IC9Sb290IDEgMCBSID4+CiUlRU9GCg==";
    assert!(s.contains(&hash_parte(b64.as_bytes())));
    assert!(
        s.contains("in allegato la fattura"),
        "the text part is kept"
    );
    assert_daticert(&m, &daticert_consegna(TipoRicevuta::Breve));
    assert!(testo_plain(&m).starts_with("-- Ricevuta breve di avvenuta consegna"));
}

#[test]
fn consegna_sintetica_has_no_original() {
    let u = consegna(TipoRicevuta::Sintetica);
    assert_ricevuta(&u, MessageKind::ConsegnaSintetica, MITTENTE);
    let w = wire(&u);
    let m = parse(&w);
    assert_eq!(layout(&m), SENZA_POSTACERT);
    assert_eq!(parte(&m, "postacert.eml"), None);
    assert_daticert(&m, &daticert_consegna(TipoRicevuta::Sintetica));
    assert!(testo_plain(&m).starts_with("-- Ricevuta sintetica di avvenuta consegna"));
}

#[test]
fn receipts_without_client_msgid_have_no_reference() {
    let mut d = dati();
    d.msgid = None;
    let u = con_emissione(PROPRIO, |e| ricevuta_accettazione(e, &d)).unwrap();
    assert_eq!(u.header("X-Riferimento-Message-ID"), None);
    let w = wire(&u);
    let m = parse(&w);
    let xml = String::from_utf8_lossy(parte(&m, "daticert.xml").unwrap()).into_owned();
    assert!(!xml.contains("<msgid>"));
}

#[test]
fn data_from_a_daticert_match_data_from_the_original() {
    let d = dati();
    let busta = daticert_atteso(Tipo::PostaCertificata, Errore::Nessuno, |x| {
        x.ricevuta = Some(TipoRicevuta::Completa);
    });
    assert_eq!(DatiMessaggio::da_daticert(&busta), d);
}
