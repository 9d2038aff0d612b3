//! Operations applied inside the writer's open transaction. Each function is one operation's
//! guard + effect; none commits. They run synchronously on the writer's thread, against the
//! raw connection ([`super::raw`]), with statements compiled once for the writer's lifetime.

use super::raw::{Cache, Row, SqlError, Value};
use super::{folder, folder_name, message};
use crate::batch::{
    Admission, Batch, Body, CommitReceipt, LogAppend, NewMessage, Operation, Outcome,
    INLINE_BODY_MAX,
};
use crate::chain::hash_evento;
use crate::error::StoreError;
use crate::flags;
use crate::model::{
    from_millis, millis, state_of, Address, BlobRef, LogHead, MailboxState, QueueItem, QueueStatus,
};

pub(super) type Result<T> = std::result::Result<T, StoreError>;

/// Applies every operation of `batch`, unless its batch key was committed before.
pub(super) fn batch(
    db: &mut Cache<'_>,
    head: &mut LogHead,
    batch: &Batch,
    refs: &[Option<BlobRef>],
    now: i64,
) -> Result<CommitReceipt> {
    if let Some(key) = &batch.key {
        let seen = db.query_row(
            "SELECT 1 FROM applied_batches WHERE key = ?",
            &[key.into()],
            |_| Ok(()),
        )?;
        if seen.is_some() {
            return Ok(CommitReceipt {
                outcomes: Vec::new(),
                replayed: true,
            });
        }
    }
    let mut outcomes = Vec::with_capacity(batch.ops.len());
    for (i, op) in batch.ops.iter().enumerate() {
        let r = refs.get(i).copied().flatten();
        outcomes.push(operation(db, head, op, r, now)?);
    }
    if let Some(key) = &batch.key {
        db.execute(
            "INSERT INTO applied_batches (key, time) VALUES (?, ?)",
            &[key.into(), now.into()],
        )?;
    }
    Ok(CommitReceipt {
        outcomes,
        replayed: false,
    })
}

fn operation(
    db: &mut Cache<'_>,
    head: &mut LogHead,
    op: &Operation,
    body_ref: Option<BlobRef>,
    now: i64,
) -> Result<Outcome> {
    match op {
        Operation::AddMailbox {
            address,
            password,
            quota_bytes,
        } => {
            if mailbox(db, address)?.is_some() {
                return Err(StoreError::MailboxExists(address.to_string()));
            }
            let id = db
                .query_row(
                    "INSERT INTO mailboxes (address, password_hash, quota_bytes, created)
                     VALUES (?, ?, ?, ?) RETURNING id",
                    &[
                        address.as_str().into(),
                        password.as_phc().into(),
                        to_i64(*quota_bytes).into(),
                        now.into(),
                    ],
                    |r| r.int(0),
                )?
                .ok_or_else(|| StoreError::CommitFailed("INSERT RETURNING gave no row".into()))?;
            // What mail clients expect to find (and the in-memory reference backend has):
            // without Trash and Drafts, deleting or saving a draft meets NO [TRYCREATE].
            for name in ["INBOX", "Sent", "Trash", "Drafts"] {
                create_folder(db, id, name)?;
            }
            Ok(Outcome::MailboxChanged)
        }
        Operation::SetPassword { address, password } => update_mailbox(
            db,
            address,
            "UPDATE mailboxes SET password_hash = ? WHERE address = ?",
            password.as_phc().into(),
        ),
        Operation::SetQuota {
            address,
            quota_bytes,
        } => update_mailbox(
            db,
            address,
            "UPDATE mailboxes SET quota_bytes = ? WHERE address = ?",
            to_i64(*quota_bytes).into(),
        ),
        Operation::SetTotp { address, secret } => update_mailbox(
            db,
            address,
            "UPDATE mailboxes SET totp_secret = ?, totp_step = NULL WHERE address = ?",
            secret.as_deref().into(),
        ),
        Operation::UseTotpStep { address, step } => {
            mailbox(db, address)?.ok_or_else(|| StoreError::UnknownMailbox(address.to_string()))?;
            let step = to_i64(*step);
            let changed = db.execute(
                "UPDATE mailboxes SET totp_step = ?
                 WHERE address = ? AND (totp_step IS NULL OR totp_step < ?)",
                &[step.into(), address.as_str().into(), step.into()],
            )?;
            Ok(Outcome::TotpStep {
                accepted: changed == 1,
            })
        }
        Operation::SetEnabled { address, enabled } => update_mailbox(
            db,
            address,
            "UPDATE mailboxes SET enabled = ? WHERE address = ?",
            (*enabled).into(),
        ),
        Operation::RemoveMailbox { address } => {
            let m = mailbox(db, address)?
                .ok_or_else(|| StoreError::UnknownMailbox(address.to_string()))?;
            db.execute(
                "DELETE FROM messages WHERE folder_id IN (SELECT id FROM folders WHERE mailbox_id = ?)",
                &[m.id.into()],
            )?;
            db.execute("DELETE FROM folders WHERE mailbox_id = ?", &[m.id.into()])?;
            db.execute("DELETE FROM mailboxes WHERE id = ?", &[m.id.into()])?;
            Ok(Outcome::MailboxChanged)
        }
        Operation::PutMessage(msg) => put_message(db, msg, body_ref),
        Operation::Enqueue(item) => {
            let body = match &item.body {
                Some(b) => {
                    let (blob, inline) = resolve_body(b, body_ref)?;
                    let hex = blob.hex();
                    if let Some(bytes) = inline {
                        insert_inline(db, &hex, bytes)?;
                    }
                    Some((hex, to_i64(blob.size)))
                }
                None => None,
            };
            let (hex, size) = body.unzip();
            let done = db.execute(
                "INSERT INTO queue (key, kind, payload, body, body_size, due, status, created,
                                    updated)
                 VALUES (?, ?, ?, ?, ?, ?, 'scheduled', ?, ?) ON CONFLICT (key) DO NOTHING",
                &[
                    (&item.key).into(),
                    (&item.kind).into(),
                    item.payload[..].into(),
                    hex.as_deref().into(),
                    size.into(),
                    millis(item.due).into(),
                    now.into(),
                    now.into(),
                ],
            )?;
            Ok(Outcome::Enqueued { created: done == 1 })
        }
        Operation::CompleteQueueItem { key } => queue_transition(
            db,
            key,
            "UPDATE queue SET status = 'done', claimed_until = NULL, updated = ?
             WHERE key = ? AND status = 'scheduled'",
            &[now.into(), key.into()],
        ),
        Operation::RetryQueueItem { key, due, error } => queue_transition(
            db,
            key,
            "UPDATE queue SET due = ?, last_error = ?, claimed_until = NULL, updated = ?
             WHERE key = ? AND status = 'scheduled'",
            &[millis(*due).into(), error.into(), now.into(), key.into()],
        ),
        Operation::FailQueueItem { key, error } => queue_transition(
            db,
            key,
            "UPDATE queue SET status = 'failed', last_error = ?, claimed_until = NULL,
             updated = ? WHERE key = ? AND status = 'scheduled'",
            &[error.into(), now.into(), key.into()],
        ),
        Operation::AppendLog(event) => append_log(db, head, event),
        Operation::CreateFolder { address, name } => folder::create(db, address, name),
        Operation::DeleteFolder { address, name } => folder::delete(db, address, name),
        Operation::RenameFolder { address, from, to } => folder::rename(db, address, from, to),
        Operation::SetSubscribed {
            address,
            name,
            subscribed,
        } => folder::subscribe(db, address, name, *subscribed),
        Operation::SetFlags {
            address,
            folder,
            uids,
            op,
            flags,
        } => message::set_flags(db, address, folder, uids, *op, flags),
        Operation::Expunge {
            address,
            folder,
            uids,
        } => message::expunge(db, address, folder, uids),
        Operation::CopyMessages {
            address,
            from,
            to,
            uids,
        } => message::copy(db, address, from, to, uids),
        Operation::MoveMessages {
            address,
            from,
            to,
            uids,
        } => message::move_(db, address, from, to, uids),
    }
}

/// The columns of a mailbox the writer needs.
pub(super) struct MailboxRow {
    pub(super) id: i64,
    pub(super) enabled: bool,
    pub(super) quota: u64,
    pub(super) used: u64,
}

/// The mailbox at `address`, which must exist.
pub(super) fn existing_mailbox(db: &mut Cache<'_>, address: &Address) -> Result<MailboxRow> {
    mailbox(db, address)?.ok_or_else(|| StoreError::UnknownMailbox(address.to_string()))
}

fn mailbox(db: &mut Cache<'_>, address: &Address) -> Result<Option<MailboxRow>> {
    Ok(db.query_row(
        "SELECT id, enabled, quota_bytes, used_bytes FROM mailboxes WHERE address = ?",
        &[address.as_str().into()],
        |r| {
            Ok(MailboxRow {
                id: r.int(0)?,
                enabled: r.int(1)? != 0,
                quota: r.int(2)? as u64,
                used: r.int(3)? as u64,
            })
        },
    )?)
}

fn update_mailbox(
    db: &mut Cache<'_>,
    address: &Address,
    sql: &'static str,
    value: Value<'_>,
) -> Result<Outcome> {
    let changed = db.execute(sql, &[value, address.as_str().into()])?;
    if changed == 0 {
        return Err(StoreError::UnknownMailbox(address.to_string()));
    }
    Ok(Outcome::MailboxChanged)
}

fn queue_transition(
    db: &mut Cache<'_>,
    key: &str,
    sql: &'static str,
    params: &[Value<'_>],
) -> Result<Outcome> {
    if db.execute(sql, params)? == 1 {
        return Ok(Outcome::QueueUpdated { changed: true });
    }
    let exists = db.query_row("SELECT 1 FROM queue WHERE key = ?", &[key.into()], |_| {
        Ok(())
    })?;
    match exists {
        Some(()) => Ok(Outcome::QueueUpdated { changed: false }),
        None => Err(StoreError::UnknownQueueItem(key.to_owned())),
    }
}

/// A new UIDVALIDITY: the current unix second, but always above every value handed out before,
/// so a folder deleted and recreated never gets its old UIDVALIDITY back.
pub(super) fn new_uidvalidity(db: &mut Cache<'_>) -> Result<i64> {
    let last = db.query_row(
        "SELECT value FROM meta WHERE key = 'last_uidvalidity'",
        &[],
        |r| r.int(0),
    )?;
    let next = (super::writer::now_millis() / 1000).max(last.unwrap_or(0) + 1);
    if next > i64::from(u32::MAX) {
        return Err(StoreError::CorruptRow("UIDVALIDITY space exhausted".into()));
    }
    db.execute(
        "INSERT INTO meta (key, value) VALUES ('last_uidvalidity', ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[next.into()],
    )?;
    Ok(next)
}

pub(super) fn create_folder(db: &mut Cache<'_>, mailbox_id: i64, name: &str) -> Result<Folder> {
    let uidvalidity = new_uidvalidity(db)?;
    let id = db
        .query_row(
            "INSERT INTO folders (mailbox_id, name, uidvalidity, uidnext) VALUES (?, ?, ?, 1)
             RETURNING id",
            &[mailbox_id.into(), name.into(), uidvalidity.into()],
            |r| r.int(0),
        )?
        .ok_or_else(|| StoreError::CommitFailed("INSERT RETURNING gave no row".into()))?;
    Ok(Folder {
        id,
        uidvalidity,
        uidnext: 1,
    })
}

/// The columns of a folder the writer needs.
pub(super) struct Folder {
    pub(super) id: i64,
    pub(super) uidvalidity: i64,
    pub(super) uidnext: i64,
}

/// The folder `name` (already normalised) of a mailbox, if it exists.
pub(super) fn find_folder(
    db: &mut Cache<'_>,
    mailbox_id: i64,
    name: &str,
) -> Result<Option<Folder>> {
    Ok(db.query_row(
        "SELECT id, uidvalidity, uidnext FROM folders WHERE mailbox_id = ? AND name = ?",
        &[mailbox_id.into(), name.into()],
        |r| {
            Ok(Folder {
                id: r.int(0)?,
                uidvalidity: r.int(1)?,
                uidnext: r.int(2)?,
            })
        },
    )?)
}

/// The folder `name` of a mailbox, which must exist.
pub(super) fn existing_folder(db: &mut Cache<'_>, mailbox_id: i64, name: &str) -> Result<Folder> {
    find_folder(db, mailbox_id, name)?.ok_or_else(|| StoreError::UnknownFolder(name.to_owned()))
}

/// The key of a message stored without one (an APPEND, a copy): its place, which is never
/// given twice because a UIDVALIDITY is never reused and UIDs only grow within it.
pub(super) fn imap_key(address: &Address, uidvalidity: i64, uid: i64) -> String {
    format!("imap:{address}:{uidvalidity}:{uid}")
}

/// A body's reference, and its bytes when they are stored inline: the caller hashed every
/// `Bytes` body and left only those up to INLINE_BODY_MAX as bytes (larger ones arrive as
/// `Stored` blob files).
fn resolve_body(body: &Body, body_ref: Option<BlobRef>) -> Result<(BlobRef, Option<&[u8]>)> {
    match (body, body_ref) {
        (Body::Stored(r), _) => Ok((*r, None)),
        (Body::Bytes(bytes), Some(r)) if bytes.len() <= INLINE_BODY_MAX => Ok((r, Some(bytes))),
        (Body::Bytes(_), _) => Err(StoreError::CommitFailed(
            "body reached the writer unhashed or too large to store inline".into(),
        )),
    }
}

/// Stores a body inline. Content-addressed: an identical body already stored (by this group
/// or earlier) is the same row.
fn insert_inline(db: &mut Cache<'_>, hex: &str, bytes: &[u8]) -> Result<()> {
    db.execute(
        "INSERT OR IGNORE INTO bodies (hash, bytes) VALUES (?, ?)",
        &[hex.into(), bytes.into()],
    )?;
    Ok(())
}

fn put_message(db: &mut Cache<'_>, msg: &NewMessage, body_ref: Option<BlobRef>) -> Result<Outcome> {
    // Guard: the same key stored before means a replay; report the original. An empty key
    // (an APPEND) has no guard.
    let existing = if msg.key.is_empty() {
        None
    } else {
        db.query_row(
            "SELECT m.uid, f.uidvalidity FROM messages m JOIN folders f ON f.id = m.folder_id
             WHERE m.key = ?",
            &[(&msg.key).into()],
            |r| Ok((r.int(0)?, r.int(1)?)),
        )?
    };
    if let Some((uid, uidvalidity)) = existing {
        return Ok(Outcome::MessageStored {
            uid: u32_of("uid", uid)?,
            uidvalidity: u32_of("uidvalidity", uidvalidity)?,
            duplicate: true,
        });
    }
    let (blob, inline) = resolve_body(&msg.body, body_ref)?;
    let name = folder_name(&msg.folder)?;
    let flags = flags::to_column(&flags::normalize(&msg.flags)?);
    let m = existing_mailbox(db, &msg.mailbox)?;
    if msg.admission == Admission::Enforce {
        match state_of(m.enabled, m.quota, m.used, blob.size) {
            MailboxState::Attiva => {}
            MailboxState::Disabilitata => {
                return Err(StoreError::MailboxDisabled(msg.mailbox.to_string()))
            }
            MailboxState::Piena | MailboxState::Sconosciuta => {
                return Err(StoreError::MailboxFull {
                    address: msg.mailbox.to_string(),
                    used: m.used,
                    quota: m.quota,
                    incoming: blob.size,
                })
            }
        }
    }
    let folder = match find_folder(db, m.id, &name)? {
        Some(f) => f,
        None => create_folder(db, m.id, &name)?,
    };
    let hex = blob.hex();
    if let Some(bytes) = inline {
        insert_inline(db, &hex, bytes)?;
    }
    let key = if msg.key.is_empty() {
        imap_key(&msg.mailbox, folder.uidvalidity, folder.uidnext)
    } else {
        msg.key.clone()
    };
    db.execute(
        "INSERT INTO messages (folder_id, uid, key, blob, size, internal_date, flags)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
        &[
            folder.id.into(),
            folder.uidnext.into(),
            (&key).into(),
            hex.as_str().into(),
            to_i64(blob.size).into(),
            millis(msg.internal_date).into(),
            flags.as_str().into(),
        ],
    )?;
    db.execute(
        "UPDATE folders SET uidnext = uidnext + 1 WHERE id = ?",
        &[folder.id.into()],
    )?;
    db.execute(
        "UPDATE mailboxes SET used_bytes = used_bytes + ? WHERE id = ?",
        &[to_i64(blob.size).into(), m.id.into()],
    )?;
    Ok(Outcome::MessageStored {
        uid: folder.uidnext as u32,
        uidvalidity: folder.uidvalidity as u32,
        duplicate: false,
    })
}

fn append_log(db: &mut Cache<'_>, head: &mut LogHead, event: &LogAppend) -> Result<Outcome> {
    let seq = head.seq + 1;
    let hash = hash_evento(&head.hash, event.line.as_bytes()); // PEC-SPEC §8
    db.execute(
        "INSERT INTO log (seq, time, line, hash) VALUES (?, ?, ?, ?)",
        &[
            (seq as i64).into(),
            millis(event.time).into(),
            (&event.line).into(),
            hash[..].into(),
        ],
    )?;
    for id in &event.msgids {
        db.execute(
            "INSERT INTO log_index (seq, kind, value) VALUES (?, 'msgid', ?)",
            &[(seq as i64).into(), id.into()],
        )?;
    }
    if let Some(sender) = &event.sender {
        db.execute(
            "INSERT INTO log_index (seq, kind, value) VALUES (?, 'sender', ?)",
            &[(seq as i64).into(), sender.to_lowercase().as_str().into()],
        )?;
    }
    *head = LogHead { seq, hash };
    Ok(Outcome::Logged { seq })
}

/// Claims due items: `attempts + 1` and a lease until `lease_until`.
pub(super) fn claim(
    db: &mut Cache<'_>,
    now: i64,
    limit: i64,
    lease_until: i64,
) -> Result<Vec<QueueItem>> {
    let found = db.query_all(
        "UPDATE queue SET attempts = attempts + 1, claimed_until = ?1
         WHERE id IN (
             SELECT id FROM queue
             WHERE status = 'scheduled' AND due <= ?2
               AND (claimed_until IS NULL OR claimed_until <= ?2)
             ORDER BY due, id LIMIT ?3)
         RETURNING id, key, kind, payload, due, attempts, status, last_error, body, body_size",
        &[lease_until.into(), now.into(), limit.into()],
        |r| Ok((r.int(0)?, RawItem::read(r)?)),
    )?;
    let mut items = found
        .into_iter()
        .map(|(id, raw)| Ok((id, raw.into_item()?)))
        .collect::<Result<Vec<_>>>()?;
    items.sort_by_key(|(id, item)| (item.due, *id));
    Ok(items.into_iter().map(|(_, item)| item).collect())
}

/// A claimed queue row as read, before conversion to the model.
struct RawItem {
    key: String,
    kind: String,
    payload: Vec<u8>,
    due: i64,
    attempts: i64,
    status: String,
    last_error: Option<String>,
    body: Option<String>,
    body_size: Option<i64>,
}

impl RawItem {
    fn read(r: &Row<'_>) -> std::result::Result<Self, SqlError> {
        Ok(Self {
            key: r.text(1)?,
            kind: r.text(2)?,
            payload: r.blob(3)?,
            due: r.int(4)?,
            attempts: r.int(5)?,
            status: r.text(6)?,
            last_error: r.text_opt(7)?,
            body: r.text_opt(8)?,
            body_size: r.int_opt(9)?,
        })
    }

    fn into_item(self) -> Result<QueueItem> {
        Ok(QueueItem {
            key: self.key,
            kind: self.kind,
            payload: self.payload,
            body: super::rows::queue_body(self.body, self.body_size)?,
            due: from_millis(self.due)?,
            attempts: u32_of("attempts", self.attempts)?,
            status: QueueStatus::parse(&self.status)?,
            last_error: self.last_error,
        })
    }
}

pub(super) fn u32_of(col: &str, v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|_| StoreError::CorruptRow(format!("{col} = {v}")))
}

pub(super) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
