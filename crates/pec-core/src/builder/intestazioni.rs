//! Outer headers: subjects (RFC 2047), `From:` forms and the header set of receipts
//! (PEC-SPEC §3.2–§3.5).

use super::grezzo::Blocco;
use super::{DatiMessaggio, Emissione};
use crate::kind::MessageKind;
use base64::Engine as _;

/// Longest header line we write before folding, "Subject: " included (RFC 5322 §2.1.1).
const RIGA_MAX: usize = 78;

/// UTF-8 bytes per encoded-word: 36 bytes → 48 base64 chars → a 60-char word, well under
/// RFC 2047's 75 even after "Subject: " on the first line.
const BYTE_PER_PAROLA: usize = 36;

/// A `Subject:` value ready for [`crate::UnsignedMessage::headers`].
///
/// Printable ASCII that fits one line is kept as is. Anything else (non-ASCII, control
/// characters, a line over 78 octets, leading blanks, text that looks like an encoded-word)
/// becomes a run of `=?UTF-8?B?…?=` encoded-words of at most 75 characters, split on
/// character boundaries and **pre-folded** with CRLF + space between words. Decoders drop the folding between adjacent
/// encoded-words, so the subject reads back exactly (RFC 2047 §6.2).
pub fn codifica_oggetto(oggetto: &str) -> String {
    let semplice = oggetto.bytes().all(|b| (0x20..0x7f).contains(&b))
        && "Subject: ".len() + oggetto.len() <= RIGA_MAX
        && !oggetto.contains("=?")
        && !oggetto.starts_with([' ', '\t']);
    if semplice {
        return oggetto.to_string();
    }
    codifica_parole(oggetto)
}

/// `PREFIX: <subj>` (PEC-SPEC §3.5), not yet encoded.
pub(crate) fn oggetto_con_prefisso(kind: MessageKind, oggetto: Option<&str>) -> String {
    let prefisso = kind.subject_prefix().unwrap_or_default();
    format!("{prefisso}: {}", oggetto.unwrap_or_default())
}

/// `<id>` for `Message-ID:`.
pub(crate) fn tra_parentesi(id: &str) -> String {
    format!("<{}>", super::senza_parentesi(id))
}

/// Envelope `From:`: `"Per conto di: <sender>" <service address>` (PEC-SPEC §3.2, §11.2).
pub(crate) fn per_conto_di(mittente: &str, servizio: &str) -> String {
    let nome = format!("Per conto di: {mittente}");
    if nome.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        let quoted = nome.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{quoted}\" <{servizio}>")
    } else {
        // An internationalised sender address: the display name must be an encoded-word.
        format!("{} <{servizio}>", codifica_parole(&nome))
    }
}

/// RFC 2047 `B` encoded-words for `testo`, split on character boundaries, joined by CRLF + space.
fn codifica_parole(testo: &str) -> String {
    let mut parole = Vec::new();
    let mut resto = testo;
    while !resto.is_empty() {
        let mut n = resto.len().min(BYTE_PER_PAROLA);
        while !resto.is_char_boundary(n) {
            n -= 1;
        }
        let (pezzo, dopo) = resto.split_at(n);
        parole.push(format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(pezzo)
        ));
        resto = dopo;
    }
    parole.join("\r\n ")
}

/// The headers of a busta di trasporto after the trace fields (PEC-SPEC §3.2–§3.5, §4.1):
/// `To`/`Cc` of the original unchanged, `Date` of acceptance, `From: "Per conto di: …"`,
/// `Reply-To` of the original (else its sender), the prefixed `Subject`, `Message-ID` = the
/// PEC msgid, `X-Riferimento-Message-ID`, `X-Trasporto`, `X-TipoRicevuta`. Written alike when
/// we build an envelope and when we rebuild the outer block of one received.
pub(crate) fn busta(
    e: &Emissione<'_>,
    originale: &Blocco<'_>,
    dati: &DatiMessaggio,
) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = Vec::new();
    for nome in ["To", "Cc"] {
        for c in originale.tutti(nome) {
            h.push((nome.to_string(), c.valore_crlf())); // PEC-SPEC §4.1: inherited unchanged
        }
    }
    h.push(("Date".into(), e.data.rfc5322())); // PEC-SPEC §4.1: acceptance date
    let from = per_conto_di(&dati.mittente, &e.provider.indirizzo_servizio);
    h.push(("From".into(), from)); // PEC-SPEC §3.2
    let reply_to = match originale.primo("Reply-To") {
        Some(c) => c.valore_crlf(), // PEC-SPEC §3.2: original Reply-To unchanged
        None => dati.mittente.clone(), // PEC-SPEC §3.2: else the original From
    };
    h.push(("Reply-To".into(), reply_to));
    let oggetto = oggetto_con_prefisso(MessageKind::BustaTrasporto, dati.oggetto.as_deref());
    h.push(("Subject".into(), codifica_oggetto(&oggetto))); // PEC-SPEC §3.5
    h.push(("Message-ID".into(), tra_parentesi(e.id()))); // PEC-SPEC §3.3
    if let Some(m) = &dati.msgid {
        h.push(("X-Riferimento-Message-ID".into(), m.clone())); // PEC-SPEC §3.3
    }
    h.push(("X-Trasporto".into(), "posta-certificata".into())); // PEC-SPEC §3.4
    h.push(("X-TipoRicevuta".into(), dati.tipo_ricevuta.to_string())); // PEC-SPEC §4.1
    h
}

/// The headers every receipt and notice carries, in order (PEC-SPEC §4.3–§4.11):
/// `Date`, `From` (the bare service address, §3.2), `To`, `Subject`, `Message-ID`,
/// `X-Riferimento-Message-ID` (when the client had a msgid, §3.3), the `X-Ricevuta` of the
/// kind and `X-VerificaSicurezza: errore` on virus notices (§3.4, §11.20). No `Reply-To`:
/// receipts answer nobody.
pub(crate) fn ricevuta(
    kind: MessageKind,
    e: &Emissione<'_>,
    dati: &DatiMessaggio,
    to: &str,
) -> Vec<(String, String)> {
    let mut h = vec![
        ("Date".to_string(), e.data.rfc5322()), // PEC-SPEC §9.1
        ("From".to_string(), e.provider.indirizzo_servizio.clone()), // PEC-SPEC §3.2
        ("To".to_string(), to.to_string()),
        (
            "Subject".to_string(),
            codifica_oggetto(&oggetto_con_prefisso(kind, dati.oggetto.as_deref())), // §3.5
        ),
        ("Message-ID".to_string(), tra_parentesi(e.id())),
    ];
    if let Some(m) = &dati.msgid {
        h.push(("X-Riferimento-Message-ID".to_string(), m.clone())); // PEC-SPEC §3.3
    }
    if let Some((nome, valore)) = kind.pec_header() {
        h.push((nome.to_string(), valore.to_string())); // PEC-SPEC §3.4
    }
    if kind.verifica_sicurezza() {
        h.push(("X-VerificaSicurezza".to_string(), "errore".to_string())); // PEC-SPEC §11.20
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn decoded(value: &str) -> String {
        let raw = format!("Subject: {value}\r\n\r\n");
        let msg = MessageParser::default().parse(raw.as_bytes()).unwrap();
        msg.subject().unwrap_or_default().to_string()
    }

    #[test]
    fn short_ascii_subjects_stay_plain() {
        assert_eq!(
            codifica_oggetto("POSTA CERTIFICATA: Re: prova"),
            "POSTA CERTIFICATA: Re: prova"
        );
    }

    #[test]
    fn non_ascii_subjects_are_b_encoded_and_read_back() {
        let s = "CONSEGNA: Fattura n° 12 — città";
        let v = codifica_oggetto(s);
        assert!(v.starts_with("=?UTF-8?B?"), "{v}");
        assert!(v.is_ascii());
        assert_eq!(decoded(&v), s);
    }

    #[test]
    fn long_subjects_are_split_into_short_prefolded_words() {
        let s = format!("POSTA CERTIFICATA: {}", "città è già lì — ".repeat(12));
        let v = codifica_oggetto(&s);
        let righe: Vec<&str> = v.split("\r\n").collect();
        assert!(righe.len() > 3);
        for (i, r) in righe.iter().enumerate() {
            let parola = if i == 0 {
                *r
            } else {
                r.strip_prefix(' ').unwrap()
            };
            assert!(parola.len() <= 75, "{parola}");
            assert!(parola.starts_with("=?UTF-8?B?") && parola.ends_with("?="));
            assert!("Subject: ".len() + r.len() <= 78);
        }
        assert_eq!(decoded(&v), s);
    }

    #[test]
    fn long_ascii_and_encoded_word_lookalikes_are_encoded() {
        let lungo = "x".repeat(90);
        assert!(codifica_oggetto(&lungo).starts_with("=?UTF-8?B?"));
        assert_eq!(decoded(&codifica_oggetto(&lungo)), lungo);
        let finto = "=?UTF-8?B?YWJj?=";
        assert_eq!(decoded(&codifica_oggetto(finto)), finto);
    }

    #[test]
    fn envelope_from_quotes_the_sender() {
        assert_eq!(
            per_conto_di("a@b.it", "posta-certificata@pec.p.it"),
            "\"Per conto di: a@b.it\" <posta-certificata@pec.p.it>"
        );
        let v = per_conto_di("città@b.it", "posta-certificata@pec.p.it");
        assert!(v.starts_with("=?UTF-8?B?") && v.is_ascii(), "{v}");
    }
}
