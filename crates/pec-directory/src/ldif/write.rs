//! The LDIF writer: strict RFC 2849 output, every line folded at 76 columns.

use base64::Engine as _;

/// Column at which output lines are folded (the customary width; RFC 2849 allows any).
const FOLD: usize = 76;

/// Accumulates LDIF text, one attribute line at a time.
#[derive(Debug, Default)]
pub(crate) struct LdifWriter {
    out: String,
}

impl LdifWriter {
    /// Writes `name: value`, or `name:: base64` when the value is not a SAFE-STRING.
    pub(crate) fn text(&mut self, name: &str, value: &str) {
        if is_safe_string(value) {
            self.line(&format!("{name}: {value}"));
        } else {
            self.binary(name, value.as_bytes());
        }
    }

    /// Writes `name:: base64` (always base64, for binary values such as certificates).
    pub(crate) fn binary(&mut self, name: &str, value: &[u8]) {
        let encoded = base64::engine::general_purpose::STANDARD.encode(value);
        self.line(&format!("{name}:: {encoded}"));
    }

    /// Ends the current record with a blank line.
    pub(crate) fn end_record(&mut self) {
        self.out.push('\n');
    }

    /// Writes a raw line (e.g. `version: 1`).
    pub(crate) fn raw(&mut self, line: &str) {
        self.line(line);
    }

    /// The text written so far.
    pub(crate) fn finish(self) -> String {
        self.out
    }

    /// Appends `line`, folded: the first physical line holds [`FOLD`] bytes, each continuation
    /// a space and `FOLD - 1` bytes.
    fn line(&mut self, line: &str) {
        let mut rest = line;
        let mut width = FOLD;
        loop {
            let cut = floor_char_boundary(rest, width);
            // A non-ASCII char wider than the room left: never loop without progress.
            let cut = if cut == 0 {
                rest.chars().next().map_or(0, char::len_utf8)
            } else {
                cut
            };
            let (head, tail) = rest.split_at(cut);
            self.out.push_str(head);
            self.out.push('\n');
            if tail.is_empty() {
                break;
            }
            self.out.push(' ');
            rest = tail;
            width = FOLD - 1;
        }
    }
}

fn floor_char_boundary(s: &str, index: usize) -> usize {
    if index >= s.len() {
        return s.len();
    }
    (0..=index)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0)
}

/// RFC 2849 `SAFE-STRING`: ASCII without NUL, LF, CR; not starting with space, `:` or `<`.
/// We also refuse a trailing space, which many readers would trim.
fn is_safe_string(value: &str) -> bool {
    let bytes = value.as_bytes();
    let safe_char = |b: &u8| matches!(b, 0x01..=0x09 | 0x0B..=0x0C | 0x0E..=0x7F);
    bytes.iter().all(safe_char)
        && !matches!(bytes.first(), Some(b' ' | b':' | b'<'))
        && !bytes.ends_with(b" ")
}

/// Escapes an attribute value for use inside a DN (RFC 4514 §2.4).
pub(crate) fn escape_dn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            ' ' | '#' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            ' ' if i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_folded_at_76_columns() {
        let mut w = LdifWriter::default();
        let value = "x".repeat(200);
        w.text("description", &value);
        let text = w.finish();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() > 2);
        assert!(lines.iter().all(|l| l.len() <= FOLD), "{lines:?}");
        assert!(lines[1..].iter().all(|l| l.starts_with(' ')));
        let unfolded: String = lines
            .iter()
            .enumerate()
            .map(|(i, l)| if i == 0 { *l } else { &l[1..] })
            .collect();
        assert_eq!(unfolded, format!("description: {value}"));
    }

    #[test]
    fn unsafe_values_are_written_base64() {
        for value in [" leading", ":colon", "<less", "trailing ", "caffè", "a\nb"] {
            let mut w = LdifWriter::default();
            w.text("description", value);
            assert!(w.finish().starts_with("description:: "), "{value:?}");
        }
        let mut w = LdifWriter::default();
        w.text("description", "Aruba PEC S.p.A.");
        assert_eq!(w.finish(), "description: Aruba PEC S.p.A.\n");
    }

    #[test]
    fn dn_values_are_escaped() {
        assert_eq!(escape_dn_value("Foo, S.p.A."), "Foo\\, S.p.A.");
        assert_eq!(escape_dn_value(" a+b "), "\\ a\\+b\\ ");
        assert_eq!(escape_dn_value("#x=y"), "\\#x\\=y");
    }
}
