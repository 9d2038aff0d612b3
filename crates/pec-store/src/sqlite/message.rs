//! IMAP message operations inside the writer's transaction: STORE, EXPUNGE, COPY. UIDs that
//! are not (or no longer) in the folder are skipped, never an error: another session may have
//! expunged them a moment ago, and a replay finds its own work done.
//!
//! Invariant: `mailboxes.used_bytes` is the sum of `messages.size` of the mailbox after every
//! operation; a copy counts again (it is another message, even if its body is shared).

use super::apply::{existing_folder, existing_mailbox, imap_key, u32_of, Result};
use super::folder::{lower_used, raise_used};
use super::folder_name;
use super::raw::Cache;
use crate::batch::{FlagOp, Outcome};
use crate::error::StoreError;
use crate::flags;
use crate::model::Address;

/// `uids` increasing, each once.
fn sorted(uids: &[u32]) -> Vec<u32> {
    let mut uids = uids.to_vec();
    uids.sort_unstable();
    uids.dedup();
    uids
}

/// [`crate::Operation::SetFlags`].
pub(super) fn set_flags(
    db: &mut Cache<'_>,
    address: &Address,
    folder: &str,
    uids: &[u32],
    op: FlagOp,
    given: &[String],
) -> Result<Outcome> {
    let given = flags::normalize(given)?;
    let name = folder_name(folder)?;
    let m = existing_mailbox(db, address)?;
    let f = existing_folder(db, m.id, &name)?;
    let mut out = Vec::new();
    for uid in sorted(uids) {
        let found = db.query_row(
            "SELECT id, flags FROM messages WHERE folder_id = ? AND uid = ?",
            &[f.id.into(), i64::from(uid).into()],
            |r| Ok((r.int(0)?, r.text(1)?)),
        )?;
        let Some((id, text)) = found else { continue };
        let current = flags::from_column(&text);
        let new = flags::apply(&current, op, &given);
        if new != current {
            db.execute(
                "UPDATE messages SET flags = ? WHERE id = ?",
                &[flags::to_column(&new).as_str().into(), id.into()],
            )?;
        }
        out.push((uid, new));
    }
    Ok(Outcome::FlagsStored { flags: out })
}

/// [`crate::Operation::Expunge`].
pub(super) fn expunge(
    db: &mut Cache<'_>,
    address: &Address,
    folder: &str,
    uids: &[u32],
) -> Result<Outcome> {
    let name = folder_name(folder)?;
    let m = existing_mailbox(db, address)?;
    let f = existing_folder(db, m.id, &name)?;
    let mut removed = Vec::new();
    let mut bytes = 0;
    for uid in sorted(uids) {
        // The body stays: other messages and queue items may name it by hash.
        let size = db.query_row(
            "DELETE FROM messages WHERE folder_id = ? AND uid = ? RETURNING size",
            &[f.id.into(), i64::from(uid).into()],
            |r| r.int(0),
        )?;
        if let Some(size) = size {
            bytes += size;
            removed.push(uid);
        }
    }
    lower_used(db, m.id, bytes)?;
    Ok(Outcome::Expunged { uids: removed })
}

/// A message about to be copied.
struct Source {
    uid: u32,
    blob: String,
    size: i64,
    internal_date: i64,
    flags: String,
}

/// [`crate::Operation::CopyMessages`].
pub(super) fn copy(
    db: &mut Cache<'_>,
    address: &Address,
    from: &str,
    to: &str,
    uids: &[u32],
) -> Result<Outcome> {
    copy_checked(db, address, from, to, uids, true)
}

/// [`crate::Operation::MoveMessages`]: the copy, without the quota check (what it adds the
/// expunge takes away), then the expunge of exactly what was copied.
pub(super) fn move_(
    db: &mut Cache<'_>,
    address: &Address,
    from: &str,
    to: &str,
    uids: &[u32],
) -> Result<Outcome> {
    let copied = copy_checked(db, address, from, to, uids, false)?;
    if let Outcome::Copied { pairs, .. } = &copied {
        let moved: Vec<u32> = pairs.iter().map(|(src, _)| *src).collect();
        expunge(db, address, from, &moved)?;
    }
    Ok(copied)
}

fn copy_checked(
    db: &mut Cache<'_>,
    address: &Address,
    from: &str,
    to: &str,
    uids: &[u32],
    quota: bool,
) -> Result<Outcome> {
    let from = folder_name(from)?;
    let to = folder_name(to)?;
    let m = existing_mailbox(db, address)?;
    let src = existing_folder(db, m.id, &from)?;
    let dst = existing_folder(db, m.id, &to)?;
    // Read every source first: copying a folder into itself must not copy the copies.
    let mut sources = Vec::new();
    for uid in sorted(uids) {
        let found = db.query_row(
            "SELECT blob, size, internal_date, flags FROM messages
             WHERE folder_id = ? AND uid = ?",
            &[src.id.into(), i64::from(uid).into()],
            |r| {
                Ok(Source {
                    uid,
                    blob: r.text(0)?,
                    size: r.int(1)?,
                    internal_date: r.int(2)?,
                    flags: r.text(3)?,
                })
            },
        )?;
        sources.extend(found);
    }
    let incoming: u64 = sources.iter().map(|s| s.size.max(0) as u64).sum();
    if quota && m.quota != 0 && m.used.saturating_add(incoming) > m.quota {
        return Err(StoreError::MailboxFull {
            address: address.to_string(),
            used: m.used,
            quota: m.quota,
            incoming,
        });
    }
    let mut pairs = Vec::with_capacity(sources.len());
    let mut uid = dst.uidnext;
    for s in &sources {
        let key = imap_key(address, dst.uidvalidity, uid);
        db.execute(
            "INSERT INTO messages (folder_id, uid, key, blob, size, internal_date, flags)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            &[
                dst.id.into(),
                uid.into(),
                (&key).into(),
                (&s.blob).into(),
                s.size.into(),
                s.internal_date.into(),
                (&s.flags).into(),
            ],
        )?;
        pairs.push((s.uid, u32_of("uid", uid)?));
        uid += 1;
    }
    if !sources.is_empty() {
        db.execute(
            "UPDATE folders SET uidnext = ? WHERE id = ?",
            &[uid.into(), dst.id.into()],
        )?;
        raise_used(db, m.id, incoming)?;
    }
    Ok(Outcome::Copied {
        uidvalidity: u32_of("uidvalidity", dst.uidvalidity)?,
        pairs,
    })
}
