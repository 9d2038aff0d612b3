//! Commands that change messages: STORE, COPY, MOVE (RFC 6851), EXPUNGE, UID EXPUNGE and
//! APPEND (UIDPLUS, RFC 4315). Each replies OK only after the backend call returned, that is
//! after the change is durable.

use std::num::NonZeroU32;

use chrono::Utc;
use imap_next::imap_types::core::{Tag, Vec1};
use imap_next::imap_types::datetime::DateTime;
use imap_next::imap_types::extensions::binary::LiteralOrLiteral8;
use imap_next::imap_types::extensions::uidplus::{UidElement, UidSet};
use imap_next::imap_types::flag::{Flag, StoreResponse, StoreType};
use imap_next::imap_types::mailbox::Mailbox;
use imap_next::imap_types::response::{Code, Status};
use imap_next::imap_types::sequence::SequenceSet;
use tokio::io::{AsyncRead, AsyncWrite};

use super::folder::folder_name;
use super::session::{backend_no, no, ok, untagged_ok, Session};
use super::view::{flags_fetch, seq};
use super::Error;
use crate::backend::{Backend, FlagOp};

impl<S: AsyncRead + AsyncWrite + Unpin + Send, B: Backend> Session<S, B> {
    /// The UIDs a set names in the selected view (messages already expunged left out).
    fn selected_uids(&self, set: &SequenceSet, uid: bool) -> Vec<u32> {
        let Some(view) = self.selected.as_ref() else {
            return Vec::new();
        };
        view.resolve(set, uid)
            .into_iter()
            .filter_map(|i| view.messages.get(i))
            .filter(|m| !m.gone)
            .map(|m| m.uid)
            .collect()
    }

    fn session_user(&self) -> String {
        self.user.clone().unwrap_or_default()
    }

    fn selected_folder(&self) -> (String, bool) {
        self.selected
            .as_ref()
            .map(|v| (v.folder.clone(), v.read_only))
            .unwrap_or_default()
    }

    pub(super) async fn store(
        &mut self,
        tag: Tag<'static>,
        set: SequenceSet,
        kind: StoreType,
        response: StoreResponse,
        flags: Vec<Flag<'static>>,
        uid: bool,
    ) -> Result<Status<'static>, Error> {
        let (folder, read_only) = self.selected_folder();
        if read_only {
            return Ok(no(tag, None, "Folder is read-only (EXAMINE)"));
        }
        let uids = self.selected_uids(&set, uid);
        let op = match kind {
            StoreType::Add => FlagOp::Add,
            StoreType::Remove => FlagOp::Remove,
            StoreType::Replace => FlagOp::Replace,
        };
        let flags: Vec<String> = flags.iter().map(ToString::to_string).collect();
        if uids.is_empty() {
            return Ok(ok(tag, None, "STORE completed"));
        }
        let changed = match self
            .ctx
            .backend
            .store_flags(&self.session_user(), &folder, &uids, op, &flags)
            .await
        {
            Ok(c) => c,
            Err(e) => return Ok(backend_no(tag, &e)),
        };
        let Some(view) = self.selected.as_mut() else {
            return Ok(ok(tag, None, "STORE completed"));
        };
        let mut replies = Vec::new();
        for (uid_changed, new_flags) in changed {
            if let Some(i) = view.index_of(uid_changed) {
                view.messages[i].set_flags(&new_flags);
                if response == StoreResponse::Answer {
                    replies.push(flags_fetch(seq(i), &view.messages[i].entry(None), uid));
                }
            }
        }
        for data in replies {
            self.conn.data(data);
        }
        Ok(ok(tag, None, "STORE completed"))
    }

    pub(super) async fn copy(
        &mut self,
        tag: Tag<'static>,
        set: SequenceSet,
        mailbox: Mailbox<'static>,
        uid: bool,
    ) -> Status<'static> {
        let dest = match folder_name(&mailbox) {
            Ok(d) => d,
            Err(why) => return no(tag, None, why),
        };
        let (folder, _) = self.selected_folder();
        let uids = self.selected_uids(&set, uid);
        if uids.is_empty() {
            return ok(tag, None, "COPY completed (nothing to copy)");
        }
        match self
            .ctx
            .backend
            .copy(&self.session_user(), &folder, &uids, &dest)
            .await
        {
            Ok(result) => ok(
                tag,
                copy_uid(result.uidvalidity, &result.pairs),
                "COPY completed",
            ),
            Err(e) => backend_no(tag, &e),
        }
    }

    /// MOVE: copy and expunge as one step of the backend ([`Backend::move_messages`]),
    /// announced as COPYUID then EXPUNGEs. A message another session moved meanwhile is
    /// simply not there any more: it is neither copied again nor reported.
    pub(super) async fn move_(
        &mut self,
        tag: Tag<'static>,
        set: SequenceSet,
        mailbox: Mailbox<'static>,
        uid: bool,
    ) -> Result<Status<'static>, Error> {
        let dest = match folder_name(&mailbox) {
            Ok(d) => d,
            Err(why) => return Ok(no(tag, None, why)),
        };
        let (folder, read_only) = self.selected_folder();
        if read_only {
            return Ok(no(tag, None, "Folder is read-only (EXAMINE)"));
        }
        let uids = self.selected_uids(&set, uid);
        if uids.is_empty() {
            return Ok(ok(tag, None, "MOVE completed (nothing to move)"));
        }
        let user = self.session_user();
        let result = match self
            .ctx
            .backend
            .move_messages(&user, &folder, &uids, &dest)
            .await
        {
            Ok(r) => r,
            Err(e) => return Ok(backend_no(tag, &e)),
        };
        if let Some(code) = copy_uid(result.uidvalidity, &result.pairs) {
            self.conn.status(untagged_ok(code, "Moved"));
        }
        let moved: Vec<u32> = result.pairs.iter().map(|(src, _)| *src).collect();
        self.forget(moved);
        Ok(ok(tag, None, "MOVE completed"))
    }

    /// EXPUNGE (all `\Deleted`) or UID EXPUNGE (`\Deleted` ones within `set`).
    pub(super) async fn expunge(
        &mut self,
        tag: Tag<'static>,
        set: Option<SequenceSet>,
    ) -> Result<Status<'static>, Error> {
        let (folder, read_only) = self.selected_folder();
        if read_only {
            return Ok(no(tag, None, "Folder is read-only (EXAMINE)"));
        }
        // Flags set by other sessions count too.
        self.refresh(true).await;
        let Some(view) = self.selected.as_ref() else {
            return Ok(no(tag, None, "Select a folder first"));
        };
        let within: Option<Vec<u32>> = set.as_ref().map(|s| self.selected_uids(s, true));
        let deleted: Vec<u32> = view
            .messages
            .iter()
            .filter(|m| !m.gone && m.has("\\Deleted"))
            .map(|m| m.uid)
            .filter(|u| within.as_ref().is_none_or(|w| w.binary_search(u).is_ok()))
            .collect();
        if deleted.is_empty() {
            return Ok(ok(tag, None, "EXPUNGE completed"));
        }
        match self
            .ctx
            .backend
            .expunge(&self.session_user(), &folder, &deleted)
            .await
        {
            Ok(removed) => {
                self.forget(removed);
                Ok(ok(tag, None, "EXPUNGE completed"))
            }
            Err(e) => Ok(backend_no(tag, &e)),
        }
    }

    /// Marks messages this session removed; the refresh after the command announces them.
    fn forget(&mut self, mut removed: Vec<u32>) {
        removed.sort_unstable();
        if let Some(view) = self.selected.as_mut() {
            view.mark_gone(&removed);
        }
    }

    pub(super) async fn append(
        &mut self,
        tag: Tag<'static>,
        mailbox: Mailbox<'static>,
        flags: Vec<Flag<'static>>,
        date: Option<DateTime>,
        message: LiteralOrLiteral8<'static>,
    ) -> Status<'static> {
        let folder = match folder_name(&mailbox) {
            Ok(f) => f,
            Err(why) => return no(tag, None, why),
        };
        let bytes = match message {
            LiteralOrLiteral8::Literal(l) => l.into_inner().into_owned(),
            LiteralOrLiteral8::Literal8(l) => l.data.into_owned(),
        };
        let flags: Vec<String> = flags.iter().map(ToString::to_string).collect();
        let date = date.map(|d| d.as_ref().with_timezone(&Utc));
        match self
            .ctx
            .backend
            .append(&self.session_user(), &folder, &flags, date, bytes)
            .await
        {
            Ok(r) => {
                let code = match (NonZeroU32::new(r.uidvalidity), NonZeroU32::new(r.uid)) {
                    (Some(uid_validity), Some(uid)) => Some(Code::AppendUid { uid_validity, uid }),
                    _ => None,
                };
                ok(tag, code, "APPEND completed")
            }
            Err(e) => backend_no(tag, &e),
        }
    }
}

/// COPYUID (RFC 4315 §3) for the copied pairs, if any.
fn copy_uid(uidvalidity: u32, pairs: &[(u32, u32)]) -> Option<Code<'static>> {
    let uid_validity = NonZeroU32::new(uidvalidity)?;
    let single = |u: u32| NonZeroU32::new(u).map(UidElement::Single);
    let source: Option<Vec<UidElement>> = pairs.iter().map(|(s, _)| single(*s)).collect();
    let destination: Option<Vec<UidElement>> = pairs.iter().map(|(_, d)| single(*d)).collect();
    Some(Code::CopyUid {
        uid_validity,
        source: UidSet(Vec1::try_from(source?).ok()?),
        destination: UidSet(Vec1::try_from(destination?).ok()?),
    })
}
