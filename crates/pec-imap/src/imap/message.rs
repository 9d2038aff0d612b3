//! A stored message seen through IMAP: body sections as byte ranges of the stored bytes
//! (never re-encoded), and ENVELOPE / BODYSTRUCTURE built with mail-parser.
//!
//! Nested `message/rfc822` parts are parsed again from their own bytes rather than through
//! mail-parser's nested offsets, so every range is a plain slice of the original. Nesting
//! deeper than [`MAX_DEPTH`] is served as an opaque part.

use std::num::NonZeroU32;
use std::ops::Range;

use imap_next::imap_types::body::{
    BasicFields, Body, BodyStructure, Disposition, MultiPartExtensionData, SinglePartExtensionData,
    SpecificFields,
};
use imap_next::imap_types::core::{IString, Literal, NString, Vec1};
use imap_next::imap_types::envelope::{Address as ImapAddress, Envelope};
use imap_next::imap_types::fetch::Section;
use mail_parser::{Address, Message, MessageParser, MessagePart, MimeHeaders, PartType};

const MAX_DEPTH: usize = 8;

/// Where the header ends and the body starts (after the empty line), or the end.
pub(super) fn body_start(raw: &[u8]) -> usize {
    let mut i = 0;
    while i < raw.len() {
        if raw[i..].starts_with(b"\r\n") {
            return i + 2;
        }
        if raw[i] == b'\n' {
            return i + 1;
        }
        match raw[i..].iter().position(|b| *b == b'\n') {
            Some(at) => i += at + 1,
            None => return raw.len(),
        }
    }
    raw.len()
}

/// The header fields of a header block, each with its continuation lines: (name, whole field).
fn fields(block: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut out: Vec<(&[u8], &[u8])> = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < block.len() {
        let end = block[i..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(block.len(), |at| i + at + 1);
        let line = &block[i..end];
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        if !continuation && i > start {
            push_field(&mut out, &block[start..i]);
            start = i;
        }
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        i = end;
    }
    if i > start {
        push_field(&mut out, &block[start..i.min(block.len())]);
    }
    out
}

fn push_field<'a>(out: &mut Vec<(&'a [u8], &'a [u8])>, field: &'a [u8]) {
    if let Some(colon) = field.iter().position(|b| *b == b':') {
        out.push((trim(&field[..colon]), field));
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// The unfolded value of the first header `name`, if any.
pub(super) fn header_value(block: &[u8], name: &str) -> Option<String> {
    fields(block)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(n, field)| {
            let value = &field[n.len()..];
            let value = value.iter().skip_while(|b| **b != b':').skip(1);
            let unfolded: Vec<u8> = value
                .copied()
                .filter(|b| *b != b'\r' && *b != b'\n')
                .collect();
            String::from_utf8_lossy(trim(&unfolded)).into_owned()
        })
}

/// HEADER.FIELDS / HEADER.FIELDS.NOT: the chosen fields as stored, then the empty line.
fn filter_fields(block: &[u8], names: &[&[u8]], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, field) in fields(block) {
        let listed = names.iter().any(|n| n.eq_ignore_ascii_case(name));
        if listed != not {
            out.extend_from_slice(field);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// A MIME part located in the stored bytes.
#[derive(Debug, Clone)]
struct Located {
    /// The part's MIME header.
    header: Range<usize>,
    /// The part's body.
    body: Range<usize>,
    /// The part is `message/rfc822` (its body is a whole message).
    rfc822: bool,
}

fn located(part: &MessagePart<'_>, base: usize, len: usize) -> Located {
    let clamp = |x: u32| (x as usize).min(len) + base;
    let (h, b, e) = (
        clamp(part.offset_header),
        clamp(part.offset_body),
        clamp(part.offset_end),
    );
    Located {
        header: h..b.max(h),
        body: b..e.max(b),
        rfc822: matches!(part.body, PartType::Message(_)),
    }
}

/// Finds part `path` (1-based numbers, RFC 3501 §6.4.5) of the message in `raw[base..]`.
fn locate(raw: &[u8], base: usize, path: &[NonZeroU32], depth: usize) -> Option<Located> {
    if depth > MAX_DEPTH {
        return None;
    }
    let bytes = &raw[base..];
    let message = MessageParser::default().parse(bytes)?;
    let mut current = 0usize;
    for (i, n) in path.iter().enumerate() {
        let index = n.get() as usize - 1;
        let part = message.parts.get(current)?;
        match &part.body {
            PartType::Multipart(children) => {
                current = *children.get(index)? as usize;
            }
            PartType::Message(_) if current != 0 => {
                let inner = located(part, base, bytes.len());
                return locate(raw, inner.body.start, &path[i..], depth + 1)
                    .filter(|_| inner.body.end <= raw.len());
            }
            // A single-part message: its only part is 1.
            _ if current == 0 && index == 0 => {}
            _ => return None,
        }
    }
    message
        .parts
        .get(current)
        .map(|p| located(p, base, bytes.len()))
}

/// The bytes of a BODY[section]; `None` when the part does not exist.
pub(super) fn section(raw: &[u8], section: Option<&Section<'_>>) -> Option<Vec<u8>> {
    let whole_header =
        |start: usize, end: usize| -> Range<usize> { start..start + body_start(&raw[start..end]) };
    // The message a HEADER/TEXT section applies to: the whole one, or a message/rfc822 part.
    let message_of = |part: Option<&imap_next::imap_types::fetch::Part>| -> Option<Range<usize>> {
        match part {
            None => Some(0..raw.len()),
            Some(p) => {
                let loc = locate(raw, 0, p.0.as_ref(), 0)?;
                loc.rfc822.then_some(loc.body)
            }
        }
    };
    match section {
        None => Some(raw.to_vec()),
        Some(Section::Part(p)) => {
            let loc = locate(raw, 0, p.0.as_ref(), 0)?;
            Some(raw[loc.body].to_vec())
        }
        Some(Section::Mime(p)) => {
            let loc = locate(raw, 0, p.0.as_ref(), 0)?;
            Some(raw[loc.header].to_vec())
        }
        Some(Section::Header(p)) => {
            let m = message_of(p.as_ref())?;
            Some(raw[whole_header(m.start, m.end)].to_vec())
        }
        Some(Section::Text(p)) => {
            let m = message_of(p.as_ref())?;
            let h = whole_header(m.start, m.end);
            Some(raw[h.end..m.end].to_vec())
        }
        Some(Section::HeaderFields(p, names)) | Some(Section::HeaderFieldsNot(p, names)) => {
            let not = matches!(section, Some(Section::HeaderFieldsNot(..)));
            let m = message_of(p.as_ref())?;
            let h = whole_header(m.start, m.end);
            let names: Vec<&[u8]> = names.as_ref().iter().map(|n| n.as_ref()).collect();
            Some(filter_fields(&raw[h], &names, not))
        }
    }
}

/// An nstring holding any bytes: quoted when possible, else a literal.
pub(super) fn nstring(bytes: Vec<u8>) -> NString<'static> {
    match IString::try_from(bytes) {
        Ok(s) => NString(Some(s)),
        Err(e) => {
            let _ = e;
            NString(None)
        }
    }
}

/// A literal of stored bytes, as they are (NUL bytes, which IMAP forbids, are still sent
/// rather than altering a signed message).
pub(super) fn literal(bytes: Vec<u8>) -> NString<'static> {
    let lit = match Literal::validate(&bytes) {
        Ok(()) => Literal::try_from(bytes).unwrap_or_else(|_| Literal::unvalidated(Vec::new())),
        Err(_) => Literal::unvalidated(bytes),
    };
    NString(Some(IString::Literal(lit)))
}

fn nstr(s: Option<&str>) -> NString<'static> {
    s.map_or(NString(None), |s| nstring(s.as_bytes().to_vec()))
}

fn istr(s: &str) -> IString<'static> {
    IString::try_from(s.to_string()).unwrap_or_else(|_| {
        IString::try_from("").unwrap_or_else(|_| IString::Literal(Literal::unvalidated(Vec::new())))
    })
}

/// ENVELOPE of the message in `raw` (RFC 3501 §7.4.2).
pub(super) fn envelope(raw: &[u8]) -> Envelope<'static> {
    let header = &raw[..body_start(raw)];
    let message = MessageParser::default().parse_headers(raw);
    let m = message.as_ref();
    let from = m.and_then(|m| m.from()).map(addresses).unwrap_or_default();
    let sender = m
        .and_then(|m| m.sender())
        .map(addresses)
        .unwrap_or_default();
    let reply_to = m
        .and_then(|m| m.reply_to())
        .map(addresses)
        .unwrap_or_default();
    let to = m.and_then(|m| m.to()).map(addresses).unwrap_or_default();
    let cc = m.and_then(|m| m.cc()).map(addresses).unwrap_or_default();
    let bcc = m.and_then(|m| m.bcc()).map(addresses).unwrap_or_default();
    let raw_header = |name: &str| nstr(header_value(header, name).as_deref());
    Envelope {
        date: raw_header("Date"),
        subject: raw_header("Subject"),
        sender: if sender.is_empty() {
            from.clone()
        } else {
            sender
        },
        reply_to: if reply_to.is_empty() {
            from.clone()
        } else {
            reply_to
        },
        from,
        to,
        cc,
        bcc,
        in_reply_to: raw_header("In-Reply-To"),
        message_id: raw_header("Message-ID"),
    }
}

fn addresses(address: &Address<'_>) -> Vec<ImapAddress<'static>> {
    let one = |name: Option<&str>, addr: Option<&str>| {
        let (mailbox, host) = match addr.and_then(|a| a.rsplit_once('@')) {
            Some((m, h)) => (Some(m), Some(h)),
            None => (addr, None),
        };
        ImapAddress {
            name: nstr(name),
            adl: NString(None),
            mailbox: nstr(mailbox),
            host: nstr(host),
        }
    };
    match address {
        Address::List(list) => list
            .iter()
            .map(|a| one(a.name.as_deref(), a.address.as_deref()))
            .collect(),
        Address::Group(groups) => {
            let mut out = Vec::new();
            for g in groups {
                if let Some(name) = g.name.as_deref() {
                    // RFC 3501 §7.4.2: group start (host NIL, mailbox = name) … group end.
                    out.push(ImapAddress {
                        name: NString(None),
                        adl: NString(None),
                        mailbox: nstr(Some(name)),
                        host: NString(None),
                    });
                }
                out.extend(
                    g.addresses
                        .iter()
                        .map(|a| one(a.name.as_deref(), a.address.as_deref())),
                );
                if g.name.is_some() {
                    out.push(ImapAddress {
                        name: NString(None),
                        adl: NString(None),
                        mailbox: NString(None),
                        host: NString(None),
                    });
                }
            }
            out
        }
    }
}

/// BODY (`extended` false) or BODYSTRUCTURE (`extended` true) of the message in `raw`.
pub(super) fn body_structure(raw: &[u8], extended: bool) -> BodyStructure<'static> {
    match MessageParser::default().parse(raw) {
        Some(message) => part_structure(raw, &message, 0, extended, 0),
        None => text_plain(raw.len(), count_lines(raw)),
    }
}

fn part_structure(
    raw: &[u8],
    message: &Message<'_>,
    index: usize,
    extended: bool,
    depth: usize,
) -> BodyStructure<'static> {
    let Some(part) = message.parts.get(index) else {
        return text_plain(0, 0);
    };
    let loc = located(part, 0, raw.len());
    let body = &raw[loc.body.clone()];
    let ct = part.content_type();
    let params: Vec<(IString<'static>, IString<'static>)> = ct
        .and_then(|c| c.attributes())
        .map(|attrs| {
            attrs
                .iter()
                .map(|a| (istr(&a.name.to_ascii_uppercase()), istr(&a.value)))
                .collect()
        })
        .unwrap_or_default();
    let disposition = || {
        part.content_disposition().map(|d| Disposition {
            disposition: Some((
                istr(&d.ctype().to_ascii_uppercase()),
                d.attributes()
                    .map(|attrs| {
                        attrs
                            .iter()
                            .map(|a| (istr(&a.name), istr(&a.value)))
                            .collect()
                    })
                    .unwrap_or_default(),
            )),
            tail: None,
        })
    };
    if let PartType::Multipart(children) = &part.body {
        let bodies: Vec<BodyStructure<'static>> = children
            .iter()
            .map(|c| part_structure(raw, message, *c as usize, extended, depth))
            .collect();
        let subtype = ct.and_then(|c| c.subtype()).unwrap_or("mixed");
        if let Ok(bodies) = Vec1::try_from(bodies) {
            return BodyStructure::Multi {
                bodies,
                subtype: istr(&subtype.to_ascii_uppercase()),
                extension_data: extended.then(|| MultiPartExtensionData {
                    parameter_list: params,
                    tail: disposition(),
                }),
            };
        }
        return text_plain(body.len(), count_lines(body));
    }
    let (ctype, subtype) = match ct {
        Some(c) => (
            c.ctype().to_ascii_uppercase(),
            c.subtype().unwrap_or("").to_ascii_uppercase(),
        ),
        None => ("TEXT".to_string(), "PLAIN".to_string()),
    };
    let mut parameter_list = params;
    if parameter_list.is_empty() && ctype == "TEXT" {
        parameter_list.push((istr("CHARSET"), istr("US-ASCII")));
    }
    let basic = BasicFields {
        parameter_list,
        id: nstr(part.content_id()),
        description: nstr(part.content_description()),
        content_transfer_encoding: istr(
            &part
                .content_transfer_encoding()
                .unwrap_or("7BIT")
                .to_ascii_uppercase(),
        ),
        size: u32::try_from(body.len()).unwrap_or(u32::MAX),
    };
    let lines = count_lines(body);
    let specific = if ctype == "TEXT" {
        SpecificFields::Text {
            subtype: istr(&subtype),
            number_of_lines: lines,
        }
    } else if loc.rfc822 && depth < MAX_DEPTH {
        SpecificFields::Message {
            envelope: Box::new(envelope(body)),
            body_structure: Box::new(match MessageParser::default().parse(body) {
                Some(inner) => part_structure(body, &inner, 0, extended, depth + 1),
                None => text_plain(0, 0),
            }),
            number_of_lines: lines,
        }
    } else {
        SpecificFields::Basic {
            r#type: istr(&ctype),
            subtype: istr(&subtype),
        }
    };
    BodyStructure::Single {
        body: Body { basic, specific },
        extension_data: extended.then(|| SinglePartExtensionData {
            md5: NString(None),
            tail: disposition(),
        }),
    }
}

fn text_plain(size: usize, lines: u32) -> BodyStructure<'static> {
    BodyStructure::Single {
        body: Body {
            basic: BasicFields {
                parameter_list: vec![(istr("CHARSET"), istr("US-ASCII"))],
                id: NString(None),
                description: NString(None),
                content_transfer_encoding: istr("7BIT"),
                size: u32::try_from(size).unwrap_or(u32::MAX),
            },
            specific: SpecificFields::Text {
                subtype: istr("PLAIN"),
                number_of_lines: lines,
            },
        },
        extension_data: None,
    }
}

fn count_lines(b: &[u8]) -> u32 {
    u32::try_from(b.iter().filter(|c| **c == b'\n').count()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use imap_next::imap_types::fetch::Part;

    const MULTI: &[u8] = b"From: a@b.it\r\nSubject: prova\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\npreamble\r\n--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XX\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nX-A: 1\r\n\r\ninner body\r\n--XX--\r\n";

    fn part(n: &[u32]) -> Part {
        Part(
            Vec1::try_from(
                n.iter()
                    .map(|x| NonZeroU32::new(*x).expect("nz"))
                    .collect::<Vec<_>>(),
            )
            .expect("vec1"),
        )
    }

    #[test]
    fn sections_are_slices_of_the_stored_bytes() {
        assert_eq!(section(MULTI, None).as_deref(), Some(MULTI));
        assert_eq!(
            section(MULTI, Some(&Section::Part(part(&[1])))).as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(
            section(MULTI, Some(&Section::Mime(part(&[1])))).as_deref(),
            Some(&b"Content-Type: text/plain\r\n\r\n"[..])
        );
        assert_eq!(
            section(MULTI, Some(&Section::Header(Some(part(&[2]))))).as_deref(),
            Some(&b"Subject: inner\r\nX-A: 1\r\n\r\n"[..])
        );
        assert_eq!(
            section(MULTI, Some(&Section::Text(Some(part(&[2]))))).as_deref(),
            Some(&b"inner body"[..])
        );
        let names =
            Vec1::from(imap_next::imap_types::core::AString::try_from("subject").expect("a"));
        assert_eq!(
            section(MULTI, Some(&Section::HeaderFields(None, names))).as_deref(),
            Some(&b"Subject: prova\r\n\r\n"[..])
        );
        assert!(section(MULTI, Some(&Section::Part(part(&[3])))).is_none());
    }

    #[test]
    fn envelope_and_structure() {
        let env = envelope(MULTI);
        assert_eq!(env.subject, nstring(b"prova".to_vec()));
        assert_eq!(env.from.len(), 1);
        assert!(matches!(
            body_structure(MULTI, true),
            BodyStructure::Multi { .. }
        ));
    }
}
