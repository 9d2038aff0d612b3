//! The selected folder as this session sees it: a UID list where sequence number = index + 1,
//! merged with fresh backend snapshots, and the resolution of sequence sets against it.
//!
//! Messages another session expunged stay in the view, marked `gone`, until a command where
//! EXPUNGE responses are allowed; then they are announced in descending order, so each
//! announced number is still right when the client applies it.

use std::num::NonZeroU32;

use imap_next::imap_types::core::Vec1;
use imap_next::imap_types::fetch::MessageDataItem;
use imap_next::imap_types::flag::{Flag, FlagFetch};
use imap_next::imap_types::response::Data;
use imap_next::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};
use tokio::sync::watch;

use crate::backend::{FolderSnapshot, MessageEntry};

/// System flags as bits: a view holds one of these per message per session, so it is kept
/// small (a thousand sessions on a thousand-message folder hold a million).
const SYSTEM_FLAGS: [&str; 5] = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"];

/// One message of the view, compact: 24 bytes unless it has keywords. The date is not kept
/// (it never changes): FETCH and SEARCH read it from a fresh snapshot when asked. The size is,
/// so FETCH can take its share of the listener's memory before it reads the bytes.
#[derive(Debug, Clone)]
pub(super) struct Message {
    pub(super) uid: u32,
    /// RFC822.SIZE, saturated (messages are far below 4 GiB).
    pub(super) size: u32,
    system: u8,
    /// A thin pointer on purpose: `Box<[String]>` would make every message 8 bytes larger.
    #[allow(clippy::box_collection)]
    keywords: Option<Box<Vec<String>>>,
    /// Expunged in the backend, not yet announced to this client.
    pub(super) gone: bool,
    /// Flags changed by someone else, not yet announced.
    flags_changed: bool,
}

impl Message {
    fn new(entry: MessageEntry) -> Self {
        let mut m = Message {
            uid: entry.uid,
            size: u32::try_from(entry.size).unwrap_or(u32::MAX),
            system: 0,
            keywords: None,
            gone: false,
            flags_changed: false,
        };
        m.set_flags(&entry.flags);
        m
    }

    /// Replaces the flags.
    pub(super) fn set_flags(&mut self, flags: &[String]) {
        self.system = 0;
        let mut keywords = Vec::new();
        for f in flags {
            match SYSTEM_FLAGS.iter().position(|s| s.eq_ignore_ascii_case(f)) {
                Some(bit) => self.system |= 1 << bit,
                None => keywords.push(f.clone()),
            }
        }
        self.keywords = (!keywords.is_empty()).then(|| Box::new(keywords));
    }

    pub(super) fn flags(&self) -> Vec<String> {
        let mut out: Vec<String> = SYSTEM_FLAGS
            .iter()
            .enumerate()
            .filter(|(bit, _)| self.system & (1 << bit) != 0)
            .map(|(_, f)| f.to_string())
            .collect();
        if let Some(k) = &self.keywords {
            out.extend(k.iter().cloned());
        }
        out
    }

    pub(super) fn has(&self, flag: &str) -> bool {
        match SYSTEM_FLAGS
            .iter()
            .position(|s| s.eq_ignore_ascii_case(flag))
        {
            Some(bit) => self.system & (1 << bit) != 0,
            None => self
                .keywords
                .as_ref()
                .is_some_and(|k| k.iter().any(|f| f.eq_ignore_ascii_case(flag))),
        }
    }

    fn same_flags(&self, flags: &[String]) -> bool {
        let mut other = Message::new(MessageEntry {
            uid: 0,
            size: 0,
            internal_date: chrono::DateTime::UNIX_EPOCH,
            flags: Vec::new(),
        });
        other.set_flags(flags);
        self.system == other.system
            && match (&self.keywords, &other.keywords) {
                (None, None) => true,
                (Some(a), Some(b)) => same_flags(a, b),
                _ => false,
            }
    }

    /// The message with the flags this session knows, size and date taken from `meta` (a
    /// snapshot's messages, by UID); without it the size known since the message appeared
    /// and a zero date.
    pub(super) fn entry(&self, meta: Option<&[MessageEntry]>) -> MessageEntry {
        let found = meta.and_then(|m| {
            m.binary_search_by_key(&self.uid, |e| e.uid)
                .ok()
                .map(|i| &m[i])
        });
        MessageEntry {
            uid: self.uid,
            size: found.map_or(u64::from(self.size), |e| e.size),
            internal_date: found.map_or(chrono::DateTime::UNIX_EPOCH, |e| e.internal_date),
            flags: self.flags(),
        }
    }
}

#[derive(Debug)]
pub(super) struct View {
    pub(super) folder: String,
    pub(super) read_only: bool,
    pub(super) uidvalidity: u32,
    pub(super) uidnext: u32,
    pub(super) messages: Vec<Message>,
    /// Moves when the box changes; a refresh re-snapshots only then.
    pub(super) watch: watch::Receiver<u64>,
    /// EXISTS the client was last told.
    announced_exists: usize,
    /// The watch fired (and was consumed by `changed()`): re-snapshot at the next refresh.
    pub(super) stale: bool,
}

impl View {
    pub(super) fn new(
        folder: String,
        read_only: bool,
        snapshot: FolderSnapshot,
        watch: watch::Receiver<u64>,
    ) -> Self {
        // A fresh allocation of the exact size: `collect` would reuse the snapshot's larger
        // buffer in place, keeping its whole size alive for the life of the selection.
        let mut messages = Vec::with_capacity(snapshot.messages.len());
        messages.extend(snapshot.messages.into_iter().map(Message::new));
        View {
            folder,
            read_only,
            uidvalidity: snapshot.uidvalidity,
            uidnext: snapshot.uidnext,
            announced_exists: messages.len(),
            messages,
            watch,
            stale: false,
        }
    }

    /// Takes a fresh snapshot in: marks expunged messages gone, notes flag changes, appends new
    /// messages (UIDs only grow, so they all come after the known ones).
    pub(super) fn merge(&mut self, snapshot: FolderSnapshot) {
        if snapshot.uidvalidity != self.uidvalidity {
            // The folder was recreated: everything we knew is gone.
            self.vanish();
            self.uidvalidity = snapshot.uidvalidity;
        }
        let fresh = snapshot.messages;
        let mut j = 0;
        for m in self.messages.iter_mut() {
            while j < fresh.len() && fresh[j].uid < m.uid {
                j += 1;
            }
            match fresh.get(j) {
                Some(f) if f.uid == m.uid => {
                    if !m.gone && !m.same_flags(&f.flags) {
                        m.set_flags(&f.flags);
                        m.flags_changed = true;
                    }
                }
                _ => m.gone = true,
            }
        }
        let last = self.messages.last().map_or(0, |m| m.uid);
        self.messages
            .extend(fresh.into_iter().filter(|f| f.uid > last).map(Message::new));
        self.uidnext = snapshot.uidnext.max(self.uidnext);
    }

    /// The folder disappeared (deleted or renamed away): every message is gone.
    pub(super) fn vanish(&mut self) {
        for m in &mut self.messages {
            m.gone = true;
        }
    }

    /// The untagged responses that bring the client up to date: FETCH FLAGS for changed
    /// messages, then (if allowed) EXPUNGE in descending order, then EXISTS.
    pub(super) fn updates(&mut self, may_expunge: bool) -> Vec<Data<'static>> {
        let mut out = Vec::new();
        for (i, m) in self.messages.iter_mut().enumerate() {
            if m.flags_changed && !m.gone {
                m.flags_changed = false;
                out.push(flags_fetch(seq(i), &m.entry(None), true));
            }
        }
        if may_expunge && self.messages.iter().any(|m| m.gone) {
            for i in (0..self.messages.len()).rev() {
                if self.messages[i].gone {
                    out.push(Data::Expunge(seq(i)));
                }
            }
            self.messages.retain(|m| !m.gone);
            self.announced_exists = self.messages.len();
        }
        if self.messages.len() > self.announced_exists {
            self.announced_exists = self.messages.len();
            out.push(Data::Exists(len_u32(self.messages.len())));
            out.push(Data::Recent(0));
        }
        out
    }

    /// Marks messages expunged by this session (EXPUNGE, MOVE) so [`View::updates`] announces them.
    pub(super) fn mark_gone(&mut self, uids: &[u32]) {
        for m in &mut self.messages {
            if uids.binary_search(&m.uid).is_ok() {
                m.gone = true;
            }
        }
    }

    /// Index of a UID in the view.
    pub(super) fn index_of(&self, uid: u32) -> Option<usize> {
        self.messages.binary_search_by_key(&uid, |m| m.uid).ok()
    }

    /// The indices a sequence set names, ascending and without duplicates, in time
    /// proportional to the folder, never to the numbers in the set (`1:4294967295` is cheap).
    pub(super) fn resolve(&self, set: &SequenceSet, uid: bool) -> Vec<usize> {
        let n = self.messages.len();
        let mut mask = vec![false; n];
        for seq in set.0.as_ref() {
            if let Some((lo, hi)) = self.index_range(seq, uid) {
                for m in &mut mask[lo..hi] {
                    *m = true;
                }
            }
        }
        mask.iter()
            .enumerate()
            .filter(|(_, m)| **m)
            .map(|(i, _)| i)
            .collect()
    }

    /// Whether message `index` is in the set (for SEARCH keys).
    pub(super) fn contains(&self, set: &SequenceSet, uid: bool, index: usize) -> bool {
        set.0
            .as_ref()
            .iter()
            .filter_map(|s| self.index_range(s, uid))
            .any(|(lo, hi)| lo <= index && index < hi)
    }

    /// A sequence as a half-open index range of the view.
    fn index_range(&self, seq: &Sequence, uid: bool) -> Option<(usize, usize)> {
        let n = self.messages.len();
        if n == 0 {
            return None;
        }
        let largest = if uid {
            self.messages[n - 1].uid
        } else {
            len_u32(n)
        };
        let value = |s: &SeqOrUid| match s {
            SeqOrUid::Value(v) => v.get(),
            SeqOrUid::Asterisk => largest,
        };
        let (a, b) = match seq {
            Sequence::Single(s) => (value(s), value(s)),
            Sequence::Range(a, b) => (value(a), value(b)),
        };
        let (lo, hi) = (a.min(b), a.max(b));
        if uid {
            let start = self.messages.partition_point(|m| m.uid < lo);
            let end = self.messages.partition_point(|m| m.uid <= hi);
            (start < end).then_some((start, end))
        } else {
            let start = (lo as usize).saturating_sub(1);
            let end = (hi as usize).min(n);
            (start < end).then_some((start, end))
        }
    }
}

/// Flags compare as sets, system flags case-insensitively.
pub(super) fn same_flags(a: &[String], b: &[String]) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|f| b.iter().any(|g| g.eq_ignore_ascii_case(f)))
}

pub(super) fn has_flag(flags: &[String], flag: &str) -> bool {
    flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
}

pub(super) fn seq(index: usize) -> NonZeroU32 {
    NonZeroU32::new(len_u32(index + 1)).unwrap_or(NonZeroU32::MIN)
}

pub(super) fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `* n FETCH (UID u FLAGS (...))`.
pub(super) fn flags_fetch(seq: NonZeroU32, entry: &MessageEntry, with_uid: bool) -> Data<'static> {
    let mut items = Vec::with_capacity(2);
    if with_uid {
        if let Some(uid) = NonZeroU32::new(entry.uid) {
            items.push(MessageDataItem::Uid(uid));
        }
    }
    items.push(MessageDataItem::Flags(fetch_flags(&entry.flags)));
    Data::Fetch {
        seq,
        items: Vec1::try_from(items).unwrap_or_else(|_| Vec1::from(MessageDataItem::Flags(vec![]))),
    }
}

/// Our stored flag strings as IMAP flags (unparsable ones are left out).
pub(super) fn fetch_flags(flags: &[String]) -> Vec<FlagFetch<'static>> {
    flags
        .iter()
        .filter_map(|f| parse_flag(f))
        .map(FlagFetch::Flag)
        .collect()
}

/// `\Seen` → `Flag::Seen`, `$Label` → a keyword.
pub(super) fn parse_flag(f: &str) -> Option<Flag<'static>> {
    match f.strip_prefix('\\') {
        Some(system) => imap_next::imap_types::core::Atom::try_from(system.to_string())
            .ok()
            .map(Flag::system),
        None => imap_next::imap_types::core::Atom::try_from(f.to_string())
            .ok()
            .map(Flag::Keyword),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn entry(uid: u32, flags: &[&str]) -> MessageEntry {
        MessageEntry {
            uid,
            size: 10,
            internal_date: Utc::now(),
            flags: flags.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn snap(entries: Vec<MessageEntry>) -> FolderSnapshot {
        FolderSnapshot {
            uidvalidity: 1,
            uidnext: 100,
            messages: entries,
        }
    }

    #[test]
    fn expunges_are_announced_in_descending_order_and_only_when_allowed() {
        let (_tx, rx) = watch::channel(0);
        let mut view = View::new(
            "INBOX".into(),
            false,
            snap((1..=5).map(|u| entry(u, &[])).collect()),
            rx,
        );
        view.merge(snap(vec![
            entry(1, &[]),
            entry(3, &["\\Seen"]),
            entry(5, &[]),
            entry(6, &[]),
        ]));
        let held = view.updates(false);
        assert!(held.iter().all(|d| !matches!(d, Data::Expunge(_))));
        assert_eq!(view.messages.len(), 6);
        let out = view.updates(true);
        let expunged: Vec<u32> = out
            .iter()
            .filter_map(|d| match d {
                Data::Expunge(n) => Some(n.get()),
                _ => None,
            })
            .collect();
        assert_eq!(expunged, vec![4, 2]);
        assert_eq!(view.messages.len(), 4);
    }

    #[test]
    fn huge_ranges_resolve_against_the_folder() {
        let (_tx, rx) = watch::channel(0);
        let view = View::new(
            "INBOX".into(),
            false,
            snap(vec![entry(3, &[]), entry(7, &[]), entry(9, &[])]),
            rx,
        );
        let all = SequenceSet::try_from("1:4294967295").expect("set");
        assert_eq!(view.resolve(&all, false), vec![0, 1, 2]);
        assert_eq!(view.resolve(&all, true), vec![0, 1, 2]);
        let star = SequenceSet::try_from("20:*").expect("set");
        assert_eq!(view.resolve(&star, true), vec![2]);
        let some = SequenceSet::try_from("4:8").expect("set");
        assert_eq!(view.resolve(&some, true), vec![1]);
    }
}
