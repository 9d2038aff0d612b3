//! SEARCH and UID SEARCH (RFC 3501 §6.4.4). Keys on flags, sizes, dates and sequence sets are
//! answered from the view; a message's bytes are read only when a key looks at its content.
//! Text matching is case-insensitive substring, on the raw header values and on the decoded
//! text parts.

use std::num::NonZeroU32;

use imap_next::imap_types::core::{Charset, Tag, Vec1};
use imap_next::imap_types::response::{Code, Data, Status};
use imap_next::imap_types::search::SearchKey;
use mail_parser::MessageParser;
use tokio::io::{AsyncRead, AsyncWrite};

use super::message::{body_start, header_value};
use super::session::{no, ok, Session};
use super::view::{has_flag, seq, View};
use super::Error;
use crate::backend::{Backend, MessageEntry};

/// Nesting of NOT / OR / parentheses we evaluate; deeper searches are refused.
const MAX_KEY_DEPTH: usize = 64;

impl<S: AsyncRead + AsyncWrite + Unpin + Send, B: Backend> Session<S, B> {
    pub(super) async fn search(
        &mut self,
        tag: Tag<'static>,
        charset: Option<Charset<'static>>,
        criteria: Vec1<SearchKey<'static>>,
        uid: bool,
    ) -> Result<Status<'static>, Error> {
        if let Some(cs) = &charset {
            let cs = cs.as_ref().to_ascii_uppercase();
            if cs != "UTF-8" && cs != "US-ASCII" {
                return Ok(no(
                    tag,
                    Some(Code::BadCharset { allowed: vec![] }),
                    "Use UTF-8",
                ));
            }
        }
        let key = SearchKey::And(criteria);
        if depth(&key, 0) > MAX_KEY_DEPTH {
            return Ok(no(tag, None, "Search too complex"));
        }
        let (Some(user), Some(view)) = (self.user.clone(), self.selected.as_ref()) else {
            return Ok(no(tag, None, "Select a folder first"));
        };
        let folder = view.folder.clone();
        let content = needs_content(&key);
        let meta = if needs_meta(&key) {
            match self.ctx.backend.snapshot(&user, &folder).await {
                Ok(s) => Some(s.messages),
                Err(e) => return Ok(no(tag, None, &e.to_string())),
            }
        } else {
            None
        };
        let mut hits = Vec::new();
        for index in 0..view.messages.len() {
            let Some(view) = self.selected.as_ref() else {
                break;
            };
            let m = &view.messages[index];
            if m.gone {
                continue;
            }
            let entry = m.entry(meta.as_deref());
            let bytes = if content {
                match self.ctx.backend.fetch(&user, &folder, entry.uid).await {
                    Ok(Some(b)) => Some(b),
                    Ok(None) => continue,
                    Err(e) => return Ok(no(tag, None, &e.to_string())),
                }
            } else {
                None
            };
            let Some(view) = self.selected.as_ref() else {
                break;
            };
            let mut ctx = Candidate {
                view,
                index,
                entry: &entry,
                raw: bytes.as_deref(),
                text: None,
            };
            if ctx.matches(&key) {
                hits.push(if uid {
                    NonZeroU32::new(entry.uid).unwrap_or(NonZeroU32::MIN)
                } else {
                    seq(index)
                });
            }
        }
        self.conn.data(Data::Search(hits));
        Ok(ok(tag, None, "SEARCH completed"))
    }
}

fn depth(key: &SearchKey<'_>, d: usize) -> usize {
    match key {
        SearchKey::And(keys) => keys
            .as_ref()
            .iter()
            .map(|k| depth(k, d + 1))
            .max()
            .unwrap_or(d),
        SearchKey::Not(k) => depth(k, d + 1),
        SearchKey::Or(a, b) => depth(a, d + 1).max(depth(b, d + 1)),
        _ => d,
    }
}

/// Keys on INTERNALDATE, which the view does not keep (it keeps sizes).
fn needs_meta(key: &SearchKey<'_>) -> bool {
    match key {
        SearchKey::And(keys) => keys.as_ref().iter().any(needs_meta),
        SearchKey::Not(k) => needs_meta(k),
        SearchKey::Or(a, b) => needs_meta(a) || needs_meta(b),
        // Sizes are in the view; dates are not.
        SearchKey::Before(_) | SearchKey::On(_) | SearchKey::Since(_) => true,
        _ => false,
    }
}

fn needs_content(key: &SearchKey<'_>) -> bool {
    match key {
        SearchKey::And(keys) => keys.as_ref().iter().any(needs_content),
        SearchKey::Not(k) => needs_content(k),
        SearchKey::Or(a, b) => needs_content(a) || needs_content(b),
        SearchKey::Bcc(_)
        | SearchKey::Body(_)
        | SearchKey::Cc(_)
        | SearchKey::From(_)
        | SearchKey::Header(..)
        | SearchKey::SentBefore(_)
        | SearchKey::SentOn(_)
        | SearchKey::SentSince(_)
        | SearchKey::Subject(_)
        | SearchKey::Text(_)
        | SearchKey::To(_) => true,
        _ => false,
    }
}

/// One message under test.
struct Candidate<'a> {
    view: &'a View,
    index: usize,
    entry: &'a MessageEntry,
    raw: Option<&'a [u8]>,
    /// The decoded text parts, lowercased, computed at most once.
    text: Option<String>,
}

impl Candidate<'_> {
    fn matches(&mut self, key: &SearchKey<'_>) -> bool {
        let flags = &self.entry.flags;
        let date = self.entry.internal_date.date_naive();
        match key {
            SearchKey::And(keys) => keys.as_ref().iter().all(|k| self.matches(k)),
            SearchKey::Not(k) => !self.matches(k),
            SearchKey::Or(a, b) => self.matches(a) || self.matches(b),
            SearchKey::SequenceSet(set) => self.view.contains(set, false, self.index),
            SearchKey::Uid(set) => self.view.contains(set, true, self.index),
            SearchKey::All | SearchKey::Old => true,
            SearchKey::New | SearchKey::Recent => false,
            SearchKey::Answered => has_flag(flags, "\\Answered"),
            SearchKey::Deleted => has_flag(flags, "\\Deleted"),
            SearchKey::Draft => has_flag(flags, "\\Draft"),
            SearchKey::Flagged => has_flag(flags, "\\Flagged"),
            SearchKey::Seen => has_flag(flags, "\\Seen"),
            SearchKey::Unanswered => !has_flag(flags, "\\Answered"),
            SearchKey::Undeleted => !has_flag(flags, "\\Deleted"),
            SearchKey::Undraft => !has_flag(flags, "\\Draft"),
            SearchKey::Unflagged => !has_flag(flags, "\\Flagged"),
            SearchKey::Unseen => !has_flag(flags, "\\Seen"),
            SearchKey::Keyword(k) => has_flag(flags, k.as_ref()),
            SearchKey::Unkeyword(k) => !has_flag(flags, k.as_ref()),
            SearchKey::Larger(n) => self.entry.size > u64::from(*n),
            SearchKey::Smaller(n) => self.entry.size < u64::from(*n),
            SearchKey::Before(d) => date < *d.as_ref(),
            SearchKey::On(d) => date == *d.as_ref(),
            SearchKey::Since(d) => date >= *d.as_ref(),
            SearchKey::SentBefore(d) => self.sent().is_some_and(|s| s < *d.as_ref()),
            SearchKey::SentOn(d) => self.sent().is_some_and(|s| s == *d.as_ref()),
            SearchKey::SentSince(d) => self.sent().is_some_and(|s| s >= *d.as_ref()),
            SearchKey::From(s) => self.header_has("From", s.as_ref()),
            SearchKey::To(s) => self.header_has("To", s.as_ref()),
            SearchKey::Cc(s) => self.header_has("Cc", s.as_ref()),
            SearchKey::Bcc(s) => self.header_has("Bcc", s.as_ref()),
            SearchKey::Subject(s) => self.header_has("Subject", s.as_ref()),
            SearchKey::Header(name, s) => {
                let name = String::from_utf8_lossy(name.as_ref()).into_owned();
                self.header_has(&name, s.as_ref())
            }
            SearchKey::Body(s) => self.body_has(s.as_ref()),
            SearchKey::Text(s) => {
                let raw = self.raw.unwrap_or_default();
                contains(&raw[..body_start(raw)], s.as_ref()) || self.body_has(s.as_ref())
            }
        }
    }

    fn header(&self) -> &[u8] {
        let raw = self.raw.unwrap_or_default();
        &raw[..body_start(raw)]
    }

    fn header_has(&self, name: &str, needle: &[u8]) -> bool {
        let Some(value) = header_value(self.header(), name) else {
            return false;
        };
        if needle.is_empty() || contains(value.as_bytes(), needle) {
            return true;
        }
        // Encoded words (=?UTF-8?...?=) match on their decoded text.
        let decoded = format!("{name}: {value}\r\n\r\n");
        MessageParser::default()
            .parse_headers(decoded.as_bytes())
            .and_then(|m| {
                m.parts
                    .first()
                    .and_then(|p| p.headers.first())
                    .map(|h| match &h.value {
                        mail_parser::HeaderValue::Text(t) => contains_str(t, needle),
                        mail_parser::HeaderValue::Address(a) => a
                            .iter()
                            .any(|x| x.name.as_deref().is_some_and(|n| contains_str(n, needle))),
                        _ => false,
                    })
            })
            .unwrap_or(false)
    }

    fn body_has(&mut self, needle: &[u8]) -> bool {
        let raw = self.raw.unwrap_or_default();
        if contains(&raw[body_start(raw)..], needle) {
            return true;
        }
        let text = self.text.get_or_insert_with(|| {
            let mut all = String::new();
            if let Some(m) = MessageParser::default().parse(raw) {
                for i in 0..m.text_body_count() {
                    if let Some(t) = m.body_text(i) {
                        all.push_str(&t.to_lowercase());
                        all.push('\n');
                    }
                }
            }
            all
        });
        contains_str(text, needle)
    }

    fn sent(&self) -> Option<chrono::NaiveDate> {
        let value = header_value(self.header(), "Date")?;
        chrono::DateTime::parse_from_rfc2822(&value)
            .ok()
            .map(|d| d.date_naive())
    }
}

/// ASCII case-insensitive substring.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn contains_str(haystack: &str, needle: &[u8]) -> bool {
    let needle = String::from_utf8_lossy(needle).to_lowercase();
    haystack.to_lowercase().contains(&needle)
}
