//! IMAP folder operations inside the writer's transaction: CREATE, DELETE, RENAME,
//! SUBSCRIBE. Like the rest of `apply`, each is one operation's checks + effect; none commits.
//!
//! Invariant: a folder's UIDVALIDITY comes from [`new_uidvalidity`] whenever the UIDs a client
//! may have cached under its name stop being valid (created, recreated, renamed), so a client
//! never pairs an old UID with another message.

use super::apply::{
    create_folder, existing_folder, existing_mailbox, find_folder, new_uidvalidity, to_i64, u32_of,
    Result,
};
use super::folder_name;
use super::raw::Cache;
use crate::batch::Outcome;
use crate::error::StoreError;
use crate::model::Address;

/// The folder that always exists and that RENAME empties instead of renaming.
const INBOX: &str = "INBOX";

/// [`crate::Operation::CreateFolder`].
pub(super) fn create(db: &mut Cache<'_>, address: &Address, name: &str) -> Result<Outcome> {
    let name = folder_name(name)?;
    let m = existing_mailbox(db, address)?;
    if find_folder(db, m.id, &name)?.is_some() {
        return Err(StoreError::FolderExists(name));
    }
    let f = create_folder(db, m.id, &name)?;
    Ok(Outcome::FolderCreated {
        uidvalidity: u32_of("uidvalidity", f.uidvalidity)?,
    })
}

/// [`crate::Operation::DeleteFolder`].
pub(super) fn delete(db: &mut Cache<'_>, address: &Address, name: &str) -> Result<Outcome> {
    let name = folder_name(name)?;
    if name == INBOX {
        return Err(StoreError::InboxProtected("deleted")); // RFC 3501 §6.3.4
    }
    let m = existing_mailbox(db, address)?;
    let f = existing_folder(db, m.id, &name)?;
    let bytes = db
        .query_row(
            "SELECT COALESCE(SUM(size), 0) FROM messages WHERE folder_id = ?",
            &[f.id.into()],
            |r| r.int(0),
        )?
        .unwrap_or(0);
    db.execute("DELETE FROM messages WHERE folder_id = ?", &[f.id.into()])?;
    db.execute("DELETE FROM folders WHERE id = ?", &[f.id.into()])?;
    lower_used(db, m.id, bytes)?;
    Ok(Outcome::FolderChanged)
}

/// Takes `bytes` off a mailbox's used bytes (never below zero).
pub(super) fn lower_used(db: &mut Cache<'_>, mailbox_id: i64, bytes: i64) -> Result<()> {
    if bytes != 0 {
        db.execute(
            "UPDATE mailboxes SET used_bytes = MAX(used_bytes - ?, 0) WHERE id = ?",
            &[bytes.into(), mailbox_id.into()],
        )?;
    }
    Ok(())
}

/// [`crate::Operation::RenameFolder`].
pub(super) fn rename(
    db: &mut Cache<'_>,
    address: &Address,
    from: &str,
    to: &str,
) -> Result<Outcome> {
    let from = folder_name(from)?;
    let to = folder_name(to)?;
    let m = existing_mailbox(db, address)?;
    let source = existing_folder(db, m.id, &from)?;
    if find_folder(db, m.id, &to)?.is_some() {
        return Err(StoreError::FolderExists(to));
    }
    if from == INBOX {
        // RFC 3501 §6.3.5: the messages move to a new folder; INBOX stays, empty, keeping its
        // UIDVALIDITY and UIDNEXT (its old UIDs are never given again).
        let target = create_folder(db, m.id, &to)?;
        let ids = db.query_all(
            "SELECT id FROM messages WHERE folder_id = ? ORDER BY uid",
            &[source.id.into()],
            |r| r.int(0),
        )?;
        let mut uid = target.uidnext;
        for id in ids {
            db.execute(
                "UPDATE messages SET folder_id = ?, uid = ? WHERE id = ?",
                &[target.id.into(), uid.into(), id.into()],
            )?;
            uid += 1;
        }
        db.execute(
            "UPDATE folders SET uidnext = ? WHERE id = ?",
            &[uid.into(), target.id.into()],
        )?;
        return Ok(Outcome::FolderCreated {
            uidvalidity: u32_of("uidvalidity", target.uidvalidity)?,
        });
    }
    // The folder and those below it, each under its new name. Every new name must be free
    // now: then no rename can collide with a name that is itself still to be renamed.
    let all = db.query_all(
        "SELECT id, name FROM folders WHERE mailbox_id = ?",
        &[m.id.into()],
        |r| Ok((r.int(0)?, r.text(1)?)),
    )?;
    let below = format!("{from}/");
    let moves: Vec<(i64, String)> = all
        .iter()
        .filter(|(id, name)| *id == source.id || name.starts_with(&below))
        .map(|(id, name)| (*id, format!("{to}{}", &name[from.len()..])))
        .collect();
    if let Some((_, taken)) = moves
        .iter()
        .find(|(_, new)| all.iter().any(|(_, name)| name == new))
    {
        return Err(StoreError::FolderExists(taken.clone()));
    }
    let mut renamed = 0;
    for (id, new) in &moves {
        let uidvalidity = new_uidvalidity(db)?;
        db.execute(
            "UPDATE folders SET name = ?, uidvalidity = ? WHERE id = ?",
            &[new.into(), uidvalidity.into(), (*id).into()],
        )?;
        if *id == source.id {
            renamed = uidvalidity;
        }
    }
    Ok(Outcome::FolderCreated {
        uidvalidity: u32_of("uidvalidity", renamed)?,
    })
}

/// [`crate::Operation::SetSubscribed`].
pub(super) fn subscribe(
    db: &mut Cache<'_>,
    address: &Address,
    name: &str,
    subscribed: bool,
) -> Result<Outcome> {
    let name = folder_name(name)?;
    let m = existing_mailbox(db, address)?;
    let changed = db.execute(
        "UPDATE folders SET subscribed = ? WHERE mailbox_id = ? AND name = ?",
        &[subscribed.into(), m.id.into(), (&name).into()],
    )?;
    if changed == 0 {
        return Err(StoreError::UnknownFolder(name));
    }
    Ok(Outcome::FolderChanged)
}

/// Adds `bytes` to a mailbox's used bytes.
pub(super) fn raise_used(db: &mut Cache<'_>, mailbox_id: i64, bytes: u64) -> Result<()> {
    db.execute(
        "UPDATE mailboxes SET used_bytes = used_bytes + ? WHERE id = ?",
        &[to_i64(bytes).into(), mailbox_id.into()],
    )?;
    Ok(())
}
