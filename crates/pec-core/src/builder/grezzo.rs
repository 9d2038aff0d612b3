//! The raw header block of a message, read without re-serialising anything.
//!
//! Envelopes must carry the original *unmodified* but for the msgid substitution (PEC-SPEC
//! §3.3) and inherit some headers *unchanged* (§4.1, §4.2): both are done on the bytes, so
//! folding, case and order stay as the client wrote them.

/// One header field as it lies in the raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Campo<'a> {
    /// The field name as written (no colon).
    pub nome: &'a str,
    /// Offset of the first byte of the field.
    pub inizio: usize,
    /// Offset just past the field's last line ending (continuation lines included).
    pub fine: usize,
    /// The value: everything after the colon, line ending of the last line excluded.
    pub valore: &'a [u8],
    /// Offset of the value's first byte (just past the colon).
    valore_da: usize,
}

impl Campo<'_> {
    /// True when the field has this name (case-insensitive, as on the wire: PEC-SPEC §3.4).
    pub fn e(&self, nome: &str) -> bool {
        self.nome.eq_ignore_ascii_case(nome)
    }

    /// The value as a header value for [`crate::UnsignedMessage::headers`]: leading blanks and
    /// folds dropped, folding line ends turned into CRLF (the value stays pre-folded, never
    /// unfolded), so every line break in it is CRLF followed by a blank.
    pub fn valore_crlf(&self) -> String {
        let testo = String::from_utf8_lossy(self.valore);
        let mut out = String::with_capacity(testo.len());
        for (i, riga) in testo.split('\n').enumerate() {
            if i > 0 {
                out.push_str("\r\n");
            }
            out.push_str(riga.strip_suffix('\r').unwrap_or(riga));
        }
        out.trim_start_matches([' ', '\t', '\r', '\n']).to_string()
    }
}

/// The header block of `raw`.
#[derive(Debug, Clone)]
pub(crate) struct Blocco<'a> {
    /// Every field, in order.
    pub campi: Vec<Campo<'a>>,
    /// Offset of the blank line that ends the block (`raw.len()` when there is none).
    pub fine: usize,
    /// The line ending the block uses, so added fields look like their neighbours.
    pub eol: &'static [u8],
}

impl<'a> Blocco<'a> {
    /// Splits the header block of `raw` into fields. Lines that are neither a field nor a
    /// continuation (no colon) become fields with an empty name, so nothing is ever lost.
    pub fn leggi(raw: &'a [u8]) -> Self {
        let mut campi: Vec<Campo<'a>> = Vec::new();
        let mut pos = 0;
        let mut eol: &'static [u8] = b"\r\n";
        let mut visto_eol = false;
        while pos < raw.len() {
            let (riga, prossima) = riga_a(raw, pos);
            if !visto_eol && prossima > riga.len() + pos {
                eol = if raw[pos + riga.len()..prossima].starts_with(b"\r\n") {
                    b"\r\n"
                } else {
                    b"\n"
                };
                visto_eol = true;
            }
            if riga.is_empty() {
                return Self {
                    campi,
                    fine: pos,
                    eol,
                };
            }
            let continuazione = matches!(riga[0], b' ' | b'\t');
            match campi.last_mut() {
                Some(ultimo) if continuazione => {
                    ultimo.fine = prossima;
                    ultimo.valore = &raw[ultimo.valore_da..pos + riga.len()];
                }
                _ => campi.push(campo(raw, pos, riga, prossima)),
            }
            pos = prossima;
        }
        Self {
            campi,
            fine: raw.len(),
            eol,
        }
    }

    /// Every field with this name, in order.
    pub fn tutti<'b>(&'b self, nome: &'b str) -> impl Iterator<Item = &'b Campo<'a>> + 'b {
        self.campi.iter().filter(move |c| c.e(nome))
    }

    /// The first field with this name.
    pub fn primo(&self, nome: &str) -> Option<&Campo<'a>> {
        self.campi.iter().find(|c| c.e(nome))
    }
}

/// The header block of `raw` alone, closed by a blank line: what a parser needs to read the
/// headers of a large message without walking its body.
pub(crate) fn sola_testata(raw: &[u8]) -> Vec<u8> {
    let fine = Blocco::leggi(raw).fine;
    let mut testa = raw[..fine].to_vec();
    testa.extend_from_slice(b"\r\n\r\n");
    testa
}

/// The line starting at `pos` without its line ending, and the offset of the next line.
fn riga_a(raw: &[u8], pos: usize) -> (&[u8], usize) {
    match raw[pos..].iter().position(|&b| b == b'\n') {
        Some(n) => {
            let riga = &raw[pos..pos + n];
            (riga.strip_suffix(b"\r").unwrap_or(riga), pos + n + 1)
        }
        None => (&raw[pos..], raw.len()),
    }
}

fn campo<'a>(raw: &'a [u8], pos: usize, riga: &'a [u8], prossima: usize) -> Campo<'a> {
    match riga.iter().position(|&b| b == b':') {
        Some(n) => Campo {
            nome: std::str::from_utf8(&riga[..n]).map_or("", str::trim_end),
            inizio: pos,
            fine: prossima,
            valore: &raw[pos + n + 1..pos + riga.len()],
            valore_da: pos + n + 1,
        },
        None => Campo {
            nome: "",
            inizio: pos,
            fine: prossima,
            valore: riga,
            valore_da: pos,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_folded_fields_and_the_end_of_block() {
        let raw = b"Received: from a\r\n\tby b\r\nSubject: x\r\n\r\nbody\r\n";
        let b = Blocco::leggi(raw);
        assert_eq!(b.campi.len(), 2);
        assert_eq!(b.campi[0].valore_crlf(), "from a\r\n\tby b");
        assert_eq!(
            b.primo("subject").map(|c| c.valore_crlf()),
            Some("x".into())
        );
        assert_eq!(&raw[b.fine..], b"\r\nbody\r\n");
        assert_eq!(b.eol, b"\r\n");
    }

    #[test]
    fn bare_lf_blocks_are_read_too() {
        let raw = b"To: a@b\n  c@d\nSubject: y\n\nbody";
        let b = Blocco::leggi(raw);
        assert_eq!(b.eol, b"\n");
        assert_eq!(
            b.primo("TO").map(|c| c.valore_crlf()),
            Some("a@b\r\n  c@d".into())
        );
        assert_eq!(b.campi[1].fine, b.fine);
    }

    #[test]
    fn a_value_starting_on_a_continuation_line_starts_there() {
        let b = Blocco::leggi(b"Message-ID:\n <x@y>\n\n");
        assert_eq!(b.campi[0].valore_crlf(), "<x@y>");
    }

    #[test]
    fn a_block_without_body_ends_at_the_end() {
        let raw = b"Subject: only headers";
        let b = Blocco::leggi(raw);
        assert_eq!(b.fine, raw.len());
        assert_eq!(b.campi[0].valore, b" only headers");
    }
}
