//! What the webmail shows of a stored message, read from its bytes: a row of a folder list,
//! and the message page. For a busta di trasporto the page is about the original inside it
//! (the most common complaint about PEC in mail clients: "only the envelope is shown"), with
//! the daticert fields as the certification panel; a receipt is shown as what it certifies;
//! a busta di anomalia is marked as not certified.
//!
//! Pure functions over bytes: whatever a stored message holds (broken MIME, unknown
//! charsets, 8-bit headers), they return something readable, never an error.

use chrono::{DateTime, Utc};
use mail_parser::{MessageParser, MimeHeaders as _};
use pec_core::daticert::Daticert;
use pec_core::inspect::{classify, inspect};
use pec_core::MessageKind;

/// A row of a folder's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Riga {
    /// IMAP UID.
    pub uid: u32,
    /// When it was stored, Europe/Rome.
    pub data: String,
    /// Who it is from: for a PEC message, the original sender ("Per conto di").
    pub mittente: String,
    /// The subject, without the PEC prefix of the kind.
    pub oggetto: String,
    /// What it is (Busta di trasporto, Ricevuta di avvenuta consegna…).
    pub tipo: String,
    /// Without `\Seen`.
    pub nuovo: bool,
    /// A busta di trasporto or a receipt (anything signed by a provider for PEC).
    pub certificato: bool,
    /// For a busta di trasporto: its PEC msgid (the envelope's Message-ID), to track it.
    pub identificativo: Option<String>,
}

/// Date and time in Italy, as Italians write them.
pub fn ora_italiana(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Europe::Rome)
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

/// The list row of a stored message, from its headers only.
pub fn riga(uid: u32, ricevuto: DateTime<Utc>, flags: &[String], bytes: &[u8]) -> Riga {
    let parsed = MessageParser::new().parse_headers(bytes);
    let header = |n: &str| {
        parsed
            .as_ref()
            .and_then(|m| m.header_raw(n))
            .map(|v| v.trim().to_string())
    };
    let kind = classify(
        header("X-Trasporto").as_deref(),
        header("X-Ricevuta").as_deref(),
        header("X-VerificaSicurezza").is_some(),
        None,
    );
    let oggetto = parsed
        .as_ref()
        .and_then(|m| m.subject())
        .unwrap_or("")
        .to_string();
    let oggetto = match kind.subject_prefix() {
        Some(p) => match oggetto.strip_prefix(p) {
            Some(resto) => resto.trim_start_matches(':').trim().to_string(),
            None => oggetto,
        },
        None => oggetto,
    };
    let mittente = match kind {
        // The envelope's From is the provider "per conto di" the sender; Reply-To is the
        // sender.
        MessageKind::BustaTrasporto | MessageKind::BustaAnomalia => {
            header("Reply-To").or_else(|| header("From"))
        }
        _ => header("From"),
    }
    .unwrap_or_default();
    Riga {
        uid,
        data: ora_italiana(ricevuto),
        mittente: testo_sicuro(&mittente),
        oggetto: if oggetto.is_empty() {
            "(senza oggetto)".into()
        } else {
            testo_sicuro(&oggetto)
        },
        tipo: match kind {
            // Which delivery receipt it is, is in the daticert, which the list does not read:
            // the header says it when present.
            MessageKind::ConsegnaCompleta
            | MessageKind::ConsegnaBreve
            | MessageKind::ConsegnaSintetica => match header("X-TipoRicevuta")
                .map(|t| t.to_ascii_lowercase())
                .as_deref()
            {
                Some(t @ ("completa" | "breve" | "sintetica")) => {
                    format!("Ricevuta di avvenuta consegna {t}")
                }
                _ => "Ricevuta di avvenuta consegna".into(),
            },
            _ => maiuscola(kind.descrizione()),
        },
        nuovo: !flags.iter().any(|f| f.eq_ignore_ascii_case("\\Seen")),
        certificato: !matches!(kind, MessageKind::Ordinaria | MessageKind::BustaAnomalia),
        identificativo: match kind {
            MessageKind::BustaTrasporto => parsed
                .as_ref()
                .and_then(|m| m.message_id())
                .map(str::to_string),
            _ => None,
        },
    }
}

/// A recipient's status as the pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatoDestinatario {
    /// The address.
    pub indirizzo: String,
    /// Its status, in words.
    pub stato: &'static str,
    /// A CSS class for it (`ok`, `ko`, `attesa`, `avviso`).
    pub classe: &'static str,
    /// Every step: (Europe/Rome time, words).
    pub passi: Vec<(String, String)>,
}

/// "Stato dell'invio" of a sent message, from its log events.
pub fn stato_invio(eventi: &[pec_core::registro::Evento]) -> (Vec<StatoDestinatario>, bool) {
    use pec_core::stato::Stato;
    let s = pec_core::stato::stato_invio(eventi);
    let mut in_corso = false;
    let righe = s
        .destinatari
        .into_iter()
        .map(|d| {
            in_corso |= !d.stato.finale();
            StatoDestinatario {
                classe: match d.stato {
                    Stato::Consegnato => "ok",
                    Stato::NonConsegnato | Stato::Virus | Stato::Avviso24h => "ko",
                    Stato::Avviso12h => "avviso",
                    Stato::InAttesa | Stato::PresoInCarico => "attesa",
                },
                stato: d.stato.etichetta(),
                passi: d
                    .passi
                    .into_iter()
                    .map(|p| (ora_italiana(p.data.utc()), p.descrizione))
                    .collect(),
                indirizzo: testo_sicuro(&d.indirizzo),
            }
        })
        .collect();
    (righe, in_corso)
}

/// Whether every word of `parole` (lower case) is in the message: subject, sender,
/// recipients and text, of the original for an envelope (what the user reads).
pub fn corrisponde(bytes: &[u8], parole: &[String]) -> bool {
    if parole.is_empty() {
        return true;
    }
    let v = vista(bytes);
    let o = v.originale.as_ref().unwrap_or(&v.esterno);
    let mut testo = format!(
        "{}\n{}\n{}\n{}\n{}",
        o.oggetto,
        o.da,
        o.a.join(" "),
        o.cc.join(" "),
        o.testo
    );
    if let Some(c) = &v.certificazione {
        testo.push('\n');
        testo.push_str(&c.mittente);
        testo.push('\n');
        testo.push_str(&c.destinatari.join(" "));
    }
    let testo = testo.to_lowercase();
    parole.iter().all(|p| testo.contains(p.as_str()))
}

/// An attachment of the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allegato {
    /// Its position among the attachments (the download link's index).
    pub indice: usize,
    /// File name (or a made-up one).
    pub nome: String,
    /// MIME type.
    pub tipo: String,
    /// Bytes.
    pub dimensione: usize,
}

/// A message as mail: headers and text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Posta {
    /// From.
    pub da: String,
    /// To.
    pub a: Vec<String>,
    /// Cc.
    pub cc: Vec<String>,
    /// Subject.
    pub oggetto: String,
    /// Date as written.
    pub data: String,
    /// The text (an HTML part turned into text: no markup of the sender reaches the page).
    pub testo: String,
    /// Attachments.
    pub allegati: Vec<Allegato>,
}

/// The certification panel: the daticert fields, in Italian.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificazione {
    /// Kind of the certified event.
    pub tipo: String,
    /// Sender.
    pub mittente: String,
    /// Recipients, each with "certificato" or "esterno".
    pub destinatari: Vec<String>,
    /// Subject.
    pub oggetto: String,
    /// The provider that issued it.
    pub gestore: String,
    /// Date and time of the event, as the daticert gives them.
    pub data: String,
    /// The PEC msgid.
    pub identificativo: String,
    /// The recipient delivered to, for a delivery receipt.
    pub consegna: Option<String>,
    /// The error, when not `nessuno`.
    pub errore: Option<String>,
}

/// The message page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vista {
    /// What it is.
    pub tipo: String,
    /// The message as stored (envelope or receipt headers, its own text).
    pub esterno: Posta,
    /// For a busta di trasporto or di anomalia: the original inside it.
    pub originale: Option<Posta>,
    /// The daticert fields, when it has a readable daticert.
    pub certificazione: Option<Certificazione>,
    /// A busta di anomalia: not certified mail.
    pub anomalia: bool,
}

/// The message page of stored `bytes`.
pub fn vista(bytes: &[u8]) -> Vista {
    let esterno = posta(bytes);
    let Ok(ins) = inspect(bytes) else {
        return Vista {
            tipo: maiuscola(MessageKind::Ordinaria.descrizione()),
            esterno,
            originale: None,
            certificazione: None,
            anomalia: false,
        };
    };
    let originale = match ins.kind {
        MessageKind::BustaTrasporto | MessageKind::BustaAnomalia => {
            ins.postacert.as_deref().map(posta)
        }
        _ => None,
    };
    let certificazione = match &ins.daticert {
        Some(Ok(d)) => Some(certificazione(d)),
        _ => None,
    };
    Vista {
        tipo: maiuscola(ins.kind.descrizione()),
        esterno,
        originale,
        certificazione,
        anomalia: ins.kind == MessageKind::BustaAnomalia,
    }
}

/// The bytes of attachment `indice` of the original (or of the message itself when it wraps
/// none): its file name, type and content.
pub fn allegato(bytes: &[u8], indice: usize) -> Option<(String, String, Vec<u8>)> {
    let ins = inspect(bytes).ok();
    let interno = ins
        .and_then(|i| match i.kind {
            MessageKind::BustaTrasporto | MessageKind::BustaAnomalia => i.postacert,
            _ => None,
        })
        .unwrap_or_else(|| bytes.to_vec());
    let m = MessageParser::new().parse(&interno)?;
    let a = m.attachments().nth(indice)?;
    Some((
        nome_allegato(a, indice),
        tipo_allegato(a),
        a.contents().to_vec(),
    ))
}

fn posta(bytes: &[u8]) -> Posta {
    let Some(m) = MessageParser::new().parse(bytes) else {
        return Posta {
            testo: testo_sicuro(&String::from_utf8_lossy(bytes)),
            ..Posta::default()
        };
    };
    let indirizzi = |a: Option<&mail_parser::Address<'_>>| -> Vec<String> {
        a.map(|a| {
            a.iter()
                .map(|x| {
                    let addr = x.address().unwrap_or_default();
                    match x.name() {
                        Some(n) if !n.is_empty() => format!("{n} <{addr}>"),
                        _ => addr.to_string(),
                    }
                })
                .map(|s| testo_sicuro(&s))
                .collect()
        })
        .unwrap_or_default()
    };
    let allegati = m
        .attachments()
        .enumerate()
        .map(|(i, a)| Allegato {
            indice: i,
            nome: nome_allegato(a, i),
            tipo: tipo_allegato(a),
            dimensione: a.contents().len(),
        })
        .collect();
    Posta {
        da: indirizzi(m.from()).join(", "),
        a: indirizzi(m.to()),
        cc: indirizzi(m.cc()),
        oggetto: testo_sicuro(m.subject().unwrap_or("")),
        // In Italian time, whatever zone the sender's client wrote.
        data: m
            .date()
            .and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0))
            .map(ora_italiana)
            .unwrap_or_default(),
        testo: testo_sicuro(&m.body_text(0).unwrap_or_default()),
        allegati,
    }
}

fn nome_allegato(a: &mail_parser::MessagePart<'_>, i: usize) -> String {
    let nome = a
        .attachment_name()
        .map(str::to_string)
        .unwrap_or_else(|| format!("allegato-{}", i + 1));
    // A name is shown and offered as a file name: no path, no control characters.
    let nome: String = nome
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .collect();
    if nome.is_empty() {
        format!("allegato-{}", i + 1)
    } else {
        nome
    }
}

fn tipo_allegato(a: &mail_parser::MessagePart<'_>) -> String {
    a.content_type()
        .map(|c| match c.subtype() {
            Some(s) => format!("{}/{s}", c.ctype()),
            None => c.ctype().to_string(),
        })
        .unwrap_or_else(|| "application/octet-stream".into())
}

fn certificazione(d: &Daticert) -> Certificazione {
    let destinatari = d
        .intestazione
        .destinatari
        .iter()
        .map(|x| testo_sicuro(&format!("{} ({})", x.indirizzo, x.tipo.as_str())))
        .collect();
    let errore = match d.errore.as_str() {
        "nessuno" => None,
        e => Some(match &d.dati.errore_esteso {
            Some(x) => format!("{e}: {x}"),
            None => e.to_string(),
        }),
    };
    Certificazione {
        tipo: d.tipo.as_str().to_string(),
        mittente: testo_sicuro(&d.intestazione.mittente),
        destinatari,
        oggetto: testo_sicuro(d.intestazione.oggetto.as_deref().unwrap_or("")),
        gestore: testo_sicuro(&d.dati.gestore_emittente),
        data: format!(
            "{} {} ({})",
            d.dati.data.giorno(),
            d.dati.data.ora(),
            d.dati.data.zona()
        ),
        identificativo: testo_sicuro(&d.dati.identificativo),
        consegna: d.dati.consegna.as_deref().map(testo_sicuro),
        errore: errore.map(|e| testo_sicuro(&e)),
    }
}

/// The proofs of a sent message as a ZIP: each stored message (`(key, bytes)`: the envelope,
/// the acceptance, every receipt and notice) as an `.eml` named by what it is, and
/// `stato-dell-invio.txt` with each recipient's status and steps.
pub fn archivio(
    identificativo: &str,
    parti: &[(String, Vec<u8>)],
    stati: &[StatoDestinatario],
) -> zip::result::ZipResult<Vec<u8>> {
    use std::io::Write as _;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opzioni =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (i, (chiave, bytes)) in parti.iter().enumerate() {
        // What it is, from the key's last part (`sent`, `accettazione`, `consegna:<who>`…).
        let cosa = chiave
            .split_once(&format!(":{identificativo}:"))
            .map(|(_, c)| c)
            .unwrap_or("messaggio");
        let cosa = match cosa {
            "sent" => "busta-di-trasporto".to_string(),
            c => c
                .chars()
                .map(|ch| {
                    if ch.is_ascii_alphanumeric() || ch == '-' || ch == '.' {
                        ch
                    } else {
                        '_'
                    }
                })
                .collect(),
        };
        z.start_file(format!("{:02}-{cosa}.eml", i + 1), opzioni)?;
        z.write_all(bytes)?;
    }
    let mut testo = format!("Stato dell'invio del messaggio {identificativo}\r\n");
    for d in stati {
        testo.push_str(&format!("\r\n{}: {}\r\n", d.indirizzo, d.stato));
        for (quando, cosa) in &d.passi {
            testo.push_str(&format!("  {quando}  {cosa}\r\n"));
        }
    }
    z.start_file("stato-dell-invio.txt", opzioni)?;
    z.write_all(testo.as_bytes())?;
    Ok(z.finish()?.into_inner())
}

/// `s` with its first letter in capitals, as a label starts.
fn maiuscola(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Text as it will be shown: control characters other than line breaks and tabs removed
/// (the templates escape markup; this keeps terminal and bidi tricks out).
fn testo_sicuro(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .filter(|c| !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn an_ordinary_row_keeps_its_subject_and_sender_and_rome_time() {
        let m = b"From: Anna <anna@x.it>\r\nSubject: =?utf-8?q?Citt=C3=A0?=\r\n\r\nciao\r\n";
        let r = riga(7, t(), &["\\Seen".into()], m);
        assert_eq!(r.uid, 7);
        assert_eq!(r.oggetto, "Città");
        assert_eq!(r.mittente, "Anna <anna@x.it>");
        assert_eq!(r.data, "14/11/2023 23:13");
        assert!(!r.nuovo);
        assert!(!r.certificato);
    }

    #[test]
    fn an_envelope_row_shows_the_original_sender_and_subject() {
        let m = b"From: \"Per conto di: mario@pec.a.it\" <posta-certificata@pec.a.it>\r\n\
Reply-To: mario@pec.a.it\r\nX-Trasporto: posta-certificata\r\n\
Subject: POSTA CERTIFICATA: Richiesta\r\n\r\n";
        let r = riga(1, t(), &[], m);
        assert_eq!(r.oggetto, "Richiesta");
        assert_eq!(r.mittente, "mario@pec.a.it");
        assert!(r.nuovo && r.certificato);
        assert_eq!(r.tipo, "Busta di trasporto");
    }

    #[test]
    fn broken_bytes_still_give_a_row_and_a_page() {
        let junk = b"\xff\xfe\x00Subject: \x1b[31m\r\n\r\n\x00\x01";
        let r = riga(1, t(), &[], junk);
        assert!(!r.oggetto.contains('\x1b'));
        let v = vista(junk);
        assert!(v.originale.is_none() && v.certificazione.is_none());
        let v = vista(b"");
        assert!(!v.anomalia);
    }

    #[test]
    fn an_attachment_name_is_a_bare_file_name() {
        let m = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\ntesto\r\n--b\r\n\
Content-Type: application/pdf\r\n\
Content-Disposition: attachment; filename=\"../../etc/pa\\\"ss\"\r\n\r\nPDF\r\n--b--\r\n";
        let v = vista(m);
        assert_eq!(v.esterno.allegati.len(), 1);
        let a = &v.esterno.allegati[0];
        assert!(!a.nome.contains('/') && !a.nome.contains('"'), "{}", a.nome);
        assert_eq!(a.tipo, "application/pdf");
        let (nome, tipo, bytes) = allegato(m, 0).unwrap();
        assert_eq!(
            (nome.as_str(), tipo.as_str()),
            (a.nome.as_str(), "application/pdf")
        );
        assert_eq!(bytes, b"PDF");
        assert!(allegato(m, 1).is_none());
    }

    #[test]
    fn search_looks_at_subject_people_and_text_of_the_original() {
        let m = b"From: Anna <anna@x.it>\r\nTo: ufficio@comune.it\r\nSubject: Istanza\r\n\r\nRichiedo il certificato\r\n";
        let w = |s: &str| {
            s.split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        };
        assert!(corrisponde(m, &w("istanza")));
        assert!(corrisponde(m, &w("ANNA certificato")));
        assert!(corrisponde(m, &w("comune.it")));
        assert!(!corrisponde(m, &w("istanza rifiuto")));
        assert!(corrisponde(m, &[]));
    }
}
