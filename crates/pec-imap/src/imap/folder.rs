//! Folder commands: SELECT, EXAMINE, CLOSE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE,
//! LIST, LSUB, STATUS. Folder names are checked here before any backend call.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use imap_next::imap_types::core::{QuotedChar, Tag};
use imap_next::imap_types::flag::{Flag, FlagNameAttribute, FlagPerm};
use imap_next::imap_types::mailbox::{ListMailbox, Mailbox};
use imap_next::imap_types::response::{Code, Data, Status};
use imap_next::imap_types::status::{StatusDataItem, StatusDataItemName};
use tokio::io::{AsyncRead, AsyncWrite};

use super::session::{backend_no, bad, no, ok, untagged_ok, Session};
use super::view::{has_flag, seq, View};
use super::Error;
use crate::backend::{Backend, BackendError, FolderStatus};

/// The hierarchy delimiter.
pub(super) const DELIMITER: char = '/';

/// A client's folder name, checked: UTF-8, no control characters, no wildcards, no empty or
/// `.`/`..` levels, not starting or ending with `/`. `INBOX` in any case becomes `INBOX`.
pub(super) fn folder_name(mailbox: &Mailbox<'_>) -> Result<String, &'static str> {
    let raw = match mailbox {
        Mailbox::Inbox => return Ok("INBOX".into()),
        Mailbox::Other(other) => other.as_ref(),
    };
    let name = std::str::from_utf8(raw).map_err(|_| "Folder name is not UTF-8")?;
    if name.is_empty() || name.len() > 255 {
        return Err("Folder name is empty or too long");
    }
    if name.chars().any(|c| c.is_control() || c == '*' || c == '%') {
        return Err("Folder name has forbidden characters");
    }
    if name
        .split(DELIMITER)
        .any(|level| level.is_empty() || level == "." || level == "..")
    {
        return Err("Folder name has an empty, . or .. level");
    }
    if name.eq_ignore_ascii_case("INBOX") {
        return Ok("INBOX".into());
    }
    Ok(name.to_string())
}

fn wire_name(name: &str) -> Option<Mailbox<'static>> {
    Mailbox::try_from(name.to_string()).ok()
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send, B: Backend> Session<S, B> {
    fn user(&self) -> String {
        self.user.clone().unwrap_or_default()
    }

    pub(super) async fn select(
        &mut self,
        tag: Tag<'static>,
        mailbox: Mailbox<'static>,
        read_only: bool,
    ) -> Result<Status<'static>, Error> {
        // RFC 3501 §6.3.1: a failed SELECT leaves no folder selected.
        self.selected = None;
        let folder = match folder_name(&mailbox) {
            Ok(f) => f,
            Err(why) => return Ok(no(tag, None, why)),
        };
        let user = self.user();
        let watch = self.ctx.backend.watch(&user);
        let snapshot = match self.ctx.backend.snapshot(&user, &folder).await {
            Ok(s) => s,
            Err(e) => return Ok(no(tag, None, &e.to_string())),
        };
        let mut view = View::new(folder, read_only, snapshot, watch);
        view.watch.borrow_and_update();
        let system = [
            Flag::Answered,
            Flag::Flagged,
            Flag::Deleted,
            Flag::Seen,
            Flag::Draft,
        ];
        self.conn.data(Data::Flags(system.to_vec()));
        self.conn.data(Data::Exists(
            u32::try_from(view.messages.len()).unwrap_or(u32::MAX),
        ));
        self.conn.data(Data::Recent(0));
        if let Some(first) = view.messages.iter().position(|m| !m.has("\\Seen")) {
            self.conn
                .status(untagged_ok(Code::Unseen(seq(first)), "First unseen"));
        }
        self.conn.status(untagged_ok(
            Code::UidValidity(nonzero(view.uidvalidity)),
            "UIDs valid",
        ));
        self.conn.status(untagged_ok(
            Code::UidNext(nonzero(view.uidnext)),
            "Predicted next UID",
        ));
        let permanent = if read_only {
            Vec::new()
        } else {
            let mut p: Vec<FlagPerm> = system.into_iter().map(FlagPerm::Flag).collect();
            p.push(FlagPerm::Asterisk);
            p
        };
        self.conn.status(untagged_ok(
            Code::PermanentFlags(permanent),
            "Flags permitted",
        ));
        self.selected = Some(view);
        Ok(if read_only {
            ok(tag, Some(Code::ReadOnly), "EXAMINE completed")
        } else {
            ok(tag, Some(Code::ReadWrite), "SELECT completed")
        })
    }

    /// CLOSE: silently expunges `\Deleted` messages of a read-write selection, then deselects.
    pub(super) async fn close(&mut self, tag: Tag<'static>) -> Status<'static> {
        let user = self.user();
        if let Some(view) = self.selected.take() {
            if !view.read_only {
                let deleted: Vec<u32> = view
                    .messages
                    .iter()
                    .filter(|m| !m.gone && m.has("\\Deleted"))
                    .map(|m| m.uid)
                    .collect();
                if !deleted.is_empty() {
                    if let Err(e) = self
                        .ctx
                        .backend
                        .expunge(&user, &view.folder, &deleted)
                        .await
                    {
                        return backend_no(tag, &e);
                    }
                }
            }
        }
        ok(tag, None, "CLOSE completed")
    }

    pub(super) async fn create(
        &mut self,
        tag: Tag<'static>,
        mailbox: Mailbox<'static>,
    ) -> Status<'static> {
        let folder = match folder_name(&mailbox) {
            Ok(f) => f,
            Err(why) => return no(tag, None, why),
        };
        match self.ctx.backend.create_folder(&self.user(), &folder).await {
            Ok(()) => ok(tag, None, "CREATE completed"),
            Err(e) => no(tag, None, &e.to_string()),
        }
    }

    pub(super) async fn delete(
        &mut self,
        tag: Tag<'static>,
        mailbox: Mailbox<'static>,
    ) -> Status<'static> {
        let folder = match folder_name(&mailbox) {
            Ok(f) => f,
            Err(why) => return no(tag, None, why),
        };
        match self.ctx.backend.delete_folder(&self.user(), &folder).await {
            Ok(()) => ok(tag, None, "DELETE completed"),
            Err(e) => no(tag, None, &e.to_string()),
        }
    }

    pub(super) async fn rename(
        &mut self,
        tag: Tag<'static>,
        from: Mailbox<'static>,
        to: Mailbox<'static>,
    ) -> Status<'static> {
        let (from, to) = match (folder_name(&from), folder_name(&to)) {
            (Ok(f), Ok(t)) => (f, t),
            (Err(why), _) | (_, Err(why)) => return no(tag, None, why),
        };
        match self
            .ctx
            .backend
            .rename_folder(&self.user(), &from, &to)
            .await
        {
            Ok(()) => ok(tag, None, "RENAME completed"),
            Err(e) => no(tag, None, &e.to_string()),
        }
    }

    pub(super) async fn subscribe(
        &mut self,
        tag: Tag<'static>,
        mailbox: Mailbox<'static>,
        subscribed: bool,
    ) -> Status<'static> {
        let folder = match folder_name(&mailbox) {
            Ok(f) => f,
            Err(why) => return no(tag, None, why),
        };
        match self
            .ctx
            .backend
            .set_subscribed(&self.user(), &folder, subscribed)
            .await
        {
            Ok(()) => ok(tag, None, "Subscription changed"),
            Err(e) => no(tag, None, &e.to_string()),
        }
    }

    /// LIST / LSUB with `*` and `%` wildcards; parents that are not folders show as \Noselect.
    pub(super) async fn list(
        &mut self,
        tag: Tag<'static>,
        reference: Mailbox<'static>,
        pattern: ListMailbox<'static>,
        lsub: bool,
    ) -> Status<'static> {
        let reference = match &reference {
            Mailbox::Inbox => "INBOX".to_string(),
            Mailbox::Other(o) => String::from_utf8_lossy(o.as_ref()).into_owned(),
        };
        let pattern = match &pattern {
            ListMailbox::Token(t) => String::from_utf8_lossy(t.as_ref()).into_owned(),
            ListMailbox::String(s) => String::from_utf8_lossy(s.as_ref()).into_owned(),
        };
        let delimiter = QuotedChar::try_from(DELIMITER).ok();
        if pattern.is_empty() && !lsub {
            // RFC 3501 §6.3.8: the delimiter and root.
            if let Ok(root) = Mailbox::try_from("") {
                self.conn.data(Data::List {
                    items: vec![FlagNameAttribute::Noselect],
                    delimiter,
                    mailbox: root,
                });
            }
            return ok(tag, None, "LIST completed");
        }
        let folders = match self.ctx.backend.list_folders(&self.user()).await {
            Ok(f) => f,
            Err(e) => return no(tag, None, &e.to_string()),
        };
        let full = format!("{reference}{pattern}");
        for (name, selectable) in with_parents(&folders, lsub) {
            if !wildcard_match(full.as_bytes(), name.as_bytes()) {
                continue;
            }
            let Some(mailbox) = wire_name(&name) else {
                continue;
            };
            let items = if selectable {
                Vec::new()
            } else {
                vec![FlagNameAttribute::Noselect]
            };
            let data = if lsub {
                Data::Lsub {
                    items,
                    delimiter,
                    mailbox,
                }
            } else {
                Data::List {
                    items,
                    delimiter,
                    mailbox,
                }
            };
            self.conn.data(data);
        }
        ok(
            tag,
            None,
            if lsub {
                "LSUB completed"
            } else {
                "LIST completed"
            },
        )
    }

    pub(super) async fn status(
        &mut self,
        tag: Tag<'static>,
        mailbox: Mailbox<'static>,
        items: &[StatusDataItemName],
    ) -> Status<'static> {
        let folder = match folder_name(&mailbox) {
            Ok(f) => f,
            Err(why) => return no(tag, None, why),
        };
        let user = self.user();
        let found = match self.ctx.backend.list_folders(&user).await {
            Ok(list) => list.into_iter().find(|f| f.name == folder),
            Err(e) => return no(tag, None, &e.to_string()),
        };
        let Some(info) = found else {
            return no(tag, None, &BackendError::NoSuchFolder.to_string());
        };
        let mut out = Vec::new();
        for item in items {
            out.push(match item {
                StatusDataItemName::Messages => StatusDataItem::Messages(info.messages),
                StatusDataItemName::Recent => StatusDataItem::Recent(0),
                StatusDataItemName::UidNext => StatusDataItem::UidNext(nonzero(info.uidnext)),
                StatusDataItemName::UidValidity => {
                    StatusDataItem::UidValidity(nonzero(info.uidvalidity))
                }
                StatusDataItemName::Unseen => StatusDataItem::Unseen(info.unseen),
                StatusDataItemName::Deleted => {
                    let deleted = match self.ctx.backend.snapshot(&user, &folder).await {
                        Ok(s) => s
                            .messages
                            .iter()
                            .filter(|m| has_flag(&m.flags, "\\Deleted"))
                            .count(),
                        Err(e) => return no(tag, None, &e.to_string()),
                    };
                    StatusDataItem::Deleted(u32::try_from(deleted).unwrap_or(u32::MAX))
                }
                _ => return bad(Some(tag), "STATUS item not supported"),
            });
        }
        if let Some(mailbox) = wire_name(&folder) {
            self.conn.data(Data::Status {
                mailbox,
                items: out.into(),
            });
        }
        ok(tag, None, "STATUS completed")
    }
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

/// Folder names with the parents they imply: (name, selectable), sorted, INBOX first.
fn with_parents(folders: &[FolderStatus], subscribed_only: bool) -> Vec<(String, bool)> {
    let mut all: BTreeMap<String, bool> = BTreeMap::new();
    for f in folders.iter().filter(|f| !subscribed_only || f.subscribed) {
        all.insert(f.name.clone(), true);
        let mut parent = f.name.as_str();
        while let Some(cut) = parent.rfind(DELIMITER) {
            parent = &parent[..cut];
            all.entry(parent.to_string()).or_insert(false);
        }
    }
    let mut out: Vec<(String, bool)> = all.into_iter().collect();
    out.sort_by_key(|(name, _)| name != "INBOX");
    out
}

/// RFC 3501 §6.3.8: `*` matches anything, `%` anything but the delimiter. INBOX matches
/// case-insensitively. Iterative, so a pattern of many wildcards cannot blow the stack.
pub(super) fn wildcard_match(pattern: &[u8], name: &[u8]) -> bool {
    if name == b"INBOX" && pattern.eq_ignore_ascii_case(b"inbox") {
        return true;
    }
    // Classic two-pointer glob with backtracking to the last star; `%` is handled by
    // refusing to let it (or a star after it) swallow a delimiter.
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize, bool)> = None;
    while n < name.len() {
        if p < pattern.len() && (pattern[p] == b'*' || pattern[p] == b'%') {
            star = Some((p, n, pattern[p] == b'%'));
            p += 1;
        } else if p < pattern.len() && pattern[p] == name[n] {
            p += 1;
            n += 1;
        } else if let Some((sp, sn, percent)) = star {
            if percent && name[sn] == DELIMITER as u8 {
                return false;
            }
            star = Some((sp, sn + 1, percent));
            p = sp + 1;
            n = sn + 1;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == b'*' || *c == b'%')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_traversal_or_control_characters_are_refused() {
        for bad in ["../x", "a//b", "/abs", "a/", "a\u{1}b", "a/../b", "x*"] {
            let mailbox = Mailbox::try_from(bad).expect("mailbox");
            assert!(folder_name(&mailbox).is_err(), "{bad}");
        }
        let ok = Mailbox::try_from("Archivio/2024").expect("mailbox");
        assert_eq!(folder_name(&ok).as_deref(), Ok("Archivio/2024"));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match(b"*", b"a/b"));
        assert!(wildcard_match(b"%", b"a"));
        assert!(!wildcard_match(b"%", b"a/b"));
        assert!(wildcard_match(b"a/%", b"a/b"));
        assert!(wildcard_match(b"inbox", b"INBOX"));
        assert!(!wildcard_match(b"Se", b"Sent"));
    }
}
