//! Decoding rows into the model.

use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::error::StoreError;
use crate::model::{
    from_millis, Address, BlobRef, MailboxInfo, MessageMeta, QueueItem, QueueStatus,
};

type Result<T> = std::result::Result<T, StoreError>;

pub(super) fn u32_col(row: &SqliteRow, col: &str) -> Result<u32> {
    let v: i64 = row.try_get(col)?;
    u32::try_from(v).map_err(|_| StoreError::CorruptRow(format!("{col} = {v}")))
}

fn u64_col(row: &SqliteRow, col: &str) -> Result<u64> {
    let v: i64 = row.try_get(col)?;
    u64::try_from(v).map_err(|_| StoreError::CorruptRow(format!("{col} = {v}")))
}

pub(super) fn hash_col(row: &SqliteRow, col: &str) -> Result<[u8; 32]> {
    let v: Vec<u8> = row.try_get(col)?;
    v.try_into()
        .map_err(|_| StoreError::CorruptRow(format!("{col} is not 32 bytes")))
}

pub(super) fn queue_item(row: &SqliteRow) -> Result<QueueItem> {
    let body: Option<String> = row.try_get("body")?;
    let size: Option<i64> = row.try_get("body_size")?;
    Ok(QueueItem {
        key: row.try_get("key")?,
        kind: row.try_get("kind")?,
        payload: row.try_get("payload")?,
        body: queue_body(body, size)?,
        due: from_millis(row.try_get("due")?)?,
        attempts: u32_col(row, "attempts")?,
        status: QueueStatus::parse(row.try_get("status")?)?,
        last_error: row.try_get("last_error")?,
    })
}

/// The reference of a queue item's stored bytes, from its `body` and `body_size` columns.
pub(super) fn queue_body(hex: Option<String>, size: Option<i64>) -> Result<Option<BlobRef>> {
    match (hex, size) {
        (None, _) => Ok(None),
        (Some(hex), size) => {
            let size = u64::try_from(size.unwrap_or(-1))
                .map_err(|_| StoreError::CorruptRow(format!("queue body {hex:?} without size")))?;
            BlobRef::from_hex(&hex, size)
                .map(Some)
                .ok_or_else(|| StoreError::CorruptRow(format!("queue body {hex:?}")))
        }
    }
}

pub(super) fn mailbox(row: &SqliteRow) -> Result<MailboxInfo> {
    Ok(MailboxInfo {
        address: Address::parse(row.try_get("address")?)?,
        quota_bytes: u64_col(row, "quota_bytes")?,
        used_bytes: u64_col(row, "used_bytes")?,
        enabled: row.try_get("enabled")?,
        created: from_millis(row.try_get("created")?)?,
    })
}

pub(super) fn message(row: &SqliteRow) -> Result<MessageMeta> {
    let hex: String = row.try_get("blob")?;
    let blob = BlobRef::from_hex(&hex, u64_col(row, "size")?)
        .ok_or_else(|| StoreError::CorruptRow(format!("blob name {hex:?}")))?;
    let flags: String = row.try_get("flags")?;
    Ok(MessageMeta {
        folder: row.try_get("folder")?,
        uid: u32_col(row, "uid")?,
        key: row.try_get("key")?,
        blob,
        internal_date: from_millis(row.try_get("internal_date")?)?,
        flags: flags.split_whitespace().map(str::to_owned).collect(),
    })
}
