//! The signed entity: `multipart/mixed` with the human text, `daticert.xml` and
//! `postacert.eml` (PEC-SPEC §3.1).
//!
//! Everything here is CRLF (the S/MIME canonical form) and 7-bit safe except a
//! `postacert.eml` that already carried 8-bit bytes. Boundaries are derived from a seed (the
//! kind and the Message-ID) by SHA-1, so the same inputs give the same bytes; a candidate that
//! occurs anywhere in the content is skipped for the next one.

use super::testo::Testo;
use super::BuildError;
use base64::Engine as _;
use sha1::{Digest, Sha1};

/// Base64 and quoted-printable line length (RFC 2045 §6.7, §6.8).
const RIGA_CODIFICATA: usize = 76;

/// Longest line SMTP and RFC 5322 allow, CRLF excluded.
const RIGA_MAX: usize = 998;

/// How many boundary candidates to try before giving up (only crafted content gets past one).
const TENTATIVI: u32 = 64;

/// The parts of one generated message, before assembly.
pub(crate) struct Parti<'a> {
    /// Seed of the boundaries: kind name and Message-ID.
    pub seme: String,
    /// The human text (PEC-SPEC §3.1).
    pub testo: &'a Testo,
    /// `daticert.xml`, absent only on the anomaly envelope (PEC-SPEC §4.2).
    pub daticert: Option<&'a str>,
    /// The message to attach as `postacert.eml`, where the kind carries one (§4.12).
    pub postacert: Option<&'a [u8]>,
}

/// Builds the whole signed entity: `Content-Type` header, blank line, body.
pub(crate) fn assembla(p: &Parti<'_>) -> Result<Vec<u8>, BuildError> {
    let testo = p.testo.plain();
    // PEC-SPEC §3.1: ISO-8859-1, as providers write it, when the text fits; UTF-8 when a
    // subject or an address holds anything else (€, curly quotes, dashes), so nothing
    // becomes `?` (issue 12).
    let charset = if in_latin1(&testo) {
        "iso-8859-1"
    } else {
        "utf-8"
    };
    let codifica = |t: &str| match charset {
        "utf-8" => t.as_bytes().to_vec(),
        _ => latin1(t),
    };
    let plain = quoted_printable(&codifica(&testo));
    let html = quoted_printable(&codifica(&p.testo.html(charset)));
    let daticert = p.daticert.map(|x| base64_righe(x.as_bytes()));
    let postacert = p.postacert.map(normalizza_eml);
    let mut corpi: Vec<&[u8]> = vec![&plain, &html];
    corpi.extend(daticert.as_deref());
    corpi.extend(postacert.as_ref().map(|(b, _)| b.as_slice()));

    let alt = confine(&format!("{}/alternative", p.seme), &corpi, None)?;
    let mixed = confine(&format!("{}/mixed", p.seme), &corpi, Some(&alt))?;

    let mut out = Vec::with_capacity(corpi.iter().map(|c| c.len()).sum::<usize>() + 1024);
    intestazione(
        &mut out,
        "Content-Type",
        &format!("multipart/mixed; boundary=\"{mixed}\""),
    );
    out.extend_from_slice(b"\r\nThis is a multi-part message in MIME format.\r\n");

    apri(&mut out, &mixed);
    intestazione(
        &mut out,
        "Content-Type",
        &format!("multipart/alternative; boundary=\"{alt}\""),
    );
    out.extend_from_slice(b"\r\n");
    for (tipo, corpo) in [("text/plain", &plain), ("text/html", &html)] {
        apri(&mut out, &alt);
        let ct = format!("{tipo}; charset=\"{charset}\""); // PEC-SPEC §3.1
        intestazione(&mut out, "Content-Type", &ct);
        intestazione(&mut out, "Content-Transfer-Encoding", "quoted-printable");
        corpo_parte(&mut out, corpo);
    }
    chiudi(&mut out, &alt);

    if let Some(x) = &daticert {
        apri(&mut out, &mixed);
        intestazione(
            &mut out,
            "Content-Type",
            "application/xml; name=\"daticert.xml\"",
        ); // §3.1
        intestazione(
            &mut out,
            "Content-Disposition",
            "inline; filename=\"daticert.xml\"",
        );
        intestazione(&mut out, "Content-Transfer-Encoding", "base64");
        corpo_parte(&mut out, x);
    }
    if let Some((eml, cte)) = &postacert {
        apri(&mut out, &mixed);
        intestazione(
            &mut out,
            "Content-Type",
            "message/rfc822; name=\"postacert.eml\"",
        ); // §3.1
        intestazione(
            &mut out,
            "Content-Disposition",
            "inline; filename=\"postacert.eml\"",
        );
        intestazione(&mut out, "Content-Transfer-Encoding", cte);
        corpo_parte(&mut out, eml);
    }
    chiudi(&mut out, &mixed);
    Ok(out)
}

fn intestazione(out: &mut Vec<u8>, nome: &str, valore: &str) {
    out.extend_from_slice(nome.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(valore.as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn apri(out: &mut Vec<u8>, confine: &str) {
    out.extend_from_slice(b"\r\n--");
    out.extend_from_slice(confine.as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn chiudi(out: &mut Vec<u8>, confine: &str) {
    out.extend_from_slice(b"\r\n--");
    out.extend_from_slice(confine.as_bytes());
    out.extend_from_slice(b"--\r\n");
}

/// Blank line, then the body. The CRLF that follows belongs to the next delimiter
/// (RFC 2046 §5.1.1), so a body ending in CRLF keeps it.
fn corpo_parte(out: &mut Vec<u8>, corpo: &[u8]) {
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(corpo);
}

/// The first boundary derived from `seme` that occurs in no body (nor in `altro`, the other
/// boundary, so neither delimiter can be read as the other).
fn confine(seme: &str, corpi: &[&[u8]], altro: Option<&str>) -> Result<String, BuildError> {
    for n in 0..TENTATIVI {
        let mut h = Sha1::new();
        h.update(seme.as_bytes());
        h.update(n.to_be_bytes());
        let hex = hex::encode(h.finalize());
        // "=_" never occurs in quoted-printable or base64 output, so only postacert can clash.
        let candidato = format!("=_pec_{}", &hex[..32]);
        let libero = corpi.iter().all(|c| !contiene(c, candidato.as_bytes()))
            && altro.is_none_or(|a| !a.contains(&candidato) && !candidato.contains(a));
        if libero {
            return Ok(candidato);
        }
    }
    Err(BuildError::Boundary)
}

/// Whether `ago` occurs in `pagliaio` (memchr's substring search: this runs over every body
/// of every message built, once per candidate boundary).
pub(crate) fn contiene(pagliaio: &[u8], ago: &[u8]) -> bool {
    !ago.is_empty() && memchr::memmem::find(pagliaio, ago).is_some()
}

/// Whether every character of `testo` is in ISO-8859-1.
fn in_latin1(testo: &str) -> bool {
    testo.chars().all(|c| u32::from(c) <= 0xff)
}

/// The text as ISO-8859-1 bytes; characters outside Latin-1 become `?` (PEC-SPEC §3.1).
pub(crate) fn latin1(testo: &str) -> Vec<u8> {
    testo
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

/// Quoted-printable (RFC 2045 §6.7): lines of at most 76 characters with soft breaks, CRLF
/// hard breaks for the text's line ends, trailing blanks encoded.
pub(crate) fn quoted_printable(testo: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(testo.len() * 11 / 10 + 16);
    let righe: Vec<&[u8]> = testo.split(|&b| b == b'\n').collect();
    for (i, riga) in righe.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        let riga = riga.strip_suffix(b"\r").unwrap_or(riga);
        let mut colonna = 0;
        for (j, &b) in riga.iter().enumerate() {
            let ultimo = j + 1 == riga.len();
            let letterale =
                matches!(b, 33..=60 | 62..=126) || (matches!(b, b' ' | b'\t') && !ultimo);
            let larghezza = if letterale { 1 } else { 3 };
            // Leave room for the "=" of a soft break.
            if colonna + larghezza > RIGA_CODIFICATA - 1
                && !(ultimo && colonna + larghezza <= RIGA_CODIFICATA)
            {
                out.extend_from_slice(b"=\r\n");
                colonna = 0;
            }
            if letterale {
                out.push(b);
            } else {
                out.extend_from_slice(format!("={b:02X}").as_bytes());
            }
            colonna += larghezza;
        }
    }
    out
}

/// Base64 in lines of 76 characters joined by CRLF.
pub(crate) fn base64_righe(dati: &[u8]) -> Vec<u8> {
    let testo = base64::engine::general_purpose::STANDARD.encode(dati);
    let mut out = Vec::with_capacity(testo.len() + testo.len() / RIGA_CODIFICATA * 2 + 2);
    for (i, riga) in testo.as_bytes().chunks(RIGA_CODIFICATA).enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(riga);
    }
    out
}

/// The original as the body of a `message/rfc822` part, with its transfer encoding.
///
/// Line ends become CRLF (bare LF or CR included) so the whole entity is canonical; no other
/// byte changes. `7bit` when all ASCII, `8bit` with 8-bit bytes, `binary` if a line is over
/// 998 octets (RFC 2046 §5.2.1 allows only these three; such lines were already illegal).
pub(crate) fn normalizza_eml(raw: &[u8]) -> (Vec<u8>, &'static str) {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40);
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if raw.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    let lunga = out
        .split(|&b| b == b'\n')
        .any(|r| r.strip_suffix(b"\r").unwrap_or(r).len() > RIGA_MAX);
    let cte = if lunga {
        "binary"
    } else if out.iter().any(|&b| b >= 0x80) {
        "8bit"
    } else {
        "7bit"
    };
    (out, cte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qp_keeps_lines_short_and_encodes_latin1() {
        let testo = latin1(&format!("{}\nè stato — ok \n", "parola ".repeat(30)));
        let qp = quoted_printable(&testo);
        let s = String::from_utf8(qp.clone()).unwrap();
        for riga in s.split("\r\n") {
            assert!(riga.len() <= 76, "{riga:?}");
        }
        assert!(s.contains("=E8 stato ? ok=20"), "{s}");
        assert!(!s.contains('\u{fffd}'));
    }

    #[test]
    fn qp_round_trips_through_mail_parser() {
        let testo = format!("{}\r\nriga due è\r\n", "x".repeat(200));
        let qp = quoted_printable(&latin1(&testo));
        let mut raw = b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n".to_vec();
        raw.extend_from_slice(&qp);
        let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(m.body_text(0).unwrap(), testo);
    }

    #[test]
    fn eml_line_ends_become_crlf_and_cte_follows_content() {
        assert_eq!(
            normalizza_eml(b"a\nb\r\nc\rd"),
            (b"a\r\nb\r\nc\r\nd".to_vec(), "7bit")
        );
        assert_eq!(normalizza_eml("è\n".as_bytes()).1, "8bit");
        assert_eq!(normalizza_eml(&[b'x'; 1200]).1, "binary");
    }

    #[test]
    fn boundaries_are_deterministic_and_avoid_the_content() {
        let a = confine("seme", &[b"abc"], None).unwrap();
        assert_eq!(a, confine("seme", &[b"abc"], None).unwrap());
        let trappola = format!("x--{a}--y");
        let b = confine("seme", &[trappola.as_bytes()], None).unwrap();
        assert_ne!(a, b);
        assert!(!trappola.contains(&b));
    }
}
