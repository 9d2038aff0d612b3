//! The daticert reader: turns another provider's `daticert.xml` into a [`Daticert`]
//! (PEC-SPEC §5).
//!
//! Invariants, because the file comes from a peer we do not trust:
//! - Nothing is ever fetched or declared: a DOCTYPE with an internal subset is refused, so no
//!   entity can be defined (no XXE, no billion laughs). Only the five predefined entities and
//!   numeric character references are expanded.
//! - Work is bounded before it starts: at most [`MAX_BYTES`] of input, [`MAX_DEPTH`] levels and
//!   [`MAX_ELEMENTS`] elements. The parser keeps an explicit stack, never recursion.
//! - Tolerant where the DTD is an enumeration (values outside it become `Unknown`) or where
//!   extra elements appear (skipped); strict where the certified data would be ambiguous
//!   (a missing or repeated mandatory element is an error that names it).
//! - Text is trimmed of XML white space (real files are indented), nothing else is changed, so
//!   what [`Daticert::to_xml`] writes reads back equal.

use super::{
    Dati, Daticert, Destinatario, Errore, Intestazione, Tipo, TipoDestinatario, TipoRicevuta,
};
use crate::tempo::RiferimentoTemporale;
use chrono::{FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use quick_xml::escape::{unescape, EscapeError};
use quick_xml::events::{BytesDecl, BytesStart, Event};
use quick_xml::Reader;

/// Largest `daticert.xml` accepted, in bytes: real ones are under 2 KiB.
pub const MAX_BYTES: usize = 1 << 20;
/// Deepest element nesting accepted: the DTD needs 3 (`postacert/dati/data/giorno`).
pub const MAX_DEPTH: usize = 16;
/// Most elements accepted in one file: bounds memory whatever the peer sends.
pub const MAX_ELEMENTS: usize = 10_000;

/// Why a `daticert.xml` cannot be read.
///
/// Every variant is the sender's fault (a peer provider or whoever forged the file), never
/// ours: the caller treats the message as not conforming (PEC-SPEC §4.2), it does not retry.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadError {
    /// The input is larger than [`MAX_BYTES`].
    #[error("daticert is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// [`MAX_BYTES`].
        limit: usize,
    },
    /// The bytes are not UTF-8, the only encoding daticert uses (PEC-SPEC §5.1).
    #[error("daticert is not valid UTF-8 (at byte {offset})")]
    InvalidUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The XML declaration names an encoding other than UTF-8.
    #[error("daticert declares encoding {encoding:?}; only UTF-8 is accepted")]
    UnsupportedEncoding {
        /// The declared encoding.
        encoding: String,
    },
    /// A character XML forbids (a control character, U+FFFE, U+FFFF), raw or as a reference.
    #[error("daticert contains forbidden character U+{codepoint:04X}")]
    InvalidCharacter {
        /// The code point.
        codepoint: u32,
    },
    /// A DOCTYPE with an internal subset: the only way to declare entities, so refused.
    #[error("daticert DOCTYPE has an internal subset; entity declarations are refused")]
    DoctypeInternalSubset,
    /// A reference to an entity other than the five XML predefines.
    #[error("daticert references undefined entity &{name};")]
    UndefinedEntity {
        /// The entity name, without `&` and `;`.
        name: String,
    },
    /// A numeric character reference that is not a valid character, or an `&` without `;`.
    #[error("daticert has an invalid reference: {reason}")]
    InvalidReference {
        /// What is wrong with it.
        reason: String,
    },
    /// Elements nest deeper than [`MAX_DEPTH`].
    #[error("daticert nests elements deeper than {limit}")]
    TooDeep {
        /// [`MAX_DEPTH`].
        limit: usize,
    },
    /// More than [`MAX_ELEMENTS`] elements.
    #[error("daticert has more than {limit} elements")]
    TooManyElements {
        /// [`MAX_ELEMENTS`].
        limit: usize,
    },
    /// Not well-formed XML.
    #[error("daticert is not well-formed XML at byte {position}: {reason}")]
    Malformed {
        /// Byte offset where the problem was found.
        position: u64,
        /// What is wrong.
        reason: String,
    },
    /// No root element at all (e.g. empty input).
    #[error("daticert has no root element")]
    NoRoot,
    /// The root element is not `<postacert>`.
    #[error("daticert root element is <{found}>, not <postacert>")]
    WrongRoot {
        /// The name found.
        found: String,
    },
    /// A mandatory element is absent.
    #[error("daticert lacks mandatory element <{element}>")]
    MissingElement {
        /// The element name.
        element: &'static str,
    },
    /// A mandatory attribute is absent.
    #[error("daticert <{element}> lacks mandatory attribute {attribute}")]
    MissingAttribute {
        /// The element name.
        element: &'static str,
        /// The attribute name.
        attribute: &'static str,
    },
    /// An element the DTD allows once appears twice: which one is certified would be a guess.
    #[error("daticert has more than one <{element}>")]
    Duplicate {
        /// The element name.
        element: &'static str,
    },
    /// `<giorno>`, `<ora>` or `zona` does not hold a valid value.
    #[error("daticert <{element}> value {value:?} is not a valid {expected}")]
    InvalidDate {
        /// `giorno`, `ora`, `zona` or `data` (a local time the offset cannot represent).
        element: &'static str,
        /// The value as read.
        value: String,
        /// The expected format.
        expected: &'static str,
    },
}

impl Daticert {
    /// Reads a `daticert.xml` written by any provider (PEC-SPEC §5).
    ///
    /// Values outside the DTD's enumerations come back as `Unknown`; a missing `errore`
    /// is `nessuno` and a missing `destinatari/@tipo` is `certificato`, the DTD defaults.
    /// See the module invariants for what is refused.
    pub fn from_xml(bytes: &[u8]) -> Result<Daticert, ReadError> {
        if bytes.len() > MAX_BYTES {
            return Err(ReadError::TooLarge {
                size: bytes.len(),
                limit: MAX_BYTES,
            });
        }
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let xml = std::str::from_utf8(bytes).map_err(|e| ReadError::InvalidUtf8 {
            offset: e.valid_up_to(),
        })?;
        check_chars(xml)?;
        interpret(&parse_tree(xml)?)
    }
}

/// One element of the parsed document: just what daticert needs.
#[derive(Debug, Default)]
struct Node {
    name: String,
    attributes: Vec<(String, String)>,
    /// Direct text and CDATA, unescaped and concatenated; children's text is not included.
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The child called `name`, if any; twice is an error.
    fn optional(&self, name: &'static str) -> Result<Option<&Node>, ReadError> {
        let mut found = self.children(name);
        let first = found.next();
        if found.next().is_some() {
            return Err(ReadError::Duplicate { element: name });
        }
        Ok(first)
    }

    fn required(&self, name: &'static str) -> Result<&Node, ReadError> {
        self.optional(name)?
            .ok_or(ReadError::MissingElement { element: name })
    }

    fn optional_text(&self, name: &'static str) -> Result<Option<String>, ReadError> {
        Ok(self.optional(name)?.map(|n| n.text().to_string()))
    }

    fn required_text(&self, name: &'static str) -> Result<String, ReadError> {
        Ok(self.required(name)?.text().to_string())
    }

    fn text(&self) -> &str {
        trim_xml(&self.text)
    }
}

/// XML white space only (S production), so e.g. a trailing U+3000 in a subject survives.
fn trim_xml(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

/// XML 1.0 `Char` minus the C1 controls, which the writer drops and no real file carries.
fn forbidden(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

fn check_chars(s: &str) -> Result<(), ReadError> {
    match s.chars().find(|&c| forbidden(c)) {
        Some(c) => Err(ReadError::InvalidCharacter {
            codepoint: u32::from(c),
        }),
        None => Ok(()),
    }
}

/// Expands the predefined entities and character references, nothing else.
fn unescape_checked(raw: &str) -> Result<String, ReadError> {
    let text = unescape(raw).map_err(|e| match e {
        EscapeError::UnrecognizedEntity(_, name) => ReadError::UndefinedEntity { name },
        other => ReadError::InvalidReference {
            reason: other.to_string(),
        },
    })?;
    check_chars(&text)?;
    Ok(text.into_owned())
}

fn malformed(position: u64, reason: impl Into<String>) -> ReadError {
    ReadError::Malformed {
        position,
        reason: reason.into(),
    }
}

fn utf8(position: u64, bytes: &[u8]) -> Result<&str, ReadError> {
    // Cannot fail on input already checked as UTF-8, but never unwrap peer data.
    std::str::from_utf8(bytes).map_err(|_| malformed(position, "invalid UTF-8 in markup"))
}

/// Parses the document into a tree of [`Node`]s, enforcing the limits as it goes.
fn parse_tree(xml: &str) -> Result<Node, ReadError> {
    let mut reader = Reader::from_str(xml);
    let config = reader.config_mut();
    config.trim_text(false);
    config.check_end_names = true;
    config.check_comments = true;
    config.expand_empty_elements = false;
    config.allow_unmatched_ends = false;

    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let mut elements = 0usize;
    let mut doctype_seen = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| malformed(reader.error_position(), e.to_string()))?;
        let position = reader.buffer_position();
        match event {
            Event::Decl(decl) => check_declaration(&decl, position)?,
            Event::DocType(doctype) => {
                if has_internal_subset(utf8(position, &doctype)?) {
                    return Err(ReadError::DoctypeInternalSubset);
                }
                if doctype_seen || root.is_some() || !stack.is_empty() {
                    return Err(malformed(
                        position,
                        "DOCTYPE after the start of the document",
                    ));
                }
                doctype_seen = true;
            }
            Event::Start(start) => {
                elements += 1;
                let node = open(&start, position, &stack, &root, elements)?;
                stack.push(node);
            }
            Event::Empty(start) => {
                elements += 1;
                let node = open(&start, position, &stack, &root, elements)?;
                close(node, &mut stack, &mut root);
            }
            Event::End(_) => match stack.pop() {
                Some(node) => close(node, &mut stack, &mut root),
                None => return Err(malformed(position, "end tag without start tag")),
            },
            Event::Text(text) => {
                let text = unescape_checked(utf8(position, &text)?)?;
                add_text(&mut stack, &text, position)?;
            }
            Event::CData(cdata) => {
                let text = utf8(position, &cdata)?;
                add_text(&mut stack, text, position)?;
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(malformed(
            reader.buffer_position(),
            format!("input ends inside <{}>", open.name),
        ));
    }
    root.ok_or(ReadError::NoRoot)
}

/// Starts a node, checking the limits and that there is a single root.
fn open(
    start: &BytesStart<'_>,
    position: u64,
    stack: &[Node],
    root: &Option<Node>,
    elements: usize,
) -> Result<Node, ReadError> {
    if elements > MAX_ELEMENTS {
        return Err(ReadError::TooManyElements {
            limit: MAX_ELEMENTS,
        });
    }
    if stack.len() >= MAX_DEPTH {
        return Err(ReadError::TooDeep { limit: MAX_DEPTH });
    }
    if stack.is_empty() && root.is_some() {
        return Err(malformed(position, "more than one root element"));
    }
    let mut node = Node {
        name: utf8(position, start.name().as_ref())?.to_string(),
        ..Node::default()
    };
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| malformed(position, e.to_string()))?;
        let key = utf8(position, attribute.key.as_ref())?.to_string();
        let value = unescape_checked(utf8(position, &attribute.value)?)?;
        node.attributes.push((key, trim_xml(&value).to_string()));
    }
    Ok(node)
}

fn close(node: Node, stack: &mut [Node], root: &mut Option<Node>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(node),
        None => *root = Some(node),
    }
}

fn add_text(stack: &mut [Node], text: &str, position: u64) -> Result<(), ReadError> {
    match stack.last_mut() {
        Some(node) => {
            node.text.push_str(text);
            Ok(())
        }
        None if trim_xml(text).is_empty() => Ok(()),
        None => Err(malformed(position, "text outside the root element")),
    }
}

/// Only UTF-8 (and its subset US-ASCII) is read: daticert is UTF-8 (PEC-SPEC §5.1).
fn check_declaration(decl: &BytesDecl<'_>, position: u64) -> Result<(), ReadError> {
    let Some(encoding) = decl.encoding() else {
        return Ok(());
    };
    let encoding = encoding.map_err(|e| malformed(position, e.to_string()))?;
    let encoding = utf8(position, &encoding)?.trim();
    match encoding.to_ascii_lowercase().as_str() {
        "utf-8" | "utf8" | "us-ascii" | "ascii" => Ok(()),
        _ => Err(ReadError::UnsupportedEncoding {
            encoding: encoding.to_string(),
        }),
    }
}

/// A `[` outside quoted literals opens the internal subset.
fn has_internal_subset(doctype: &str) -> bool {
    let mut quote = None;
    for c in doctype.chars() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (None, '[') => return true,
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
    }
    false
}

/// Maps the tree onto the model (PEC-SPEC §5.1 DTD, §5.2 semantics).
fn interpret(root: &Node) -> Result<Daticert, ReadError> {
    if root.name != "postacert" {
        return Err(ReadError::WrongRoot {
            found: root.name.clone(),
        });
    }
    let tipo = root
        .attribute("tipo")
        .map(Tipo::parse)
        .ok_or(ReadError::MissingAttribute {
            element: "postacert",
            attribute: "tipo",
        })?;
    // DTD default: errore "nessuno".
    let errore = root
        .attribute("errore")
        .map_or(Errore::Nessuno, Errore::parse);
    Ok(Daticert {
        tipo,
        errore,
        intestazione: intestazione(root.required("intestazione")?)?,
        dati: dati(root.required("dati")?)?,
    })
}

fn intestazione(node: &Node) -> Result<Intestazione, ReadError> {
    let destinatari = node
        .children("destinatari")
        .map(|d| Destinatario {
            indirizzo: d.text().to_string(),
            // DTD default: tipo "certificato".
            tipo: d
                .attribute("tipo")
                .map_or(TipoDestinatario::Certificato, TipoDestinatario::parse),
        })
        .collect();
    Ok(Intestazione {
        mittente: node.required_text("mittente")?,
        destinatari,
        // Mandatory in the DTD, but nothing certified hangs on it: tolerate its absence.
        risposte: node.optional_text("risposte")?.unwrap_or_default(),
        oggetto: node.optional_text("oggetto")?,
    })
}

fn dati(node: &Node) -> Result<Dati, ReadError> {
    let ricevuta = match node.optional("ricevuta")? {
        Some(r) => Some(r.attribute("tipo").map(TipoRicevuta::parse).ok_or(
            ReadError::MissingAttribute {
                element: "ricevuta",
                attribute: "tipo",
            },
        )?),
        None => None,
    };
    Ok(Dati {
        gestore_emittente: node.required_text("gestore-emittente")?,
        data: data(node.required("data")?)?,
        identificativo: node.required_text("identificativo")?,
        msgid: node.optional_text("msgid")?,
        ricevuta,
        consegna: node.optional_text("consegna")?,
        ricezione: node
            .children("ricezione")
            .map(|r| r.text().to_string())
            .collect(),
        errore_esteso: node.optional_text("errore-esteso")?,
    })
}

/// `<data zona="+0100"><giorno>dd/mm/yyyy</giorno><ora>hh:mm:ss</ora></data>`.
fn data(node: &Node) -> Result<RiferimentoTemporale, ReadError> {
    let zona = node.attribute("zona").ok_or(ReadError::MissingAttribute {
        element: "data",
        attribute: "zona",
    })?;
    let offset = parse_zona(zona).ok_or_else(|| invalid_date("zona", zona, "[+|-]hhmm offset"))?;
    let giorno = node.required("giorno")?.text();
    let date = parse_giorno(giorno).ok_or_else(|| invalid_date("giorno", giorno, "dd/mm/yyyy"))?;
    let ora = node.required("ora")?.text();
    let time = parse_ora(ora).ok_or_else(|| invalid_date("ora", ora, "hh:mm:ss"))?;
    let local = offset
        .from_local_datetime(&NaiveDateTime::new(date, time))
        .single()
        .ok_or_else(|| invalid_date("data", &format!("{giorno} {ora} {zona}"), "time"))?;
    Ok(RiferimentoTemporale::from_fixed(local))
}

fn invalid_date(element: &'static str, value: &str, expected: &'static str) -> ReadError {
    ReadError::InvalidDate {
        element,
        value: value.to_string(),
        expected,
    }
}

/// A field of `min_len..=max_len` ASCII digits.
fn number(s: &str, min_len: usize, max_len: usize) -> Option<u32> {
    if s.len() < min_len || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `dd/mm/yyyy`; one-digit day and month are tolerated.
fn parse_giorno(s: &str) -> Option<NaiveDate> {
    let mut parts = s.split('/');
    let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let year = i32::try_from(number(y, 4, 4)?).ok()?;
    NaiveDate::from_ymd_opt(year, number(m, 1, 2)?, number(d, 1, 2)?)
}

/// `hh:mm:ss`; one-digit fields are tolerated.
fn parse_ora(s: &str) -> Option<NaiveTime> {
    let mut parts = s.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    NaiveTime::from_hms_opt(number(h, 1, 2)?, number(m, 1, 2)?, number(sec, 1, 2)?)
}

/// `+hhmm` as the DTD comment says; `+hh:mm` and `+hh` are tolerated.
fn parse_zona(s: &str) -> Option<FixedOffset> {
    let (sign, rest) = match s.strip_prefix('+') {
        Some(rest) => (1, rest),
        None => (-1, s.strip_prefix('-')?),
    };
    // `get`, not slicing: a peer's bytes need not fall on char boundaries.
    let (h, m) = match rest.len() {
        2 => (rest, "00"),
        4 => (rest.get(..2)?, rest.get(2..)?),
        5 if rest.get(2..3) == Some(":") => (rest.get(..2)?, rest.get(3..)?),
        _ => return None,
    };
    let (h, m) = (number(h, 2, 2)?, number(m, 2, 2)?);
    if h > 23 || m > 59 {
        return None;
    }
    let seconds = i32::try_from(h * 3600 + m * 60).ok()?;
    FixedOffset::east_opt(sign * seconds)
}
