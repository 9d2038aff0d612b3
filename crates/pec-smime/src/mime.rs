//! Just enough MIME (RFC 2045/2046) to find an S/MIME structure and the exact bytes it signs.
//!
//! Works on bytes, accepts LF or CRLF line ends (even mixed), folded headers, quoted or bare
//! parameters in any case. It never copies a body: parts are slices of the input. Malformed
//! header lines are skipped, as mail readers do; a multipart without its closing delimiter is
//! an error, because a truncated signed message must not look complete.

use memchr::memmem;

/// An entity split at its first empty line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entity<'a> {
    /// The header block, without the empty line.
    pub headers: &'a [u8],
    /// Everything after the empty line.
    pub body: &'a [u8],
}

/// Splits `raw` into header block and body. Without an empty line, all of it is headers.
pub(crate) fn split_entity(raw: &[u8]) -> Entity<'_> {
    let mut start = 0;
    while start < raw.len() {
        let end = memchr::memchr(b'\n', &raw[start..]).map_or(raw.len(), |i| start + i + 1);
        let line = &raw[start..end];
        if line == b"\n" || line == b"\r\n" {
            return Entity {
                headers: &raw[..start],
                body: &raw[end..],
            };
        }
        start = end;
    }
    Entity {
        headers: raw,
        body: &[],
    }
}

/// The unfolded value of the first header called `name` (case-insensitive).
pub(crate) fn header(headers: &[u8], name: &str) -> Option<String> {
    let mut lines = headers.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let field = trim_end(&line[..colon]);
        if !field.eq_ignore_ascii_case(name.as_bytes()) {
            continue;
        }
        let mut value = trim_cr(&line[colon + 1..]).to_vec();
        while let Some(next) = lines.next_if(|l| matches!(l.first(), Some(b' ' | b'\t'))) {
            value.extend_from_slice(trim_cr(next));
        }
        return Some(String::from_utf8_lossy(&value).trim().to_string());
    }
    None
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim_end(s: &[u8]) -> &[u8] {
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &s[..end]
}

/// A parsed `Content-Type`: lower-case `type/subtype` and parameters (lower-case names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContentType {
    /// `type/subtype`, lower case.
    pub mime: String,
    params: Vec<(String, String)>,
}

impl ContentType {
    /// A parameter's value by case-insensitive name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a `Content-Type` value (RFC 2045 §5.1, with comments); `None` when there is no
/// `type/subtype`. Malformed parameters end the parameter list.
pub(crate) fn parse_content_type(value: &str) -> Option<ContentType> {
    let mut s = Scanner {
        chars: value.as_bytes(),
        pos: 0,
    };
    s.skip_cfws();
    let main = s.token()?;
    s.skip_cfws();
    if !s.eat(b'/') {
        return None;
    }
    s.skip_cfws();
    let sub = s.token()?;
    let mime = format!("{main}/{sub}").to_ascii_lowercase();
    let mut params = Vec::new();
    loop {
        s.skip_cfws();
        if !s.eat(b';') {
            break;
        }
        s.skip_cfws();
        let Some(name) = s.token() else {
            // Tolerate a trailing or doubled ';'.
            if s.peek() == Some(b';') {
                continue;
            }
            break;
        };
        s.skip_cfws();
        if !s.eat(b'=') {
            break;
        }
        s.skip_cfws();
        let value = if s.peek() == Some(b'"') {
            s.quoted()?
        } else {
            s.token()?
        };
        params.push((name.to_ascii_lowercase(), value));
    }
    Some(ContentType { mime, params })
}

struct Scanner<'a> {
    chars: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.chars.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Skips whitespace and (nested) comments.
    fn skip_cfws(&mut self) {
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            match c {
                b'(' => depth += 1,
                b')' if depth > 0 => depth -= 1,
                b'\\' if depth > 0 => self.pos += 1,
                c if depth == 0 && !c.is_ascii_whitespace() => return,
                _ => {}
            }
            self.pos += 1;
        }
    }

    /// An RFC 2045 token; `None` when empty.
    fn token(&mut self) -> Option<String> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c <= b' ' || c >= 0x7f || b"()<>@,;:\\\"/[]?=".contains(&c) {
                break;
            }
            self.pos += 1;
        }
        (self.pos > start).then(|| String::from_utf8_lossy(&self.chars[start..self.pos]).into())
    }

    /// A quoted string, unescaped; `None` when unterminated.
    fn quoted(&mut self) -> Option<String> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let c = self.peek()?;
            self.pos += 1;
            match c {
                b'"' => return Some(String::from_utf8_lossy(&out).into()),
                b'\\' => {
                    out.push(self.peek()?);
                    self.pos += 1;
                }
                c => out.push(c),
            }
        }
    }
}

/// The `Content-Type` of an entity's header block.
pub(crate) fn content_type(headers: &[u8]) -> Option<ContentType> {
    header(headers, "Content-Type").and_then(|v| parse_content_type(&v))
}

/// Why a multipart body could not be split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MultipartError {
    /// No delimiter line at all.
    NoDelimiter,
    /// The closing delimiter is missing (truncated message).
    Unterminated,
    /// More parts than the caller allows.
    TooManyParts,
}

/// Splits a multipart body into the exact bytes of its parts (RFC 2046 §5.1.1): the line
/// break before a delimiter belongs to the delimiter. Fails as soon as a part beyond
/// `max_parts` starts, so a hostile body cannot make it work for long.
pub(crate) fn split_multipart<'a>(
    body: &'a [u8],
    boundary: &str,
    max_parts: usize,
) -> Result<Vec<&'a [u8]>, MultipartError> {
    let mut dash = Vec::with_capacity(boundary.len() + 2);
    dash.extend_from_slice(b"--");
    dash.extend_from_slice(boundary.as_bytes());
    let finder = memmem::Finder::new(&dash);
    let mut parts = Vec::new();
    // Start of the current part's content, once the first delimiter has been seen.
    let mut open: Option<usize> = None;
    let mut from = 0;
    while let Some(i) = finder.find(&body[from..]) {
        let at = from + i;
        from = at + dash.len();
        if at > 0 && body[at - 1] != b'\n' {
            continue;
        }
        let after = &body[at + dash.len()..];
        let close = after.starts_with(b"--");
        let skip = if close { 2 } else { 0 };
        let rest = &after[skip..];
        let line_end = memchr::memchr(b'\n', rest);
        let padding = &rest[..line_end.unwrap_or(rest.len())];
        if !padding.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            // Not a delimiter: the boundary is a prefix of something longer.
            continue;
        }
        if let Some(start) = open {
            let mut end = at;
            if end > start && body[end - 1] == b'\n' {
                end -= 1;
                if end > start && body[end - 1] == b'\r' {
                    end -= 1;
                }
            }
            parts.push(&body[start..end]);
            if parts.len() >= max_parts && !close {
                return Err(MultipartError::TooManyParts);
            }
        }
        if close {
            return if open.is_some() {
                Ok(parts)
            } else {
                Err(MultipartError::NoDelimiter)
            };
        }
        let next = at + dash.len() + skip;
        let start = line_end.map_or(body.len(), |e| next + e + 1);
        open = Some(start);
        from = start.max(from);
    }
    if open.is_some() {
        Err(MultipartError::Unterminated)
    } else {
        Err(MultipartError::NoDelimiter)
    }
}

/// The bytes with every bare LF turned into CRLF (the S/MIME canonical form, RFC 5751 §3.1.1).
pub(crate) fn to_crlf(data: &[u8]) -> Vec<u8> {
    let bare = bare_lf_count(data);
    let mut out = Vec::with_capacity(data.len() + bare);
    if bare == 0 {
        out.extend_from_slice(data);
        return out;
    }
    let mut last = 0;
    for i in memchr::memchr_iter(b'\n', data) {
        out.extend_from_slice(&data[last..i]);
        if i == 0 || data[i - 1] != b'\r' {
            out.push(b'\r');
        }
        out.push(b'\n');
        last = i + 1;
    }
    out.extend_from_slice(&data[last..]);
    out
}

/// How many LF bytes are not preceded by CR.
pub(crate) fn bare_lf_count(data: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', data)
        .filter(|&i| i == 0 || data[i - 1] != b'\r')
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_parameters_in_any_form() {
        let ct = parse_content_type(
            "Multipart/Signed; PROTOCOL=\"application/x-pkcs7-signature\" (c);\r\n\tmicalg=sha1; boundary=abc\\\"",
        );
        let ct = ct.unwrap();
        assert_eq!(ct.mime, "multipart/signed");
        assert_eq!(ct.param("protocol"), Some("application/x-pkcs7-signature"));
        assert_eq!(ct.param("Micalg"), Some("sha1"));
        assert_eq!(ct.param("boundary"), Some("abc"));
        let quoted = parse_content_type("multipart/mixed; boundary=\"a\\\"b c\"").unwrap();
        assert_eq!(quoted.param("boundary"), Some("a\"b c"));
        assert!(parse_content_type("garbage").is_none());
    }

    #[test]
    fn folded_headers_and_lf_files() {
        let raw = b"Subject: x\nContent-Type: multipart/signed;\n  boundary=\"b\"\n\nbody";
        let e = split_entity(raw);
        assert_eq!(e.body, b"body");
        let ct = content_type(e.headers).unwrap();
        assert_eq!(ct.param("boundary"), Some("b"));
    }

    #[test]
    fn parts_exclude_the_line_break_before_a_delimiter() {
        let body = b"pre\r\n--b\r\nA\r\n\r\n--bx\r\n--b  \r\nB\r\n--b--\r\nepilogue";
        let parts = split_multipart(body, "b", 2).unwrap();
        assert_eq!(parts, vec![&b"A\r\n\r\n--bx"[..], &b"B"[..]]);
        let lf = b"--b\nA\n--b\nB\n--b--\n";
        assert_eq!(
            split_multipart(lf, "b", 2).unwrap(),
            vec![&b"A"[..], &b"B"[..]]
        );
        assert_eq!(
            split_multipart(b"--b\r\nA\r\n--b\r\nB", "b", 2),
            Err(MultipartError::Unterminated)
        );
        assert_eq!(
            split_multipart(b"no delimiters", "b", 2),
            Err(MultipartError::NoDelimiter)
        );
    }

    #[test]
    fn canonical_line_ends() {
        assert_eq!(to_crlf(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
        assert_eq!(to_crlf(b"\n"), b"\r\n");
        assert_eq!(bare_lf_count(b"a\r\nb"), 0);
    }
}
