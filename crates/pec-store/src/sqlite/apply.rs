//! Operations applied inside the writer's open transaction. Each function is one operation's
//! guard + effect; none commits.

use sqlx::{Row, SqliteConnection};

use super::{folder_name, rows};
use crate::batch::{
    Admission, Batch, Body, CommitReceipt, LogAppend, NewMessage, Operation, Outcome,
    INLINE_BODY_MAX,
};
use crate::chain::hash_evento;
use crate::error::StoreError;
use crate::model::{millis, state_of, Address, BlobRef, LogHead, MailboxState, QueueItem};

type Result<T> = std::result::Result<T, StoreError>;

/// Applies every operation of `batch`, unless its batch key was committed before.
pub(super) async fn batch(
    conn: &mut SqliteConnection,
    head: &mut LogHead,
    batch: &Batch,
    refs: &[Option<BlobRef>],
    now: i64,
) -> Result<CommitReceipt> {
    if let Some(key) = &batch.key {
        let seen = sqlx::query("SELECT 1 FROM applied_batches WHERE key = ?")
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?;
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
        outcomes.push(operation(conn, head, op, r, now).await?);
    }
    if let Some(key) = &batch.key {
        sqlx::query("INSERT INTO applied_batches (key, time) VALUES (?, ?)")
            .bind(key)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    Ok(CommitReceipt {
        outcomes,
        replayed: false,
    })
}

async fn operation(
    conn: &mut SqliteConnection,
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
            if mailbox(conn, address).await?.is_some() {
                return Err(StoreError::MailboxExists(address.to_string()));
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO mailboxes (address, password_hash, quota_bytes, created)
                 VALUES (?, ?, ?, ?) RETURNING id",
            )
            .bind(address.as_str())
            .bind(password.as_phc())
            .bind(to_i64(*quota_bytes))
            .bind(now)
            .fetch_one(&mut *conn)
            .await?;
            for name in ["INBOX", "Sent"] {
                create_folder(conn, id, name).await?;
            }
            Ok(Outcome::MailboxChanged)
        }
        Operation::SetPassword { address, password } => {
            update_mailbox(
                conn,
                address,
                sqlx::query("UPDATE mailboxes SET password_hash = ? WHERE address = ?")
                    .bind(password.as_phc()),
            )
            .await
        }
        Operation::SetQuota {
            address,
            quota_bytes,
        } => {
            update_mailbox(
                conn,
                address,
                sqlx::query("UPDATE mailboxes SET quota_bytes = ? WHERE address = ?")
                    .bind(to_i64(*quota_bytes)),
            )
            .await
        }
        Operation::SetEnabled { address, enabled } => {
            update_mailbox(
                conn,
                address,
                sqlx::query("UPDATE mailboxes SET enabled = ? WHERE address = ?").bind(*enabled),
            )
            .await
        }
        Operation::RemoveMailbox { address } => {
            let m = mailbox(conn, address)
                .await?
                .ok_or_else(|| StoreError::UnknownMailbox(address.to_string()))?;
            sqlx::query(
                "DELETE FROM messages WHERE folder_id IN (SELECT id FROM folders WHERE mailbox_id = ?)",
            )
            .bind(m.id)
            .execute(&mut *conn)
            .await?;
            sqlx::query("DELETE FROM folders WHERE mailbox_id = ?")
                .bind(m.id)
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM mailboxes WHERE id = ?")
                .bind(m.id)
                .execute(&mut *conn)
                .await?;
            Ok(Outcome::MailboxChanged)
        }
        Operation::PutMessage(msg) => put_message(conn, msg, body_ref).await,
        Operation::Enqueue(item) => {
            let done = sqlx::query(
                "INSERT INTO queue (key, kind, payload, due, status, created, updated)
                 VALUES (?, ?, ?, ?, 'scheduled', ?, ?) ON CONFLICT (key) DO NOTHING",
            )
            .bind(&item.key)
            .bind(&item.kind)
            .bind(&item.payload[..])
            .bind(millis(item.due))
            .bind(now)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            Ok(Outcome::Enqueued {
                created: done.rows_affected() == 1,
            })
        }
        Operation::CompleteQueueItem { key } => {
            let q = sqlx::query(
                "UPDATE queue SET status = 'done', claimed_until = NULL, updated = ?
                 WHERE key = ? AND status = 'scheduled'",
            )
            .bind(now)
            .bind(key);
            queue_transition(conn, key, q).await
        }
        Operation::RetryQueueItem { key, due, error } => {
            let q = sqlx::query(
                "UPDATE queue SET due = ?, last_error = ?, claimed_until = NULL, updated = ?
                 WHERE key = ? AND status = 'scheduled'",
            )
            .bind(millis(*due))
            .bind(error)
            .bind(now)
            .bind(key);
            queue_transition(conn, key, q).await
        }
        Operation::FailQueueItem { key, error } => {
            let q = sqlx::query(
                "UPDATE queue SET status = 'failed', last_error = ?, claimed_until = NULL,
                 updated = ? WHERE key = ? AND status = 'scheduled'",
            )
            .bind(error)
            .bind(now)
            .bind(key);
            queue_transition(conn, key, q).await
        }
        Operation::AppendLog(event) => append_log(conn, head, event).await,
    }
}

/// The columns of a mailbox the writer needs.
struct MailboxRow {
    id: i64,
    enabled: bool,
    quota: u64,
    used: u64,
}

async fn mailbox(conn: &mut SqliteConnection, address: &Address) -> Result<Option<MailboxRow>> {
    let row =
        sqlx::query("SELECT id, enabled, quota_bytes, used_bytes FROM mailboxes WHERE address = ?")
            .bind(address.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    row.map(|r| {
        Ok(MailboxRow {
            id: r.try_get("id")?,
            enabled: r.try_get("enabled")?,
            quota: r.try_get::<i64, _>("quota_bytes")? as u64,
            used: r.try_get::<i64, _>("used_bytes")? as u64,
        })
    })
    .transpose()
}

async fn update_mailbox<'q>(
    conn: &mut SqliteConnection,
    address: &'q Address,
    query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
) -> Result<Outcome> {
    let done = query.bind(address.as_str()).execute(&mut *conn).await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::UnknownMailbox(address.to_string()));
    }
    Ok(Outcome::MailboxChanged)
}

async fn queue_transition<'q>(
    conn: &mut SqliteConnection,
    key: &str,
    query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
) -> Result<Outcome> {
    let done = query.execute(&mut *conn).await?;
    if done.rows_affected() == 1 {
        return Ok(Outcome::QueueUpdated { changed: true });
    }
    let exists = sqlx::query("SELECT 1 FROM queue WHERE key = ?")
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
    match exists {
        Some(_) => Ok(Outcome::QueueUpdated { changed: false }),
        None => Err(StoreError::UnknownQueueItem(key.to_owned())),
    }
}

/// A new UIDVALIDITY: the current unix second, but always above every value handed out before,
/// so a folder deleted and recreated never gets its old UIDVALIDITY back.
async fn new_uidvalidity(conn: &mut SqliteConnection) -> Result<i64> {
    let last: Option<i64> =
        sqlx::query_scalar("SELECT value FROM meta WHERE key = 'last_uidvalidity'")
            .fetch_optional(&mut *conn)
            .await?;
    let next = (super::writer::now_millis() / 1000).max(last.unwrap_or(0) + 1);
    if next > i64::from(u32::MAX) {
        return Err(StoreError::CorruptRow("UIDVALIDITY space exhausted".into()));
    }
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ('last_uidvalidity', ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(next)
    .execute(&mut *conn)
    .await?;
    Ok(next)
}

async fn create_folder(conn: &mut SqliteConnection, mailbox_id: i64, name: &str) -> Result<Folder> {
    let uidvalidity = new_uidvalidity(conn).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO folders (mailbox_id, name, uidvalidity, uidnext) VALUES (?, ?, ?, 1)
         RETURNING id",
    )
    .bind(mailbox_id)
    .bind(name)
    .bind(uidvalidity)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Folder {
        id,
        uidvalidity,
        uidnext: 1,
    })
}

struct Folder {
    id: i64,
    uidvalidity: i64,
    uidnext: i64,
}

async fn put_message(
    conn: &mut SqliteConnection,
    msg: &NewMessage,
    body_ref: Option<BlobRef>,
) -> Result<Outcome> {
    // Guard: the same key stored before means a replay; report the original.
    let existing = sqlx::query(
        "SELECT m.uid, f.uidvalidity FROM messages m JOIN folders f ON f.id = m.folder_id
         WHERE m.key = ?",
    )
    .bind(&msg.key)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = existing {
        return Ok(Outcome::MessageStored {
            uid: rows::u32_col(&row, "uid")?,
            uidvalidity: rows::u32_col(&row, "uidvalidity")?,
            duplicate: true,
        });
    }
    // A `Bytes` body is stored inline below; the caller hashed it and left only bodies up to
    // INLINE_BODY_MAX as bytes (larger ones arrive as `Stored` blob files).
    let (blob, inline): (BlobRef, Option<&[u8]>) = match (&msg.body, body_ref) {
        (Body::Stored(r), _) => (*r, None),
        (Body::Bytes(bytes), Some(r)) if bytes.len() <= INLINE_BODY_MAX => (r, Some(bytes)),
        (Body::Bytes(_), _) => {
            return Err(StoreError::CommitFailed(
                "message body reached the writer unhashed or too large to store inline".into(),
            ))
        }
    };
    let name = folder_name(&msg.folder)?;
    let m = mailbox(conn, &msg.mailbox)
        .await?
        .ok_or_else(|| StoreError::UnknownMailbox(msg.mailbox.to_string()))?;
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
    let row = sqlx::query(
        "SELECT id, uidvalidity, uidnext FROM folders WHERE mailbox_id = ? AND name = ?",
    )
    .bind(m.id)
    .bind(&name)
    .fetch_optional(&mut *conn)
    .await?;
    let folder = match row {
        Some(r) => Folder {
            id: r.try_get("id")?,
            uidvalidity: r.try_get("uidvalidity")?,
            uidnext: r.try_get("uidnext")?,
        },
        None => create_folder(conn, m.id, &name).await?,
    };
    if let Some(bytes) = inline {
        // Content-addressed: an identical body already stored (by this group or earlier) is
        // the same row.
        sqlx::query("INSERT OR IGNORE INTO bodies (hash, bytes) VALUES (?, ?)")
            .bind(blob.hex())
            .bind(bytes)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query(
        "INSERT INTO messages (folder_id, uid, key, blob, size, internal_date, flags)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(folder.id)
    .bind(folder.uidnext)
    .bind(&msg.key)
    .bind(blob.hex())
    .bind(to_i64(blob.size))
    .bind(millis(msg.internal_date))
    .bind(msg.flags.join(" "))
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE folders SET uidnext = uidnext + 1 WHERE id = ?")
        .bind(folder.id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE mailboxes SET used_bytes = used_bytes + ? WHERE id = ?")
        .bind(to_i64(blob.size))
        .bind(m.id)
        .execute(&mut *conn)
        .await?;
    Ok(Outcome::MessageStored {
        uid: folder.uidnext as u32,
        uidvalidity: folder.uidvalidity as u32,
        duplicate: false,
    })
}

async fn append_log(
    conn: &mut SqliteConnection,
    head: &mut LogHead,
    event: &LogAppend,
) -> Result<Outcome> {
    let seq = head.seq + 1;
    let hash = hash_evento(&head.hash, event.line.as_bytes()); // PEC-SPEC §8
    sqlx::query("INSERT INTO log (seq, time, line, hash) VALUES (?, ?, ?, ?)")
        .bind(seq as i64)
        .bind(millis(event.time))
        .bind(&event.line)
        .bind(&hash[..])
        .execute(&mut *conn)
        .await?;
    let keys = event
        .msgids
        .iter()
        .map(|id| ("msgid", id.clone()))
        .chain(event.sender.iter().map(|s| ("sender", s.to_lowercase())));
    for (kind, value) in keys {
        sqlx::query("INSERT INTO log_index (seq, kind, value) VALUES (?, ?, ?)")
            .bind(seq as i64)
            .bind(kind)
            .bind(value)
            .execute(&mut *conn)
            .await?;
    }
    *head = LogHead { seq, hash };
    Ok(Outcome::Logged { seq })
}

/// Claims due items: `attempts + 1` and a lease until `lease_until`.
pub(super) async fn claim(
    conn: &mut SqliteConnection,
    now: i64,
    limit: i64,
    lease_until: i64,
) -> Result<Vec<QueueItem>> {
    let found = sqlx::query(
        "UPDATE queue SET attempts = attempts + 1, claimed_until = ?1
         WHERE id IN (
             SELECT id FROM queue
             WHERE status = 'scheduled' AND due <= ?2
               AND (claimed_until IS NULL OR claimed_until <= ?2)
             ORDER BY due, id LIMIT ?3)
         RETURNING id, key, kind, payload, due, attempts, status, last_error",
    )
    .bind(lease_until)
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut items = found
        .iter()
        .map(|r| Ok((r.try_get::<i64, _>("id")?, rows::queue_item(r)?)))
        .collect::<Result<Vec<_>>>()?;
    items.sort_by_key(|(id, item)| (item.due, *id));
    Ok(items.into_iter().map(|(_, item)| item).collect())
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
