//! Builder tests, kind by kind: headers, MIME layout, daticert, and the invariants of every
//! generated entity. Helpers here make each test read like the row of PEC-SPEC §4.12 it pins.

mod avvisi;
mod buste;
mod invarianti;
mod ricevute;

use super::sample::{self, DESTINATARIO_CC, DESTINATARIO_TO};
use super::*;
use crate::daticert::{Dati, Errore, Tipo};
use crate::prova::{adesso, provider, SERVIZIO};
use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

/// The PEC msgid of the envelope all receipts refer to.
const IDENTIFICATIVO: &str = "opec-gestore.20240315103000.1@pec.gestore.example";
/// The Message-ID of a receipt under test.
const PROPRIO: &str = "opec-gestore.20240315103000.9@pec.gestore.example";
/// The client's msgid of the canned original.
const MSGID: &str = "<fattura-12.20240315@studio.example.it>";
/// The canned subject.
const OGGETTO: &str = "Fattura n\u{b0} 12 \u{2014} citt\u{e0}";
const MITTENTE: &str = "mario.rossi@pec.example.it";

/// Runs `f` with the emitting point of a receipt (`PROPRIO`) or of the envelope.
fn con_emissione<T>(message_id: &str, f: impl FnOnce(&Emissione<'_>) -> T) -> T {
    let p = provider();
    let e = Emissione {
        provider: &p,
        data: adesso(),
        message_id,
    };
    f(&e)
}

/// The canned original's data, as the envelope certifies them.
fn dati() -> DatiMessaggio {
    sample::dati(IDENTIFICATIVO)
}

/// The message as the signer would put it on the wire, minus the signature layer.
fn wire(u: &UnsignedMessage) -> Vec<u8> {
    let mut w = Vec::new();
    for (n, v) in &u.headers {
        w.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    w.extend_from_slice(b"MIME-Version: 1.0\r\n");
    w.extend_from_slice(&u.content);
    w
}

fn parse(w: &[u8]) -> Message<'_> {
    MessageParser::default()
        .parse(w)
        .expect("generated messages parse")
}

/// `type/subtype` of every part, in order (a nested message counts as one part).
fn layout(m: &Message<'_>) -> Vec<String> {
    m.parts
        .iter()
        .map(|p| {
            p.content_type()
                .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()))
                .unwrap_or_default()
        })
        .collect()
}

const CON_POSTACERT: [&str; 6] = [
    "multipart/mixed",
    "multipart/alternative",
    "text/plain",
    "text/html",
    "application/xml",
    "message/rfc822",
];

const SENZA_POSTACERT: [&str; 5] = [
    "multipart/mixed",
    "multipart/alternative",
    "text/plain",
    "text/html",
    "application/xml",
];

/// The decoded bytes of the part named `name` (Content-Type name or Content-Disposition
/// filename).
fn parte<'a>(m: &'a Message<'a>, name: &str) -> Option<&'a [u8]> {
    m.parts
        .iter()
        .find(|p| p.attachment_name() == Some(name))
        .map(|p| match &p.body {
            // A 7bit/8bit message/rfc822 part: its bytes as they lie in the entity.
            PartType::Message(_) => {
                &m.raw_message[p.raw_body_offset() as usize..p.raw_end_offset() as usize]
            }
            _ => p.contents(),
        })
}

/// The daticert a receipt about the canned original must carry: `tipo`, `errore`, and the
/// fields of `<dati>` that `f` sets on top of the common ones.
fn daticert_atteso(tipo: Tipo, errore: Errore, f: impl FnOnce(&mut Dati)) -> Daticert {
    let d = dati();
    let mut x = Daticert {
        tipo,
        errore,
        intestazione: d.intestazione(),
        dati: Dati {
            gestore_emittente: "Gestore di Prova S.p.A.".into(),
            data: adesso(),
            identificativo: IDENTIFICATIVO.into(),
            msgid: Some(MSGID.into()),
            ricevuta: None,
            consegna: None,
            ricezione: Vec::new(),
            errore_esteso: None,
        },
    };
    f(&mut x.dati);
    x
}

/// Asserts the daticert part is exactly the writer's output for `atteso`.
fn assert_daticert(m: &Message<'_>, atteso: &Daticert) {
    let xml = parte(m, "daticert.xml").expect("daticert.xml present");
    let atteso = atteso.to_xml().unwrap();
    assert_eq!(String::from_utf8_lossy(xml), atteso);
}

/// The decoded Subject must be `prefix: OGGETTO`.
fn assert_oggetto(m: &Message<'_>, kind: MessageKind) {
    let prefisso = kind.subject_prefix().unwrap();
    assert_eq!(m.subject(), Some(format!("{prefisso}: {OGGETTO}").as_str()));
}

/// The bare address of the first From/To mailbox.
fn indirizzo(a: Option<&mail_parser::Address<'_>>) -> Option<String> {
    a.and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(str::to_string)
}

/// The text/plain part, decoded from ISO-8859-1, with LF line ends.
fn testo_plain(m: &Message<'_>) -> String {
    m.body_text(0)
        .map(|t| t.replace("\r\n", "\n"))
        .unwrap_or_default()
}
