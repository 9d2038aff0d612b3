//! FETCH and UID FETCH (RFC 3501 §6.4.5). Each message's reply is written before the next is
//! read from the backend, so a FETCH of the whole folder holds one message in memory.
//!
//! A message's bytes are read only when an item needs them and parsed only for ENVELOPE,
//! BODYSTRUCTURE and part sections; `BODY[]` is the stored bytes as they are.

use std::num::NonZeroU32;

use chrono::{FixedOffset, Timelike};
use imap_codec::encode::Encoder;
use imap_codec::ResponseCodec;
use imap_next::imap_types::core::{Tag, Vec1};
use imap_next::imap_types::datetime::DateTime;
use imap_next::imap_types::fetch::{
    MacroOrMessageDataItemNames, MessageDataItem, MessageDataItemName,
};
use imap_next::imap_types::response::{Data, Response, Status};
use imap_next::imap_types::sequence::SequenceSet;
use tokio::io::{AsyncRead, AsyncWrite};

use super::message::{body_start, body_structure, envelope, literal, section};
use super::session::{bad, no, ok, Session};
use super::view::{fetch_flags, seq};
use super::Error;
use crate::backend::{Backend, FlagOp, MessageEntry};

impl<S: AsyncRead + AsyncWrite + Unpin + Send, B: Backend> Session<S, B> {
    pub(super) async fn fetch(
        &mut self,
        tag: Tag<'static>,
        set: SequenceSet,
        names: MacroOrMessageDataItemNames<'static>,
        uid: bool,
    ) -> Result<Status<'static>, Error> {
        let mut names = match names {
            MacroOrMessageDataItemNames::Macro(m) => m
                .expand()
                .into_iter()
                .map(|n| n.into_static_name())
                .collect(),
            MacroOrMessageDataItemNames::MessageDataItemNames(n) => n,
        };
        if names.iter().any(|n| {
            matches!(
                n,
                MessageDataItemName::Binary { .. } | MessageDataItemName::BinarySize { .. }
            )
        }) {
            return Ok(bad(Some(tag), "BINARY is not supported"));
        }
        if uid && !names.contains(&MessageDataItemName::Uid) {
            names.insert(0, MessageDataItemName::Uid);
        }
        let (Some(user), Some(view)) = (self.user.clone(), self.selected.as_ref()) else {
            return Ok(no(tag, None, "Select a folder first"));
        };
        let folder = view.folder.clone();
        let indices = view.resolve(&set, uid);
        let needs_bytes = names.iter().any(needs_bytes);
        // The view keeps each size; only INTERNALDATE needs a fresh snapshot.
        let needs_meta = names
            .iter()
            .any(|n| matches!(n, MessageDataItemName::InternalDate));
        let sets_seen = !view.read_only && names.iter().any(sets_seen);
        let newly_seen = if sets_seen {
            self.mark_seen(&user, &folder, &indices).await
        } else {
            Vec::new()
        };
        let meta = if needs_meta {
            match self.ctx.backend.snapshot(&user, &folder).await {
                Ok(s) => Some(s.messages),
                Err(e) => return Ok(no(tag, None, &e.to_string())),
            }
        } else {
            None
        };
        let whole = names.iter().rposition(self::needs_bytes);
        for index in indices {
            let Some(entry) = self
                .selected
                .as_ref()
                .and_then(|v| v.messages.get(index))
                .filter(|m| !m.gone)
                .map(|m| m.entry(meta.as_deref()))
            else {
                continue;
            };
            // Issue 12: a share of the listener's memory for this message's bytes, held until
            // the client has taken them: once when the whole message is streamed, three
            // times (stored, item, encoding) otherwise.
            let _share = if needs_bytes {
                let streamed = whole.is_some_and(|i| whole_message(&names[i]));
                let costo = entry.size.saturating_mul(if streamed { 1 } else { 3 });
                let mut stop = self.shutdown_signal();
                match self.ctx.budget.share(&user, costo, &mut stop).await {
                    Some(share) => Some(share),
                    None => {
                        return Ok(no(
                            tag,
                            None,
                            "Server busy sending other messages, try the FETCH again later",
                        ))
                    }
                }
            } else {
                None
            };
            let mut bytes = if needs_bytes {
                match self.ctx.backend.fetch(&user, &folder, entry.uid).await {
                    Ok(Some(b)) => Some(b),
                    Ok(None) => continue,
                    Err(e) => return Ok(no(tag, None, &e.to_string())),
                }
            } else {
                None
            };
            let mut items = Vec::with_capacity(names.len() + 1);
            // The whole message, when asked for, is streamed after the other items (issue 12).
            let mut streamed = None;
            for (i, name) in names.iter().enumerate() {
                if Some(i) == whole && whole_message(name) {
                    streamed = Some((name, bytes.take().unwrap_or_default()));
                    continue;
                }
                items.push(item(name, &entry, bytes.as_deref()));
            }
            drop(bytes);
            if newly_seen.binary_search(&entry.uid).is_ok()
                && !names.contains(&MessageDataItemName::Flags)
            {
                items.push(MessageDataItem::Flags(fetch_flags(&entry.flags)));
            }
            if let Some((name, raw)) = streamed {
                self.stream_fetch(seq(index), items, name, raw).await?;
                continue;
            }
            let Ok(items) = Vec1::try_from(items) else {
                continue;
            };
            self.conn.data(Data::Fetch {
                seq: seq(index),
                items,
            });
            self.conn.flush().await?;
        }
        Ok(ok(tag, None, "FETCH completed"))
    }

    /// One FETCH response whose last item is the whole message: the other items are encoded
    /// by imap-codec around an empty literal, and the message goes to the socket in chunks in
    /// its place, so the response costs the stored bytes once, not three times (issue 12).
    async fn stream_fetch(
        &mut self,
        seq: NonZeroU32,
        mut items: Vec<MessageDataItem<'static>>,
        name: &MessageDataItemName<'static>,
        raw: Vec<u8>,
    ) -> Result<(), Error> {
        items.push(whole_item(name, Vec::new()));
        let Ok(items) = Vec1::try_from(items) else {
            return Ok(());
        };
        let response = Response::Data(Data::Fetch { seq, items });
        let encoded = ResponseCodec::default().encode(&response).dump();
        let Some(head) = encoded.strip_suffix(EMPTY_LITERAL_AT_END) else {
            // Not the shape expected: send it the ordinary way, with the bytes inside.
            let Response::Data(Data::Fetch { seq, items }) = response else {
                return Ok(());
            };
            let mut items: Vec<_> = items.into_iter().collect();
            items.pop();
            items.push(whole_item(name, raw));
            if let Ok(items) = Vec1::try_from(items) {
                self.conn.data(Data::Fetch { seq, items });
            }
            return self.conn.flush().await;
        };
        let length = format!("{{{}}}\r\n", raw.len());
        self.conn
            .write_raw(&[head, length.as_bytes(), &raw, b")\r\n"])
            .await
    }

    /// Sets `\Seen` on the messages a non-PEEK body fetch reads; returns their UIDs, sorted.
    async fn mark_seen(&mut self, user: &str, folder: &str, indices: &[usize]) -> Vec<u32> {
        let Some(view) = self.selected.as_mut() else {
            return Vec::new();
        };
        let unseen: Vec<u32> = indices
            .iter()
            .filter_map(|i| view.messages.get(*i))
            .filter(|m| !m.gone && !m.has("\\Seen"))
            .map(|m| m.uid)
            .collect();
        if unseen.is_empty() {
            return unseen;
        }
        let seen = ["\\Seen".to_string()];
        let Ok(changed) = self
            .ctx
            .backend
            .store_flags(user, folder, &unseen, FlagOp::Add, &seen)
            .await
        else {
            return Vec::new();
        };
        let mut uids = Vec::with_capacity(changed.len());
        for (uid, flags) in changed {
            if let Some(i) = view.index_of(uid) {
                view.messages[i].set_flags(&flags);
            }
            uids.push(uid);
        }
        uids.sort_unstable();
        uids
    }
}

trait IntoStaticName {
    fn into_static_name(self) -> MessageDataItemName<'static>;
}

impl IntoStaticName for MessageDataItemName<'_> {
    fn into_static_name(self) -> MessageDataItemName<'static> {
        use imap_next::imap_types::IntoStatic;
        self.into_static()
    }
}

/// How an empty literal ends a FETCH response that has it as its last item.
const EMPTY_LITERAL_AT_END: &[u8] = b"{0}\r\n)\r\n";

/// `RFC822` or `BODY[]` without a range: the stored bytes as they are.
fn whole_message(name: &MessageDataItemName<'_>) -> bool {
    matches!(
        name,
        MessageDataItemName::Rfc822
            | MessageDataItemName::BodyExt {
                section: None,
                partial: None,
                ..
            }
    )
}

/// [`item`] for a [`whole_message`] name, taking the bytes.
fn whole_item(name: &MessageDataItemName<'static>, raw: Vec<u8>) -> MessageDataItem<'static> {
    match name {
        MessageDataItemName::BodyExt { section, .. } => MessageDataItem::BodyExt {
            section: section.clone(),
            origin: None,
            data: literal(raw),
        },
        _ => MessageDataItem::Rfc822(literal(raw)),
    }
}

fn needs_bytes(name: &MessageDataItemName<'_>) -> bool {
    !matches!(
        name,
        MessageDataItemName::Flags
            | MessageDataItemName::Uid
            | MessageDataItemName::InternalDate
            | MessageDataItemName::Rfc822Size
    )
}

fn sets_seen(name: &MessageDataItemName<'_>) -> bool {
    matches!(
        name,
        MessageDataItemName::BodyExt { peek: false, .. }
            | MessageDataItemName::Rfc822
            | MessageDataItemName::Rfc822Text
    )
}

fn item(
    name: &MessageDataItemName<'static>,
    entry: &MessageEntry,
    bytes: Option<&[u8]>,
) -> MessageDataItem<'static> {
    let raw = bytes.unwrap_or_default();
    match name {
        MessageDataItemName::Flags => MessageDataItem::Flags(fetch_flags(&entry.flags)),
        MessageDataItemName::Uid => {
            MessageDataItem::Uid(NonZeroU32::new(entry.uid).unwrap_or(NonZeroU32::MIN))
        }
        MessageDataItemName::InternalDate => MessageDataItem::InternalDate(internal_date(entry)),
        MessageDataItemName::Rfc822Size => {
            MessageDataItem::Rfc822Size(u32::try_from(entry.size).unwrap_or(u32::MAX))
        }
        MessageDataItemName::Rfc822 => MessageDataItem::Rfc822(literal(raw.to_vec())),
        MessageDataItemName::Rfc822Header => {
            MessageDataItem::Rfc822Header(literal(raw[..body_start(raw)].to_vec()))
        }
        MessageDataItemName::Rfc822Text => {
            MessageDataItem::Rfc822Text(literal(raw[body_start(raw)..].to_vec()))
        }
        MessageDataItemName::Envelope => MessageDataItem::Envelope(envelope(raw)),
        MessageDataItemName::Body => MessageDataItem::Body(body_structure(raw, false)),
        MessageDataItemName::BodyStructure => {
            MessageDataItem::BodyStructure(body_structure(raw, true))
        }
        MessageDataItemName::BodyExt {
            section: wanted,
            partial,
            ..
        } => {
            // A part that does not exist reads as empty (RFC 3501 leaves this open).
            let mut data = section(raw, wanted.as_ref()).unwrap_or_default();
            let origin = partial.map(|(start, length)| {
                let start_at = (start as usize).min(data.len());
                let end = start_at
                    .saturating_add(length.get() as usize)
                    .min(data.len());
                data = data[start_at..end].to_vec();
                start
            });
            MessageDataItem::BodyExt {
                section: wanted.clone(),
                origin,
                data: literal(data),
            }
        }
        // Refused before any output (see `fetch`).
        MessageDataItemName::Binary { .. } | MessageDataItemName::BinarySize { .. } => {
            MessageDataItem::Rfc822Size(u32::try_from(entry.size).unwrap_or(u32::MAX))
        }
    }
}

/// INTERNALDATE in UTC, whole seconds (IMAP has no fractions).
fn internal_date(entry: &MessageEntry) -> DateTime {
    let utc = entry
        .internal_date
        .with_nanosecond(0)
        .unwrap_or(entry.internal_date);
    let fixed: chrono::DateTime<FixedOffset> = utc.fixed_offset();
    DateTime::try_from(fixed).unwrap_or_else(|_| DateTime::unvalidated(fixed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_whole_message_literal_ends_the_encoded_response() {
        // stream_fetch relies on this shape to put the message in the literal's place.
        for name in [
            MessageDataItemName::Rfc822,
            MessageDataItemName::BodyExt {
                section: None,
                partial: None,
                peek: true,
            },
        ] {
            let items = vec![
                MessageDataItem::Uid(NonZeroU32::MIN),
                MessageDataItem::Rfc822Size(10),
                whole_item(&name, Vec::new()),
            ];
            let data = Data::Fetch {
                seq: NonZeroU32::MIN,
                items: Vec1::try_from(items).unwrap(),
            };
            let out = ResponseCodec::default()
                .encode(&Response::Data(data))
                .dump();
            assert!(
                out.ends_with(EMPTY_LITERAL_AT_END),
                "{}",
                String::from_utf8_lossy(&out)
            );
        }
    }
}
