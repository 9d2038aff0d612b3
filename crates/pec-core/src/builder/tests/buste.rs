//! Busta di trasporto (PEC-SPEC §4.1) and busta di anomalia (§4.2).

use super::*;
use crate::builder::mime::contiene;
use crate::daticert::{TipoDestinatario, TipoRicevuta};

fn busta(o: &Originale) -> UnsignedMessage {
    let d = sample::dati(IDENTIFICATIVO);
    con_emissione(IDENTIFICATIVO, |e| busta_trasporto(e, o, &d.destinatari)).unwrap()
}

#[test]
fn busta_headers_follow_spec_4_1_in_order() {
    let u = busta(&sample::originale());
    let nomi: Vec<&str> = u.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        nomi,
        [
            "Return-Path",
            "To",
            "Cc",
            "Date",
            "From",
            "Reply-To",
            "Subject",
            "Message-ID",
            "X-Riferimento-Message-ID",
            "X-Trasporto",
            "X-TipoRicevuta",
        ]
    );
    assert_eq!(u.header("X-Trasporto"), Some("posta-certificata"));
    assert_eq!(u.header("X-TipoRicevuta"), Some("completa"));
    assert_eq!(u.header("X-Riferimento-Message-ID"), Some(MSGID));
    assert_eq!(
        u.header("Message-ID"),
        Some(format!("<{IDENTIFICATIVO}>").as_str())
    );
    assert_eq!(
        u.header("From"),
        Some(format!("\"Per conto di: {MITTENTE}\" <{SERVIZIO}>").as_str())
    );
    // Inherited unchanged, display names included.
    assert_eq!(
        u.header("To"),
        Some("Ufficio Acquisti <ufficio.acquisti@pec.cliente.example>")
    );
    assert_eq!(u.header("Cc"), Some(DESTINATARIO_CC));
    assert_eq!(
        u.header("Return-Path"),
        Some("<mario.rossi@pec.example.it>")
    );
    // Absent in the original: created from From.
    assert_eq!(u.header("Reply-To"), Some(MITTENTE));
    assert_eq!(u.header("Date"), Some("Fri, 15 Mar 2024 10:30:00 +0100"));
    assert_eq!(u.header("X-Ricevuta"), None);
    let w = wire(&u);
    let m = parse(&w);
    assert_oggetto(&m, MessageKind::BustaTrasporto);
    assert_eq!(indirizzo(m.from()), Some(SERVIZIO.into()));
    assert_eq!(
        m.from().and_then(|a| a.first()).and_then(|a| a.name()),
        Some("Per conto di: mario.rossi@pec.example.it")
    );
}

#[test]
fn busta_carries_text_daticert_and_the_substituted_original() {
    let o = sample::originale();
    let u = busta(&o);
    let w = wire(&u);
    let m = parse(&w);
    assert_eq!(layout(&m), CON_POSTACERT);
    assert_eq!(
        parte(&m, "postacert.eml"),
        Some(o.postacert(IDENTIFICATIVO).as_slice())
    );
    let interno = parse(parte(&m, "postacert.eml").unwrap());
    assert_eq!(interno.message_id(), Some(IDENTIFICATIVO));
    assert_eq!(
        interno
            .header_raw("X-Riferimento-Message-ID")
            .map(str::trim),
        Some(MSGID)
    );
    let atteso = daticert_atteso(Tipo::PostaCertificata, Errore::Nessuno, |d| {
        d.ricevuta = Some(TipoRicevuta::Completa);
    });
    assert_eq!(
        atteso
            .intestazione
            .destinatari
            .iter()
            .map(|d| (d.indirizzo.as_str(), d.tipo.clone()))
            .collect::<Vec<_>>(),
        [
            (DESTINATARIO_TO, TipoDestinatario::Certificato),
            (DESTINATARIO_CC, TipoDestinatario::Esterno)
        ]
    );
    assert_daticert(&m, &atteso);
}

#[test]
fn busta_text_states_the_facts_keeping_every_character() {
    let u = busta(&sample::originale());
    let w = wire(&u);
    let m = parse(&w);
    let t = testo_plain(&m);
    assert!(
        t.contains("Questo \u{e8} un Messaggio di Posta Certificata"),
        "{t}"
    );
    assert!(t.contains("Il giorno 15/03/2024 alle ore 10:30:00 (+0100) il messaggio con Oggetto"));
    // The em dash is outside Latin-1: the text is UTF-8 then, and keeps it (issue 12).
    assert!(t.contains("\"Fattura n\u{b0} 12 \u{2014} citt\u{e0}\" \u{e8} stato inviato dal mittente \"mario.rossi@pec.example.it\""));
    assert!(t.contains(DESTINATARIO_TO) && t.contains(DESTINATARIO_CC));
    assert!(t.contains(IDENTIFICATIVO));
    let html = m.body_html(0).unwrap();
    assert!(
        html.contains("&quot;Fattura n\u{b0} 12 \u{2014} citt\u{e0}&quot;"),
        "{html}"
    );
    assert!(html.contains("charset=utf-8"), "{html}");
    assert!(html.contains(IDENTIFICATIVO));
    assert!(contiene(&w, b"text/plain; charset=\"utf-8\""));
}

#[test]
fn a_text_that_fits_latin1_stays_latin1() {
    let raw = String::from_utf8(sample::ORIGINALE.to_vec())
        .unwrap()
        .replace(
            "=?UTF-8?B?RmF0dHVyYSBuwrAgMTIg4oCUIGNpdHTDoA==?=",
            "=?UTF-8?Q?Fattura_n=C2=B0_12_citt=C3=A0?=",
        );
    let o = crate::builder::Originale::parse(raw.as_bytes()).unwrap();
    assert_eq!(o.oggetto.as_deref(), Some("Fattura n\u{b0} 12 citt\u{e0}"));
    let w = wire(&busta(&o));
    assert!(contiene(&w, b"text/plain; charset=\"iso-8859-1\""));
    let t = testo_plain(&parse(&w));
    assert!(t.contains("\"Fattura n\u{b0} 12 citt\u{e0}\""), "{t}");
}

#[test]
fn busta_keeps_reply_to_and_copies_x_tiporicevuta() {
    let raw = b"From: a@pec.it\r\nTo: b@pec.it\r\nReply-To: Segreteria <segreteria@pec.it>\r\n\
X-TipoRicevuta: breve\r\nSubject: prova\r\n\r\nciao\r\n";
    let o = Originale::parse(raw).unwrap();
    let dest = o.destinatari(|_| TipoDestinatario::Certificato);
    let u = con_emissione("id1@p", |e| busta_trasporto(e, &o, &dest)).unwrap();
    assert_eq!(u.header("Reply-To"), Some("Segreteria <segreteria@pec.it>"));
    assert_eq!(u.header("X-TipoRicevuta"), Some("breve"));
    assert_eq!(u.header("Subject"), Some("POSTA CERTIFICATA: prova"));
    let w = wire(&u);
    let m = parse(&w);
    let xml = String::from_utf8_lossy(parte(&m, "daticert.xml").unwrap()).into_owned();
    assert!(xml.contains("<ricevuta tipo=\"breve\" />"), "{xml}");
    assert!(
        xml.contains("<risposte>segreteria@pec.it</risposte>"),
        "{xml}"
    );
}

#[test]
fn busta_inherits_folded_headers_prefolded_with_crlf() {
    let raw = b"Received: from client\n\tby ap.pec.it; Fri, 15 Mar 2024 10:29:59 +0100\n\
From: a@pec.it\nTo: uno@pec.it,\n  due@pec.it\nSubject: prova\n\nciao\n";
    let o = Originale::parse(raw).unwrap();
    let dest = o.destinatari(|_| TipoDestinatario::Certificato);
    let u = con_emissione("id@p", |e| busta_trasporto(e, &o, &dest)).unwrap();
    assert_eq!(
        u.header("Received"),
        Some("from client\r\n\tby ap.pec.it; Fri, 15 Mar 2024 10:29:59 +0100")
    );
    assert_eq!(u.header("To"), Some("uno@pec.it,\r\n  due@pec.it"));
    let w = wire(&u);
    let m = parse(&w);
    assert_eq!(m.to().map(|a| a.iter().count()), Some(2));
}

#[test]
fn busta_without_client_msgid_has_no_reference() {
    let raw = b"From: a@pec.it\r\nTo: b@pec.it\r\nSubject: prova\r\n\r\nciao\r\n";
    let o = Originale::parse(raw).unwrap();
    let dest = o.destinatari(|_| TipoDestinatario::Certificato);
    let u = con_emissione("<id1@p>", |e| busta_trasporto(e, &o, &dest)).unwrap();
    assert_eq!(u.header("X-Riferimento-Message-ID"), None);
    assert_eq!(u.header("Message-ID"), Some("<id1@p>"));
    let w = wire(&u);
    let m = parse(&w);
    let p = parte(&m, "postacert.eml").unwrap();
    assert_eq!(
        p,
        b"From: a@pec.it\r\nTo: b@pec.it\r\nSubject: prova\r\nMessage-ID: <id1@p>\r\n\r\nciao\r\n"
    );
    let xml = String::from_utf8_lossy(parte(&m, "daticert.xml").unwrap()).into_owned();
    assert!(!xml.contains("<msgid>"));
    assert!(xml.contains("<identificativo>id1@p</identificativo>"));
}

#[test]
fn busta_of_an_lf_8bit_original_is_normalised_to_crlf() {
    let raw = "From: a@pec.it\nTo: b@pec.it\nSubject: citt\u{e0}\n\ncorpo \u{e8} 8bit\n";
    let o = Originale::parse(raw.as_bytes()).unwrap();
    let dest = o.destinatari(|_| TipoDestinatario::Certificato);
    let u = con_emissione("id@p", |e| busta_trasporto(e, &o, &dest)).unwrap();
    let s = String::from_utf8(u.content.clone()).unwrap();
    assert!(
        s.contains("Content-Transfer-Encoding: 8bit\r\n\r\nFrom: a@pec.it\r\nTo: b@pec.it\r\n"),
        "{s}"
    );
    assert!(s.contains("corpo \u{e8} 8bit\r\n"));
}

fn anomalia(o: &Originale) -> UnsignedMessage {
    con_emissione(PROPRIO, |e| busta_anomalia(e, o, "firma non valida")).unwrap()
}

#[test]
fn anomalia_headers_follow_spec_4_2() {
    let u = anomalia(&sample::originale());
    let nomi: Vec<&str> = u.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        nomi,
        [
            "Return-Path",
            "To",
            "Cc",
            "Date",
            "From",
            "Reply-To",
            "Subject",
            "Message-ID",
            "X-Trasporto"
        ]
    );
    assert_eq!(u.header("X-Trasporto"), Some("errore"));
    // Inherits the received Message-ID, not its own.
    assert_eq!(u.header("Message-ID"), Some(MSGID));
    assert_eq!(u.header("X-Riferimento-Message-ID"), None);
    assert_eq!(u.header("X-TipoRicevuta"), None);
    assert_eq!(
        u.header("From"),
        Some(format!("\"Per conto di: {MITTENTE}\" <{SERVIZIO}>").as_str())
    );
    assert_eq!(u.header("Reply-To"), Some(MITTENTE));
    let w = wire(&u);
    let m = parse(&w);
    assert_oggetto(&m, MessageKind::BustaAnomalia);
}

#[test]
fn anomalia_has_no_daticert_and_the_received_message_untouched() {
    let o = sample::originale();
    let u = anomalia(&o);
    let w = wire(&u);
    let m = parse(&w);
    assert_eq!(
        layout(&m),
        [
            "multipart/mixed",
            "multipart/alternative",
            "text/plain",
            "text/html",
            "message/rfc822"
        ]
    );
    assert_eq!(parte(&m, "daticert.xml"), None);
    assert_eq!(parte(&m, "postacert.eml"), Some(sample::ORIGINALE));
    let t = testo_plain(&m);
    assert!(
        t.contains(
            "Tali dati non sono stati certificati per il seguente errore:\nfirma non valida"
        ),
        "{t}"
    );
}

#[test]
fn anomalia_of_a_message_without_id_uses_its_own() {
    let o = Originale::parse(b"From: x@ordinario.it\r\nTo: b@pec.it\r\n\r\nciao").unwrap();
    let u = anomalia(&o);
    assert_eq!(
        u.header("Message-ID"),
        Some(format!("<{PROPRIO}>").as_str())
    );
    assert_eq!(u.header("Subject"), Some("ANOMALIA MESSAGGIO: "));
}
