//! Reads of folders for IMAP (LIST, STATUS, SELECT): through sqlx's reader pool, never the
//! writer. Counts come from indexes: `messages(folder_id, uid)` for the total (covering) and
//! the partial index `messages_unseen` for the unseen ones, so a LIST reads no message row
//! but the unseen ones.

use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{Row, SqliteConnection};

use super::{folder_name, rows};
use crate::model::{from_millis, Address, FolderInfo, FolderSnapshot, MessageSummary};
use crate::Result;

/// The query of [`FolderInfo`] (and the folder id) for one mailbox's folders, followed by
/// `$tail` (static text, as sqlx wants).
macro_rules! select_folders {
    ($tail:literal) => {
        concat!(
            "SELECT f.id, f.name, f.uidvalidity, f.uidnext, f.subscribed,
                (SELECT COUNT(*) FROM messages m WHERE m.folder_id = f.id) AS messages,
                (SELECT COUNT(*) FROM messages m WHERE m.folder_id = f.id AND m.seen = 0)
                    AS unseen
             FROM folders f JOIN mailboxes b ON b.id = f.mailbox_id
             WHERE b.address = ? ",
            $tail
        )
    };
}

fn folder_info(r: &SqliteRow) -> Result<FolderInfo> {
    Ok(FolderInfo {
        name: r.try_get("name")?,
        uidvalidity: rows::u32_col(r, "uidvalidity")?,
        uidnext: rows::u32_col(r, "uidnext")?,
        messages: r.try_get::<i64, _>("messages")?.max(0) as u64,
        unseen: r.try_get::<i64, _>("unseen")?.max(0) as u64,
        subscribed: r.try_get("subscribed")?,
    })
}

/// One folder's counters and its id.
async fn folder_on(
    conn: &mut SqliteConnection,
    address: &Address,
    name: &str,
) -> Result<Option<(i64, FolderInfo)>> {
    let row = sqlx::query(select_folders!("AND f.name = ?"))
        .bind(address.as_str())
        .bind(name)
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok((r.try_get("id")?, folder_info(&r)?)))
        .transpose()
}

/// [`crate::Store::folder`].
pub(super) async fn folder(
    pool: &SqlitePool,
    address: &Address,
    folder: &str,
) -> Result<Option<FolderInfo>> {
    let name = folder_name(folder)?;
    let mut conn = pool.acquire().await?;
    Ok(folder_on(&mut conn, address, &name).await?.map(|(_, f)| f))
}

/// [`crate::Store::folders`].
pub(super) async fn folders(pool: &SqlitePool, address: &Address) -> Result<Vec<FolderInfo>> {
    sqlx::query(select_folders!("ORDER BY f.name <> 'INBOX', f.name"))
        .bind(address.as_str())
        .fetch_all(pool)
        .await?
        .iter()
        .map(folder_info)
        .collect()
}

/// [`crate::Store::snapshot`]: the counters and the messages in one read transaction, so
/// they agree with each other.
pub(super) async fn snapshot(
    pool: &SqlitePool,
    address: &Address,
    folder: &str,
) -> Result<Option<FolderSnapshot>> {
    let name = folder_name(folder)?;
    let mut tx = pool.begin().await?;
    let Some((id, info)) = folder_on(&mut tx, address, &name).await? else {
        return Ok(None);
    };
    let messages = sqlx::query(
        "SELECT uid, size, internal_date, flags FROM messages WHERE folder_id = ? ORDER BY uid",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| {
        Ok(MessageSummary {
            uid: rows::u32_col(r, "uid")?,
            size: r.try_get::<i64, _>("size")?.max(0) as u64,
            internal_date: from_millis(r.try_get("internal_date")?)?,
            flags: crate::flags::from_column(r.try_get("flags")?),
        })
    })
    .collect::<Result<Vec<_>>>()?;
    tx.commit().await?;
    Ok(Some(FolderSnapshot {
        folder: info,
        messages,
    }))
}
