//! Reading the legal log: search by index, and verification of the whole chain.

use sqlx::{Row, SqliteConnection, SqlitePool};

use super::rows::hash_col;
use crate::chain::{hash_evento, GENESI};
use crate::error::{ChainBreak, ChainBreakReason, StoreError};
use crate::model::{from_millis, millis, LogEntry, LogHead, LogQuery};

type Result<T> = std::result::Result<T, StoreError>;

/// Rows read per page while verifying.
const PAGE: i64 = 4096;

pub(super) async fn search(pool: &SqlitePool, q: &LogQuery) -> Result<Vec<LogEntry>> {
    // Built from constant fragments only; every value is bound.
    let mut sql = String::from("SELECT seq, time, line, hash FROM log WHERE 1 = 1");
    if q.msgid.is_some() {
        sql.push_str(" AND seq IN (SELECT seq FROM log_index WHERE kind = 'msgid' AND value = ?)");
    }
    if q.sender.is_some() {
        sql.push_str(" AND seq IN (SELECT seq FROM log_index WHERE kind = 'sender' AND value = ?)");
    }
    if q.since.is_some() {
        sql.push_str(" AND time >= ?");
    }
    sql.push_str(" ORDER BY seq LIMIT ?");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    if let Some(m) = &q.msgid {
        query = query.bind(m.clone());
    }
    if let Some(s) = &q.sender {
        query = query.bind(s.to_lowercase());
    }
    if let Some(t) = q.since {
        query = query.bind(millis(t));
    }
    query = query.bind(i64::from(q.limit.unwrap_or(1000)));
    query
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(LogEntry {
                seq: r.try_get::<i64, _>("seq")? as u64,
                time: from_millis(r.try_get("time")?)?,
                line: r.try_get("line")?,
                hash: hash_col(r, "hash")?,
            })
        })
        .collect()
}

/// Walks the chain from `head` (an event already checked, or the genesis) to its end, a page
/// at a time; the end.
pub(super) async fn catena(conn: &mut SqliteConnection, mut head: LogHead) -> Result<LogHead> {
    let broken = |seq, reason| StoreError::LogTampered(ChainBreak { seq, reason });
    loop {
        let rows =
            sqlx::query("SELECT seq, line, hash FROM log WHERE seq > ? ORDER BY seq LIMIT ?")
                .bind(head.seq as i64)
                .bind(PAGE)
                .fetch_all(&mut *conn)
                .await?;
        if rows.is_empty() {
            return Ok(head);
        }
        for r in &rows {
            let seq = r.try_get::<i64, _>("seq")? as u64;
            let expected = head.seq + 1;
            if seq != expected {
                return Err(broken(expected, ChainBreakReason::Missing));
            }
            let line: String = r.try_get("line")?;
            let hash = hash_evento(&head.hash, line.as_bytes()); // PEC-SPEC §8
            if hash_col(r, "hash")? != hash {
                return Err(broken(seq, ChainBreakReason::HashMismatch));
            }
            head = LogHead { seq, hash };
        }
    }
}

/// Walks the chain in one read transaction (a consistent snapshot while the writer appends).
pub(super) async fn verify(pool: &SqlitePool) -> Result<LogHead> {
    let mut tx = pool.begin().await?;
    let broken = |seq, reason| StoreError::LogTampered(ChainBreak { seq, reason });
    let head = catena(
        &mut tx,
        LogHead {
            seq: 0,
            hash: GENESI,
        },
    )
    .await?;
    let recorded = sqlx::query("SELECT seq, hash FROM log_head WHERE id = 1")
        .fetch_one(&mut *tx)
        .await?;
    let recorded_seq = recorded.try_get::<i64, _>("seq")? as u64;
    if recorded_seq > head.seq {
        return Err(broken(head.seq + 1, ChainBreakReason::Truncated));
    }
    if recorded_seq != head.seq || hash_col(&recorded, "hash")? != head.hash {
        return Err(broken(head.seq, ChainBreakReason::HeadMismatch));
    }
    tx.commit().await?;
    Ok(head)
}
