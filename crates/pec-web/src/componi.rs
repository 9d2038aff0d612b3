//! A message written in the webmail, as the access point receives it from any mail client:
//! RFC 5322 with To and Cc (no Bcc: the rules forbid blind copies, so there is no such field),
//! the receipt type in `X-TipoRicevuta`, attachments. The access point then checks it like
//! any submission.

use chrono::{DateTime, Utc};
use mail_builder::headers::raw::Raw;
use mail_builder::MessageBuilder;

/// Why a draft cannot be sent as it is (shown above the form).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BozzaNonValida {
    /// No recipient at all.
    #[error("Indica almeno un destinatario.")]
    NessunDestinatario,
    /// Something that is not an address.
    #[error("Indirizzo non valido: {0}")]
    Indirizzo(String),
    /// A receipt type the rules do not know.
    #[error("Tipo di ricevuta non valido: {0}")]
    Ricevuta(String),
}

/// An attachment uploaded with the draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileAllegato {
    /// File name as uploaded (made bare below).
    pub nome: String,
    /// MIME type as declared.
    pub tipo: String,
    /// Content.
    pub dati: Vec<u8>,
}

/// A draft from the compose form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bozza {
    /// To, as typed (commas or semicolons between addresses).
    pub a: String,
    /// Cc, as typed.
    pub cc: String,
    /// Subject.
    pub oggetto: String,
    /// Text.
    pub testo: String,
    /// `completa`, `breve` or `sintetica`.
    pub ricevuta: String,
    /// Attachments.
    pub allegati: Vec<FileAllegato>,
}

/// The addresses of a To or Cc field.
pub fn indirizzi(campo: &str) -> Result<Vec<String>, BozzaNonValida> {
    campo
        .split([',', ';', '\n'])
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| {
            let nudo = a
                .rsplit_once('<')
                .and_then(|(_, r)| r.strip_suffix('>'))
                .unwrap_or(a)
                .trim();
            let valido = nudo.split_once('@').is_some_and(|(l, d)| {
                !l.is_empty() && d.contains('.') && !d.contains('@') && !d.starts_with('.')
            }) && !nudo
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\".contains(c));
            match valido {
                true => Ok(nudo.to_ascii_lowercase()),
                false => Err(BozzaNonValida::Indirizzo(a.chars().take(200).collect())),
            }
        })
        .collect()
}

/// The message, and its SMTP recipients (To then Cc, without repeats).
pub fn componi(
    mittente: &str,
    b: &Bozza,
    message_id: &str,
    data: DateTime<Utc>,
) -> Result<(Vec<u8>, Vec<String>), BozzaNonValida> {
    let a = indirizzi(&b.a)?;
    let cc = indirizzi(&b.cc)?;
    let mut rcpt: Vec<String> = Vec::new();
    for r in a.iter().chain(&cc) {
        if !rcpt.contains(r) {
            rcpt.push(r.clone());
        }
    }
    if rcpt.is_empty() {
        return Err(BozzaNonValida::NessunDestinatario);
    }
    let ricevuta = match b.ricevuta.trim() {
        "" | "completa" => "completa",
        "breve" => "breve",
        "sintetica" => "sintetica",
        altro => return Err(BozzaNonValida::Ricevuta(altro.chars().take(40).collect())),
    };
    let mut m = MessageBuilder::new()
        .from(mittente)
        .to(a.iter().map(String::as_str).collect::<Vec<_>>())
        .subject(b.oggetto.trim())
        .message_id(message_id)
        .date(data.timestamp())
        .text_body(b.testo.replace("\r\n", "\n"));
    if !cc.is_empty() {
        m = m.cc(cc.iter().map(String::as_str).collect::<Vec<_>>());
    }
    if ricevuta != "completa" {
        m = m.header("X-TipoRicevuta", Raw::new(ricevuta));
    }
    for f in &b.allegati {
        let nome: String = f
            .nome
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        let tipo = match f.tipo.contains('/') && !f.tipo.contains(['\r', '\n']) {
            true => f.tipo.clone(),
            false => "application/octet-stream".into(),
        };
        m = m.attachment(tipo, nome, f.dati.clone());
    }
    let bytes = m
        .write_to_vec()
        .map_err(|e| BozzaNonValida::Indirizzo(e.to_string()))?;
    Ok((bytes, rcpt))
}

/// How a draft starts from a message the user has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modo {
    /// To its sender, quoting it.
    Rispondi,
    /// To whoever the user chooses, with its text and attachments.
    Inoltra,
}

/// The draft that answers or forwards `v` (for an envelope, the original inside it: the
/// sender is the certified one, from the daticert).
pub fn da_messaggio(v: &crate::vista::Vista, modo: Modo) -> Bozza {
    let o = v.originale.as_ref().unwrap_or(&v.esterno);
    let mittente = v
        .certificazione
        .as_ref()
        .map(|c| c.mittente.clone())
        .unwrap_or_else(|| o.da.clone());
    let con_prefisso = |p: &str| {
        let ogg = o.oggetto.trim();
        match ogg.get(..p.len()) {
            Some(inizio) if inizio.eq_ignore_ascii_case(p) => ogg.to_string(),
            _ => format!("{p} {ogg}"),
        }
    };
    match modo {
        Modo::Rispondi => {
            let citato: String = o.testo.lines().map(|l| format!("> {l}\n")).collect();
            Bozza {
                a: mittente.clone(),
                oggetto: con_prefisso("Re:"),
                testo: format!("\n\nIl {}, {mittente} ha scritto:\n{citato}", o.data),
                ..Bozza::default()
            }
        }
        Modo::Inoltra => Bozza {
            oggetto: con_prefisso("I:"),
            testo: format!(
                "\n\n---- Messaggio inoltrato ----\nDa: {mittente}\nData: {}\nOggetto: {}\nA: {}\n\n{}",
                o.data,
                o.oggetto,
                o.a.join(", "),
                o.testo
            ),
            ..Bozza::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_split_checked_and_lower_cased() {
        assert_eq!(
            indirizzi("Anna <Anna@PEC.b.it>; giulia@pec.a.it,\n").unwrap(),
            vec!["anna@pec.b.it", "giulia@pec.a.it"]
        );
        assert!(indirizzi("").unwrap().is_empty());
        for bad in [
            "anna",
            "a@b",
            "a b@c.it",
            "a@@c.it",
            "<script>@x.it",
            "a@.it",
        ] {
            assert!(indirizzi(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_draft_becomes_a_message_with_its_receipt_type_and_attachment() {
        let b = Bozza {
            a: "anna@pec.b.it".into(),
            cc: "giulia@pec.a.it, anna@pec.b.it".into(),
            oggetto: "Richiesta".into(),
            testo: "Buongiorno".into(),
            ricevuta: "breve".into(),
            allegati: vec![FileAllegato {
                nome: "C:\\docs\\domanda.pdf".into(),
                tipo: "application/pdf".into(),
                dati: b"%PDF-1.4".to_vec(),
            }],
        };
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let (raw, rcpt) = componi("mario@pec.a.it", &b, "w1@pec.a.it", t).unwrap();
        assert_eq!(rcpt, vec!["anna@pec.b.it", "giulia@pec.a.it"]);
        let m = mail_parser::MessageParser::new().parse(&raw).unwrap();
        assert_eq!(m.subject(), Some("Richiesta"));
        assert_eq!(m.header_raw("X-TipoRicevuta").map(str::trim), Some("breve"));
        assert_eq!(m.message_id(), Some("w1@pec.a.it"));
        let a = m.attachments().next().unwrap();
        use mail_parser::MimeHeaders as _;
        assert_eq!(a.attachment_name(), Some("domanda.pdf"));
        assert_eq!(a.contents(), b"%PDF-1.4");
        assert!(m.header_raw("Bcc").is_none());
    }

    #[test]
    fn a_draft_without_recipients_or_with_a_strange_receipt_is_refused() {
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let vuota = Bozza::default();
        assert_eq!(
            componi("m@x.it", &vuota, "i@x", t).unwrap_err(),
            BozzaNonValida::NessunDestinatario
        );
        let b = Bozza {
            a: "a@x.it".into(),
            ricevuta: "lunga".into(),
            ..Bozza::default()
        };
        assert!(matches!(
            componi("m@x.it", &b, "i@x", t),
            Err(BozzaNonValida::Ricevuta(_))
        ));
    }

    #[test]
    fn a_reply_goes_to_the_certified_sender_and_quotes_the_original() {
        let busta = crate::vista::vista(b"");
        let mut v = busta;
        v.originale = Some(crate::vista::Posta {
            da: "Mario <mario@pec.a.it>".into(),
            a: vec!["anna@pec.b.it".into()],
            oggetto: "Richiesta".into(),
            data: "03/12/2026 10:00".into(),
            testo: "riga uno\nriga due".into(),
            ..crate::vista::Posta::default()
        });
        let r = da_messaggio(&v, Modo::Rispondi);
        assert_eq!(r.a, "Mario <mario@pec.a.it>");
        assert_eq!(r.oggetto, "Re: Richiesta");
        assert!(r.testo.contains("> riga uno\n> riga due"), "{}", r.testo);
        let i = da_messaggio(&v, Modo::Inoltra);
        assert!(i.a.is_empty());
        assert_eq!(i.oggetto, "I: Richiesta");
        assert!(i.testo.contains("A: anna@pec.b.it") && i.testo.contains("riga due"));
        // Answering an answer does not pile prefixes up.
        v.originale.as_mut().unwrap().oggetto = "RE: Richiesta".into();
        assert_eq!(da_messaggio(&v, Modo::Rispondi).oggetto, "RE: Richiesta");
    }
}
