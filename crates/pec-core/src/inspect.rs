//! Reading any message a user holds: which PEC kind it is, its daticert and its original.
//!
//! Classification follows the PEC headers (PEC-SPEC §3.4) and, where one header value covers
//! several kinds, the daticert (`ricevuta/@tipo`, `errore`) and `X-VerificaSicurezza`.
//! It never trusts the human text (PEC-SPEC §3.1: "parsing MUST be done on the XML part only").
//! Signatures are not this module's business: `pec-smime` checks them.

use crate::builder::Scadenza;
use crate::daticert::{Daticert, Errore, TipoRicevuta};
use crate::kind::MessageKind;
use mail_parser::{Address, Message, MessageParser, MessagePart, MimeHeaders, PartType};

/// Largest message we inspect; above it the input is refused rather than risk memory.
pub const MAX_MESSAGE_SIZE: usize = 256 << 20;

/// Why a message cannot be inspected at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InspectError {
    /// Empty input.
    #[error("empty input")]
    Empty,
    /// Over [`MAX_MESSAGE_SIZE`].
    #[error("message of {0} bytes is over the {MAX_MESSAGE_SIZE} byte limit")]
    TooLarge(usize),
    /// Not an RFC 5322 message: no header section could be read.
    #[error("not an e-mail message: no header could be read")]
    NotAMessage,
}

/// What [`inspect`] found in a message.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The kind of message.
    pub kind: MessageKind,
    /// Decoded `Subject:`.
    pub subject: Option<String>,
    /// `From:` as written (display name and address).
    pub from: Option<String>,
    /// `To:` addresses.
    pub to: Vec<String>,
    /// `Cc:` addresses.
    pub cc: Vec<String>,
    /// `Date:` as written.
    pub date: Option<String>,
    /// `Message-ID:` without angle brackets.
    pub message_id: Option<String>,
    /// `X-Riferimento-Message-ID:` as written (with angle brackets).
    pub riferimento_message_id: Option<String>,
    /// `X-TipoRicevuta:` of an envelope.
    pub tipo_ricevuta: Option<String>,
    /// `X-Mittente:` of a virus notice.
    pub x_mittente: Option<String>,
    /// The `daticert.xml` part: `None` when absent, `Some(Err(reason))` when unreadable.
    pub daticert: Option<Result<Daticert, String>>,
    /// The `daticert.xml` part's decoded bytes, exactly as the provider wrote them.
    pub daticert_xml: Option<Vec<u8>>,
    /// The raw bytes of the `postacert.eml` part (for the anomaly envelope: the wrapped message).
    pub postacert: Option<Vec<u8>>,
}

/// Inspects a raw message.
pub fn inspect(raw: &[u8]) -> Result<Inspection, InspectError> {
    let message = parse(raw)?;
    Ok(inspection(&message, &message, true))
}

/// Inspects a signed message whose signature was checked: the outer headers are read from
/// `raw`, but `daticert.xml` and `postacert.eml` only from `firmato`, the entity the signature
/// covers as the verifier returned it (`pec_smime::Verification::content`).
///
/// Why: the outer headers and any part outside the signed entity are anyone's to write. Taking
/// the parts from the verifier's own bytes, rather than from a second MIME parse of `raw`,
/// leaves no room for a message that two parsers split differently (a forged daticert placed
/// where one parser looks and the other does not). Of `raw` only the header block is parsed.
pub fn inspect_firmato(raw: &[u8], firmato: &[u8]) -> Result<Inspection, InspectError> {
    if raw.len() > MAX_MESSAGE_SIZE {
        return Err(InspectError::TooLarge(raw.len()));
    }
    let testata = crate::builder::grezzo::sola_testata(raw);
    let esterno = parse(&testata)?;
    let interno = parse(firmato)?;
    // Whether a notice is about a virus is the signed daticert's `errore` to say: an outer
    // `X-VerificaSicurezza` anyone can add must not turn a notice into another kind.
    Ok(inspection(&esterno, &interno, false))
}

fn parse(raw: &[u8]) -> Result<Message<'_>, InspectError> {
    if raw.is_empty() {
        return Err(InspectError::Empty);
    }
    if raw.len() > MAX_MESSAGE_SIZE {
        return Err(InspectError::TooLarge(raw.len()));
    }
    let message = MessageParser::default()
        .parse(raw)
        .ok_or(InspectError::NotAMessage)?;
    if message.headers().is_empty() || !starts_with_header(raw) {
        return Err(InspectError::NotAMessage);
    }
    Ok(message)
}

/// What `message`'s headers say, with the parts read from `parti` (the same message, or the
/// signed entity of it); `verifica_sicurezza`: whether the outer `X-VerificaSicurezza` counts.
fn inspection(message: &Message<'_>, parti: &Message<'_>, verifica_sicurezza: bool) -> Inspection {
    let header = |name: &str| raw_header(message, name);
    let daticert_xml = find_part(parti, is_daticert).map(|p| p.contents().to_vec());
    let daticert = daticert_xml
        .as_deref()
        .map(|xml| Daticert::from_xml(xml).map_err(|e| format!("daticert.xml: {e}")));
    let postacert = find_part(parti, |p| is_postacert(p)).map(|p| p.contents().to_vec());
    let kind = classify(
        header("X-Trasporto").as_deref(),
        header("X-Ricevuta").as_deref(),
        verifica_sicurezza && header("X-VerificaSicurezza").is_some(),
        daticert.as_ref().and_then(|d| d.as_ref().ok()),
    );

    Inspection {
        kind,
        subject: message.subject().map(str::to_string),
        from: header("From"),
        to: addresses(message.to()),
        cc: addresses(message.cc()),
        date: header("Date"),
        message_id: message.message_id().map(str::to_string),
        riferimento_message_id: header("X-Riferimento-Message-ID"),
        tipo_ricevuta: header("X-TipoRicevuta"),
        x_mittente: header("X-Mittente"),
        daticert,
        daticert_xml,
        postacert,
    }
}

/// Decides the kind from the PEC headers and the daticert (PEC-SPEC §3.4, §4.12).
///
/// Header values are compared case-insensitively, as real providers vary their case.
/// The 12 h and 24 h notices share every header (PEC-SPEC §4.9); gestore tells them apart by
/// `<errore-esteso>` (our choice, UNCONFIRMED, see [`Scadenza`]); for another provider's
/// wording, text mentioning "24 ore" is the 24 h notice, anything else the 12 h one.
pub fn classify(
    x_trasporto: Option<&str>,
    x_ricevuta: Option<&str>,
    verifica_sicurezza: bool,
    daticert: Option<&Daticert>,
) -> MessageKind {
    use MessageKind::*;
    let virus = verifica_sicurezza || daticert.is_some_and(|d| d.errore == Errore::Virus);
    if let Some(t) = x_trasporto.map(|v| v.trim().to_ascii_lowercase()) {
        match t.as_str() {
            "posta-certificata" => return BustaTrasporto,
            "errore" => return BustaAnomalia,
            _ => {}
        }
    }
    let Some(r) = x_ricevuta.map(|v| v.trim().to_ascii_lowercase()) else {
        return Ordinaria;
    };
    match r.as_str() {
        "accettazione" => Accettazione,
        "non-accettazione" if virus => NonAccettazioneVirus,
        "non-accettazione" => NonAccettazione,
        "presa-in-carico" => PresaInCarico,
        "avvenuta-consegna" => match daticert.and_then(|d| d.dati.ricevuta.clone()) {
            Some(TipoRicevuta::Breve) => ConsegnaBreve,
            Some(TipoRicevuta::Sintetica) => ConsegnaSintetica,
            _ => ConsegnaCompleta,
        },
        "errore-consegna" if virus => MancataConsegnaVirus,
        "errore-consegna" => MancataConsegna,
        "preavviso-errore-consegna" => {
            let esteso = daticert
                .and_then(|d| d.dati.errore_esteso.as_deref())
                .unwrap_or_default();
            // Our own wording first; another provider's text falls back to a plain search.
            match Scadenza::da_errore_esteso(esteso) {
                Some(Scadenza::Ore24) => MancataConsegna24h,
                Some(Scadenza::Ore12) => Preavviso12h,
                None if esteso.contains("24 ore") => MancataConsegna24h,
                None => Preavviso12h,
            }
        }
        "rilevazione-virus" => RilevazioneVirus,
        _ => Ordinaria,
    }
}

/// One file attached to a message, for extraction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allegato {
    /// The file name the sender gave, unsanitised: callers writing to disk must clean it.
    pub nome: Option<String>,
    /// The decoded content.
    pub contenuto: Vec<u8>,
}

/// The attachments of a message (typically the `postacert.eml` original), decoded.
pub fn allegati(raw: &[u8]) -> Vec<Allegato> {
    let Some(message) = MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    message
        .attachments()
        .map(|p| Allegato {
            nome: p.attachment_name().map(str::to_string),
            contenuto: p.contents().to_vec(),
        })
        .collect()
}

fn starts_with_header(raw: &[u8]) -> bool {
    let line = raw.split(|b| *b == b'\n').next().unwrap_or_default();
    match line.iter().position(|b| *b == b':') {
        Some(colon) if colon > 0 => line[..colon]
            .iter()
            .all(|b| b.is_ascii_graphic() && *b != b':'),
        _ => false,
    }
}

fn raw_header(message: &Message<'_>, name: &str) -> Option<String> {
    message
        .headers_raw()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| unfold(v))
}

fn unfold(v: &str) -> String {
    v.split(['\r', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn addresses(address: Option<&Address<'_>>) -> Vec<String> {
    address
        .map(|a| {
            a.iter()
                .filter_map(|addr| addr.address().map(|a| a.trim().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn part_name(part: &MessagePart<'_>) -> Option<String> {
    part.attachment_name().map(|n| n.to_ascii_lowercase())
}

fn is_daticert(part: &MessagePart<'_>) -> bool {
    part_name(part).as_deref() == Some("daticert.xml")
}

fn is_postacert(part: &MessagePart<'_>) -> bool {
    matches!(part.body, PartType::Message(_))
        && part_name(part).is_none_or(|n| n == "postacert.eml" || n.ends_with(".eml"))
}

/// The first part of the top-level message (not of nested ones) matching `pred`.
fn find_part<'m, 'x>(
    message: &'m Message<'x>,
    pred: impl Fn(&MessagePart<'x>) -> bool,
) -> Option<&'m MessagePart<'x>> {
    message.parts.iter().skip(1).find(|p| pred(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::sample;
    use crate::prova::{adesso, provider};

    /// An unsigned message as it would travel: outer headers, then the entity.
    fn wire(kind: MessageKind) -> Vec<u8> {
        let m = sample::sample(kind, &provider(), adesso());
        let mut out = Vec::new();
        for (n, v) in &m.headers {
            out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        out.extend_from_slice(b"MIME-Version: 1.0\r\n");
        out.extend_from_slice(&m.content);
        out
    }

    #[test]
    fn every_built_kind_is_read_back_as_itself() {
        for kind in MessageKind::PEC {
            let ins = inspect(&wire(kind)).unwrap();
            assert_eq!(ins.kind, kind);
            assert_eq!(ins.daticert.is_some(), kind != MessageKind::BustaAnomalia);
            assert_eq!(ins.postacert.is_some(), kind.carries_postacert(), "{kind}");
        }
    }

    #[test]
    fn header_values_are_compared_without_case() {
        assert_eq!(
            classify(Some("Posta-Certificata"), None, false, None),
            MessageKind::BustaTrasporto
        );
        assert_eq!(
            classify(None, Some(" ACCETTAZIONE "), false, None),
            MessageKind::Accettazione
        );
    }

    #[test]
    fn unknown_header_value_is_ordinary_mail() {
        assert_eq!(
            classify(None, Some("bogus"), false, None),
            MessageKind::Ordinaria
        );
        assert_eq!(classify(None, None, false, None), MessageKind::Ordinaria);
    }

    #[test]
    fn verifica_sicurezza_marks_the_virus_variants() {
        assert_eq!(
            classify(None, Some("non-accettazione"), true, None),
            MessageKind::NonAccettazioneVirus
        );
        assert_eq!(
            classify(None, Some("errore-consegna"), true, None),
            MessageKind::MancataConsegnaVirus
        );
        assert_eq!(
            classify(None, Some("errore-consegna"), false, None),
            MessageKind::MancataConsegna
        );
    }

    #[test]
    fn not_a_message_is_refused() {
        assert_eq!(inspect(b"").unwrap_err(), InspectError::Empty);
        assert_eq!(
            inspect(b"\x00\x01\x02 garbage").unwrap_err(),
            InspectError::NotAMessage
        );
    }
}
