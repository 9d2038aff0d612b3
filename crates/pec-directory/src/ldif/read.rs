//! The LDIF reader: physical lines → logical (unfolded) lines → records.
//!
//! Two small stages, each bounded by [`Limits`]: [`Unfolder`] joins continuation lines and
//! drops comments; [`Records`] turns logical lines into [`Entry`]s. Line numbers are the
//! physical line where a logical line starts.

use base64::Engine as _;

use super::{Attribute, Entry, Limits};
use crate::error::{LdifError, LdifErrorKind};

/// Parses an LDIF content text with the default [`Limits`].
pub fn parse(input: &[u8]) -> Result<Vec<Entry>, LdifError> {
    parse_with_limits(input, &Limits::default())
}

/// Parses an LDIF content text (RFC 2849) into its records, refusing the whole text on the
/// first error. See the [module documentation](super) for what is accepted.
pub fn parse_with_limits(input: &[u8], limits: &Limits) -> Result<Vec<Entry>, LdifError> {
    if input.len() > limits.max_input {
        return Err(LdifError {
            line: 0,
            kind: LdifErrorKind::InputTooLarge {
                size: input.len() as u64,
                limit: limits.max_input as u64,
            },
        });
    }
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let mut records = Records::new(limits);
    let mut unfolder = Unfolder::new(limits);
    for (index, raw) in input.split(|&b| b == b'\n').enumerate() {
        let number = index + 1;
        if number > limits.max_lines {
            return Err(err(
                number,
                LdifErrorKind::TooManyLines {
                    limit: limits.max_lines,
                },
            ));
        }
        let physical = raw.strip_suffix(b"\r").unwrap_or(raw);
        for event in unfolder.push(number, physical)? {
            records.handle(event)?;
        }
    }
    if let Some(event) = unfolder.finish() {
        records.handle(event)?;
    }
    records.finish()
}

fn err(line: usize, kind: LdifErrorKind) -> LdifError {
    LdifError { line, kind }
}

/// What the unfolder hands to the record builder.
#[derive(Debug)]
enum Event {
    /// A complete logical line (comments are never emitted).
    Line { number: usize, text: Vec<u8> },
    /// A blank line: the end of a record, if one is open.
    Blank,
}

/// The logical line being assembled.
enum Pending {
    None,
    Comment,
    Line { number: usize, text: Vec<u8> },
}

/// Joins folded lines (RFC 2849 note 2: a line starting with exactly one space continues the
/// previous line, the space dropped) and drops `#` comments, including their continuations.
struct Unfolder {
    pending: Pending,
    max_line: usize,
}

impl Unfolder {
    fn new(limits: &Limits) -> Self {
        Unfolder {
            pending: Pending::None,
            max_line: limits.max_line,
        }
    }

    /// Feeds one physical line (without its line end); returns up to two events.
    fn push(&mut self, number: usize, physical: &[u8]) -> Result<Vec<Event>, LdifError> {
        if let Some(rest) = physical.strip_prefix(b" ") {
            return match &mut self.pending {
                Pending::None => Err(err(number, LdifErrorKind::OrphanContinuation)),
                Pending::Comment => Ok(Vec::new()),
                Pending::Line {
                    number: start,
                    text,
                } => {
                    if text.len() + rest.len() > self.max_line {
                        return Err(err(
                            *start,
                            LdifErrorKind::LineTooLong {
                                limit: self.max_line,
                            },
                        ));
                    }
                    text.extend_from_slice(rest);
                    Ok(Vec::new())
                }
            };
        }
        let mut events: Vec<Event> = self.finish().into_iter().collect();
        if physical.is_empty() {
            events.push(Event::Blank);
        } else if physical.starts_with(b"#") {
            self.pending = Pending::Comment;
        } else {
            if physical.len() > self.max_line {
                return Err(err(
                    number,
                    LdifErrorKind::LineTooLong {
                        limit: self.max_line,
                    },
                ));
            }
            self.pending = Pending::Line {
                number,
                text: physical.to_vec(),
            };
        }
        Ok(events)
    }

    /// Emits the logical line in progress, if any.
    fn finish(&mut self) -> Option<Event> {
        match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::Line { number, text } => Some(Event::Line { number, text }),
            Pending::None | Pending::Comment => None,
        }
    }
}

/// Builds records from logical lines.
struct Records<'l> {
    limits: &'l Limits,
    /// `version:` is still allowed (nothing but comments and blank lines seen so far).
    version_allowed: bool,
    open: Option<Entry>,
    done: Vec<Entry>,
}

impl<'l> Records<'l> {
    fn new(limits: &'l Limits) -> Self {
        Records {
            limits,
            version_allowed: true,
            open: None,
            done: Vec::new(),
        }
    }

    fn handle(&mut self, event: Event) -> Result<(), LdifError> {
        match event {
            Event::Blank => self.close(),
            Event::Line { number, text } => self.line(number, &text),
        }
    }

    fn line(&mut self, number: usize, text: &[u8]) -> Result<(), LdifError> {
        let (name, options, value) = split_line(number, text)?;
        let version_allowed = std::mem::replace(&mut self.version_allowed, false);
        let Some(entry) = self.open.as_mut() else {
            if name.eq_ignore_ascii_case("version") {
                if !version_allowed {
                    return Err(err(number, LdifErrorKind::MisplacedVersion));
                }
                let version = String::from_utf8_lossy(&value).trim().to_string();
                if version != "1" || !options.is_empty() {
                    return Err(err(number, LdifErrorKind::UnsupportedVersion(version)));
                }
                return Ok(());
            }
            if !name.eq_ignore_ascii_case("dn") || !options.is_empty() {
                return Err(err(number, LdifErrorKind::MissingDn));
            }
            let dn = String::from_utf8(value).map_err(|_| err(number, LdifErrorKind::DnNotUtf8))?;
            self.open = Some(Entry {
                line: number,
                dn,
                attributes: Vec::new(),
            });
            return Ok(());
        };
        if name.eq_ignore_ascii_case("dn") {
            return Err(err(number, LdifErrorKind::RepeatedDn));
        }
        if name.eq_ignore_ascii_case("changetype") || name.eq_ignore_ascii_case("control") {
            return Err(err(number, LdifErrorKind::ChangeRecord));
        }
        if entry.attributes.len() >= self.limits.max_attributes {
            let limit = self.limits.max_attributes;
            return Err(err(number, LdifErrorKind::TooManyAttributes { limit }));
        }
        entry.attributes.push(Attribute {
            name,
            options,
            value,
        });
        Ok(())
    }

    /// Ends the open record, if any (blank line or end of input).
    fn close(&mut self) -> Result<(), LdifError> {
        let Some(entry) = self.open.take() else {
            return Ok(());
        };
        if entry.attributes.is_empty() {
            return Err(err(entry.line, LdifErrorKind::EmptyRecord));
        }
        if self.done.len() >= self.limits.max_records {
            let limit = self.limits.max_records;
            return Err(err(entry.line, LdifErrorKind::TooManyRecords { limit }));
        }
        self.done.push(entry);
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<Entry>, LdifError> {
        self.close()?;
        Ok(self.done)
    }
}

/// Splits `AttributeDescription value-spec` (RFC 2849 `attrval-spec`) into name, options and
/// the decoded value.
fn split_line(number: usize, text: &[u8]) -> Result<(String, Vec<String>, Vec<u8>), LdifError> {
    let colon = text
        .iter()
        .position(|&b| b == b':')
        .ok_or_else(|| err(number, LdifErrorKind::MissingColon))?;
    let (name, options) = attribute_description(&text[..colon]).ok_or_else(|| {
        let shown = String::from_utf8_lossy(&text[..colon.min(64)]).into_owned();
        err(number, LdifErrorKind::InvalidAttributeDescription(shown))
    })?;
    let spec = &text[colon + 1..];
    let value = match spec.first() {
        Some(b':') => {
            let encoded = trim_spaces(&spec[1..]);
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| err(number, LdifErrorKind::InvalidBase64))?
        }
        Some(b'<') => return Err(err(number, LdifErrorKind::UrlValue)),
        _ => {
            let start = spec.iter().position(|&b| b != b' ').unwrap_or(spec.len());
            let value = &spec[start..];
            if value.iter().any(|&b| b == 0 || b == b'\r') {
                return Err(err(number, LdifErrorKind::UnsafeValue));
            }
            value.to_vec()
        }
    };
    Ok((name, options, value))
}

/// Drops leading and trailing spaces (FILL before, stray padding after a base64 value).
fn trim_spaces(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != b' ').unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(start, |e| e + 1);
    &bytes[start..end.max(start)]
}

/// RFC 2849: `AttributeDescription = AttributeType [";" options]`, `AttributeType = ldap-oid /
/// (ALPHA *(attr-type-chars))`, `options = option / (option ";" options)`,
/// `option = 1*opt-char`, `attr-type-chars = ALPHA / DIGIT / "-"`.
fn attribute_description(bytes: &[u8]) -> Option<(String, Vec<String>)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut parts = text.split(';');
    let name = parts.next()?;
    if !(is_descr(name) || is_numeric_oid(name)) {
        return None;
    }
    let mut options = Vec::new();
    for option in parts {
        if option.is_empty() || !option.bytes().all(is_attr_type_char) {
            return None;
        }
        options.push(option.to_string());
    }
    Some((name.to_string(), options))
}

fn is_attr_type_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

fn is_descr(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic()) && bytes.all(is_attr_type_char)
}

fn is_numeric_oid(name: &str) -> bool {
    !name.is_empty()
        && name
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests;
