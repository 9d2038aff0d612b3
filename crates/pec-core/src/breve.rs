//! The *breve* copy of an original: attachments replaced by their SHA-1 (PEC-SPEC §6).
//!
//! The copy keeps the MIME tree and every byte of the original except the replaced parts,
//! which are spliced out by offset: nothing else is decoded or re-encoded, because the hash
//! only means something over the bytes as transmitted (§6, §9.2).
//!
//! Replaced: every part with a `name` parameter (`Content-Type`) or a `filename` parameter
//! (`Content-Disposition`), and every `message/rfc822` part, whole. In a `multipart/signed`
//! original only the first (signed) part is walked and the signature part is kept; an opaque
//! `application/pkcs7-mime` original is returned unchanged; a single-part original is returned
//! unchanged too (its only part is the message itself).
//!
//! Choices the spec leaves open (§6 "Unknowns", §11.9), all **UNCONFIRMED**:
//! * the hash is SHA-1 over the part's body exactly as transmitted: the raw bytes between the
//!   blank line after the part's headers and the line break before the next boundary line;
//! * written as 40 lower-case hexadecimal digits, with no trailing newline (the line break
//!   that follows belongs to the boundary delimiter);
//! * the replacement part's headers are `Content-Type: text/plain; charset=us-ascii;
//!   name="<name>.hash"`, `Content-Disposition: <original disposition type, else attachment>;
//!   filename="<name>.hash"` and `Content-Transfer-Encoding: 7bit`, with the line ending the
//!   original part used; `<name>` is the filename, else the name, else `messaggio.eml` for an
//!   unnamed `message/rfc822` part;
//! * inline parts with a filename are replaced like any other.

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};
use sha1::{Digest, Sha1};

/// Deepest MIME nesting walked; deeper parts are left as they are.
const PROFONDITA_MAX: usize = 64;

/// Why no breve copy can be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreveError {
    /// The original is empty or has no header block.
    #[error("the original is not a MIME message")]
    NonAnalizzabile,
}

/// The breve copy of `originale` (the `postacert.eml` of the envelope), see the module docs.
pub fn copia_breve(originale: &[u8]) -> Result<Vec<u8>, BreveError> {
    let msg = MessageParser::default()
        .parse(originale)
        .ok_or(BreveError::NonAnalizzabile)?;
    let Some(radice) = msg.parts.first() else {
        return Err(BreveError::NonAnalizzabile);
    };
    if cms_opaco(radice) {
        return Ok(originale.to_vec()); // PEC-SPEC §6: nothing can be replaced
    }
    let mut tagli = Vec::new();
    visita(&msg, 0, 0, originale, &mut tagli);
    tagli.sort_by_key(|t| t.inizio);
    let mut out = Vec::with_capacity(originale.len());
    let mut pos = 0;
    for t in tagli {
        if t.inizio < pos {
            continue; // overlapping offsets from a malformed tree: keep the first
        }
        out.extend_from_slice(&originale[pos..t.inizio]);
        out.extend_from_slice(&t.testo);
        pos = t.fine;
    }
    out.extend_from_slice(&originale[pos..]);
    Ok(out)
}

/// Lower-case hex SHA-1 of `corpo` (PEC-SPEC §6).
pub fn hash_parte(corpo: &[u8]) -> String {
    hex::encode(Sha1::digest(corpo))
}

/// One replacement: the bytes `inizio..fine` of the original become `testo`.
struct Taglio {
    inizio: usize,
    fine: usize,
    testo: Vec<u8>,
}

fn visita(msg: &Message<'_>, id: usize, profondita: usize, raw: &[u8], tagli: &mut Vec<Taglio>) {
    let Some(parte) = msg.parts.get(id) else {
        return;
    };
    if profondita > PROFONDITA_MAX {
        return;
    }
    if let PartType::Multipart(figli) = &parte.body {
        let firmato = parte.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("signed"))
        });
        // PEC-SPEC §6: in multipart/signed only the signed content is walked.
        let figli = if firmato {
            &figli[..figli.len().min(1)]
        } else {
            &figli[..]
        };
        for &f in figli {
            visita(msg, f as usize, profondita + 1, raw, tagli);
        }
        return;
    }
    if id == 0 {
        return; // a single-part original: its only part is the message itself
    }
    let messaggio = matches!(parte.body, PartType::Message(_))
        || parte.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("message")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("rfc822"))
        });
    let nome = nome_parte(parte);
    if !messaggio && nome.is_none() {
        return;
    }
    let (inizio, corpo, fine) = (
        parte.raw_header_offset() as usize,
        parte.raw_body_offset() as usize,
        parte.raw_end_offset() as usize,
    );
    let Some(corpo_grezzo) = raw.get(corpo..fine) else {
        return;
    };
    if inizio > corpo {
        return;
    }
    let nome = nome.unwrap_or_else(|| "messaggio.eml".to_string());
    let eol: &[u8] = if raw[..corpo].ends_with(b"\r\n") {
        b"\r\n"
    } else {
        b"\n"
    };
    let disposizione = parte
        .content_disposition()
        .map(|d| d.ctype().to_ascii_lowercase())
        .filter(|d| d == "inline" || d == "attachment")
        .unwrap_or_else(|| "attachment".to_string());
    let nome_hash = format!("{nome}.hash");
    let mut testo = Vec::with_capacity(200);
    for riga in [
        format!(
            "Content-Type: text/plain; charset=us-ascii; {}",
            parametro("name", &nome_hash)
        ),
        format!(
            "Content-Disposition: {disposizione}; {}",
            parametro("filename", &nome_hash)
        ),
        "Content-Transfer-Encoding: 7bit".to_string(),
        String::new(),
    ] {
        testo.extend_from_slice(riga.as_bytes());
        testo.extend_from_slice(eol);
    }
    testo.extend_from_slice(hash_parte(corpo_grezzo).as_bytes()); // PEC-SPEC §6
    tagli.push(Taglio {
        inizio,
        fine,
        testo,
    });
}

/// `filename` of Content-Disposition, else `name` of Content-Type (PEC-SPEC §6).
fn nome_parte(parte: &MessagePart<'_>) -> Option<String> {
    parte
        .content_disposition()
        .and_then(|d| d.attribute("filename"))
        .or_else(|| parte.content_type().and_then(|c| c.attribute("name")))
        .map(str::to_string)
}

fn cms_opaco(parte: &MessagePart<'_>) -> bool {
    parte.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("application")
            && ct.subtype().is_some_and(|s| {
                s.eq_ignore_ascii_case("pkcs7-mime") || s.eq_ignore_ascii_case("x-pkcs7-mime")
            })
    })
}

/// `name="value"`, or RFC 2231 `name*=utf-8''…` when the value is not plain ASCII.
fn parametro(nome: &str, valore: &str) -> String {
    let semplice = valore
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if semplice {
        return format!("{nome}=\"{valore}\"");
    }
    let mut codificato = String::with_capacity(valore.len() * 3);
    for b in valore.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            codificato.push(char::from(b));
        } else {
            codificato.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{nome}*=utf-8''{codificato}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF_B64: &str = "JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFt\r\nCnRlc3QKZW5kc3RyZWFtCmVuZG9iago=";

    fn originale() -> Vec<u8> {
        format!(
            "From: a@pec.it\r\n\
To: b@pec.it\r\n\
Subject: allegati\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"XX\"\r\n\
\r\n\
--XX\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Testo del messaggio.\r\n\
--XX\r\n\
Content-Type: application/pdf; name=\"fattura.pdf\"\r\n\
Content-Disposition: attachment; filename=\"fattura.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
{PDF_B64}\r\n\
--XX\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
From: c@d.it\r\n\
Subject: inoltrato\r\n\
\r\n\
corpo inoltrato\r\n\
--XX--\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn attachment_hash_is_sha1_of_the_exact_base64_text() {
        let copia = String::from_utf8(copia_breve(&originale()).unwrap()).unwrap();
        let atteso = hash_parte(PDF_B64.as_bytes());
        assert_eq!(atteso.len(), 40);
        assert!(atteso
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        let parte = format!(
            "--XX\r\nContent-Type: text/plain; charset=us-ascii; name=\"fattura.pdf.hash\"\r\n\
Content-Disposition: attachment; filename=\"fattura.pdf.hash\"\r\n\
Content-Transfer-Encoding: 7bit\r\n\r\n{atteso}\r\n--XX\r\n"
        );
        assert!(copia.contains(&parte), "{copia}");
        assert!(!copia.contains("JVBERi0x"));
    }

    #[test]
    fn nested_message_is_replaced_whole_and_text_is_kept() {
        let raw = originale();
        let copia = String::from_utf8(copia_breve(&raw).unwrap()).unwrap();
        let inoltrato = "From: c@d.it\r\nSubject: inoltrato\r\n\r\ncorpo inoltrato";
        assert!(!copia.contains("corpo inoltrato"));
        assert!(copia.contains(&format!(
            "filename=\"messaggio.eml.hash\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{}\r\n--XX--\r\n",
            hash_parte(inoltrato.as_bytes())
        )));
        let testo = "--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nTesto del messaggio.\r\n--XX\r\n";
        assert!(copia.contains(testo));
        assert!(copia.starts_with("From: a@pec.it\r\nTo: b@pec.it\r\nSubject: allegati\r\n"));
        // The copy is still a MIME message with the same tree.
        let m = MessageParser::default().parse(copia.as_bytes()).unwrap();
        assert_eq!(m.parts.len(), 4);
        assert_eq!(
            m.attachment(0).and_then(|p| p.attachment_name()),
            Some("fattura.pdf.hash")
        );
    }

    #[test]
    fn signed_originals_keep_the_signature_part() {
        let raw = b"From: a@pec.it\r\n\
Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=\"SS\"\r\n\
\r\n\
--SS\r\n\
Content-Type: multipart/mixed; boundary=\"MM\"\r\n\
\r\n\
--MM\r\n\
Content-Type: text/plain\r\n\
\r\n\
ciao\r\n\
--MM\r\n\
Content-Type: application/octet-stream; name=\"a.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
AAEC\r\n\
--MM--\r\n\
\r\n\
--SS\r\n\
Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
MIIB\r\n\
--SS--\r\n";
        let copia = String::from_utf8(copia_breve(raw).unwrap()).unwrap();
        assert!(copia.contains("name=\"a.bin.hash\""));
        assert!(copia.contains(&hash_parte(b"AAEC")));
        assert!(copia
            .contains("name=\"smime.p7s\"\r\nContent-Transfer-Encoding: base64\r\n\r\nMIIB\r\n"));
        assert!(!copia.contains("smime.p7s.hash"));
    }

    #[test]
    fn opaque_cms_and_single_part_originals_are_unchanged() {
        let cms = b"From: a@pec.it\r\nContent-Type: application/pkcs7-mime; name=\"smime.p7m\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nMIIB\r\n";
        assert_eq!(copia_breve(cms).unwrap(), cms.to_vec());
        let semplice = b"From: a@pec.it\r\nSubject: x\r\n\r\nsolo testo\r\n";
        assert_eq!(copia_breve(semplice).unwrap(), semplice.to_vec());
    }

    #[test]
    fn lf_originals_get_lf_replacements_and_utf8_names_rfc2231() {
        let raw = "From: a@pec.it\nContent-Type: multipart/mixed; boundary=B\n\n--B\n\
Content-Type: text/plain\n\nciao\n--B\n\
Content-Type: application/pdf; name=\"citt\u{e0}.pdf\"\n\nPDF\n--B--\n";
        let copia = String::from_utf8(copia_breve(raw.as_bytes()).unwrap()).unwrap();
        assert!(
            copia.contains("name*=utf-8''citt%C3%A0.pdf.hash\n"),
            "{copia}"
        );
        assert!(!copia.contains('\r'));
        assert!(copia.contains(&format!("\n\n{}\n--B--\n", hash_parte(b"PDF"))));
    }

    #[test]
    fn garbage_is_an_error() {
        assert_eq!(copia_breve(b""), Err(BreveError::NonAnalizzabile));
    }
}
