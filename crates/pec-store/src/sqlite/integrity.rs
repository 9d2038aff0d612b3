//! Integrity checks of the store (issue 12, item 5): a quick one every time the store opens,
//! and a full one on demand ([`super::SqliteStore::check`], `gestore store check`).
//!
//! At open: SQLite's `quick_check` (page and b-tree structure), the database's own recorded
//! chain head against its last row, and the head file ([`super::head_file`]) against the
//! database, with the chain links of the events committed after the file was last written.
//! Any failure refuses the open: a provider must not start on a store that lost or damaged
//! its legal log, nor quietly begin a new one.
//!
//! On demand, in addition: `integrity_check` (also every index), the whole chain, and every
//! stored body read back and hashed.

use std::path::Path;

use sqlx::{Row, SqliteConnection, SqlitePool};

use super::head_file::{self, Letto, Sigillo};
use super::rows::hash_col;
use crate::blob::BlobStore;
use crate::chain::{hash_evento, GENESI};
use crate::error::{ChainBreak, ChainBreakReason, StoreError};
use crate::model::{BlobRef, LogHead};

type Result<T> = std::result::Result<T, StoreError>;

/// What a full check found; `problemi` empty means intact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Events in the log, all chained.
    pub eventi: u64,
    /// The head the head file records (`None` without one).
    pub testa_registrata: Option<u64>,
    /// Message bodies read back and hashed.
    pub corpi: u64,
    /// Every problem found, one line each.
    pub problemi: Vec<String>,
}

impl CheckReport {
    /// Nothing wrong.
    pub fn intatto(&self) -> bool {
        self.problemi.is_empty()
    }
}

/// The checks at open; returns the head the head file holds after them. `schema` is the
/// version the database had before this open migrated it: a store from before `log.head`
/// gets its first one; a newer store without it lost it, and is refused.
pub(super) async fn all_apertura(
    conn: &mut SqliteConnection,
    dir: &Path,
    sigillo: Option<&dyn Sigillo>,
    schema: i64,
) -> Result<LogHead> {
    let esito: String = sqlx::query_scalar("PRAGMA quick_check(1)")
        .fetch_one(&mut *conn)
        .await?;
    if esito != "ok" {
        return Err(StoreError::DatabaseDamaged(esito));
    }
    let ultimo = ultima_riga(conn).await?;
    let registrata = testa_registrata(conn).await?;
    if registrata.seq > ultimo.seq {
        return Err(StoreError::LogLost {
            recorded: registrata.seq,
            found: ultimo.seq,
        });
    }
    match head_file::leggi(dir, sigillo)? {
        Letto::Assente => {
            // A new store, or one from before the file existed, starts recording now; any
            // other has lost it.
            if ultimo.seq > 0 && schema >= super::schema::WITH_LOG_HEAD {
                return Err(StoreError::LogHeadMissing(dir.join(head_file::FILE)));
            }
            head_file::scrivi(dir, &ultimo, sigillo)?;
            Ok(ultimo)
        }
        Letto::Testa(file) => {
            if file.seq > ultimo.seq {
                return Err(StoreError::LogLost {
                    recorded: file.seq,
                    found: ultimo.seq,
                });
            }
            // The events committed since the file was written must chain from its head.
            let mut head = file;
            if file.seq > 0 {
                let hash = hash_di(conn, file.seq).await?;
                if hash != Some(file.hash) {
                    return Err(StoreError::LogTampered(ChainBreak {
                        seq: file.seq,
                        reason: ChainBreakReason::HeadMismatch,
                    }));
                }
            }
            let rows = sqlx::query("SELECT seq, line, hash FROM log WHERE seq > ? ORDER BY seq")
                .bind(file.seq as i64)
                .fetch_all(&mut *conn)
                .await?;
            for r in &rows {
                head = collega(head, r)?;
            }
            Ok(file)
        }
    }
}

/// The full check of a data folder no process has open (a store that refuses to open
/// included): the folder is locked, the database opened without migrations or checks of its
/// own, nothing changed, every problem reported.
pub async fn check_folder(dir: &Path, sigillo: Option<&dyn Sigillo>) -> Result<CheckReport> {
    let _lock = super::lock_folder(dir).await?;
    let db = dir.join(super::DATABASE_FILE);
    if !db.exists() {
        let mut report = CheckReport::default();
        report
            .problemi
            .push(format!("database {} missing", db.display()));
        if let Ok(Letto::Testa(file)) = head_file::leggi(dir, sigillo) {
            report.testa_registrata = Some(file.seq);
            report.problemi.push(format!(
                "log: {} events recorded in {}, none in the database",
                file.seq,
                head_file::FILE
            ));
        }
        return Ok(report);
    }
    let pool = grezzo(&db).await?;
    let blobs = BlobStore::at(&dir.join("blobs"));
    let report = completo(&pool, dir, &blobs, sigillo).await;
    pool.close().await;
    report
}

/// One connection to an existing database, without migrations or checks of its own (the
/// caller holds the folder lock). Not read-only: SQLite then could not read the write-ahead
/// log, where the last commits of a stopped provider may still be; nothing is written but that
/// log's index.
async fn grezzo(db: &Path) -> Result<SqlitePool> {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .create_if_missing(false);
    Ok(sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?)
}

/// Records the head of a store whose `log.head` is missing or no longer matches (after a
/// backup was restored on purpose): only after the whole chain verifies. Returns the head.
pub async fn adopt_head(dir: &Path, sigillo: Option<&dyn Sigillo>) -> Result<LogHead> {
    let _lock = super::lock_folder(dir).await?;
    let pool = grezzo(&dir.join(super::DATABASE_FILE)).await?;
    let head = super::log::verify(&pool).await;
    pool.close().await;
    let head = head?;
    head_file::scrivi(dir, &head, sigillo)?;
    Ok(head)
}

/// The full check, on a consistent snapshot.
pub(super) async fn completo(
    pool: &SqlitePool,
    dir: &Path,
    blobs: &BlobStore,
    sigillo: Option<&dyn Sigillo>,
) -> Result<CheckReport> {
    let mut report = CheckReport::default();
    let mut conn = pool.acquire().await?;
    match sqlx::query_scalar::<_, String>("PRAGMA integrity_check(100)")
        .fetch_all(&mut *conn)
        .await
    {
        Ok(righe) if righe == ["ok"] => {}
        Ok(righe) => report
            .problemi
            .extend(righe.into_iter().map(|r| format!("database: {r}"))),
        Err(e) => report.problemi.push(format!("database: {e}")),
    }
    match sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut *conn)
        .await
    {
        Ok(fk) if fk.is_empty() => {}
        Ok(fk) => report.problemi.push(format!(
            "database: {} rows point at rows that are gone",
            fk.len()
        )),
        Err(e) => report.problemi.push(format!("database: {e}")),
    }
    drop(conn);
    // The head file first: it only ever lags the database, so read before the chain it
    // cannot name events the chain (read later, while the writer goes on) does not hold.
    let registrata = head_file::leggi(dir, sigillo);
    match super::log::verify(pool).await {
        Ok(head) => {
            report.eventi = head.seq;
            match registrata {
                Ok(Letto::Testa(file)) => {
                    report.testa_registrata = Some(file.seq);
                    if file.seq > head.seq {
                        report.problemi.push(format!(
                            "log: {} events recorded in {}, {} in the database",
                            file.seq,
                            head_file::FILE,
                            head.seq
                        ));
                    } else if file.seq > 0 {
                        let mut conn = pool.acquire().await?;
                        match hash_di(&mut conn, file.seq).await {
                            Ok(h) if h == Some(file.hash) => {}
                            Ok(_) => report.problemi.push(format!(
                                "log: event {} is not the one {} records",
                                file.seq,
                                head_file::FILE
                            )),
                            Err(e) => report.problemi.push(format!("log: {e}")),
                        }
                    }
                }
                Ok(Letto::Assente) => {}
                Err(e) => report.problemi.push(e.to_string()),
            }
        }
        Err(StoreError::LogTampered(b)) => report.problemi.push(format!(
            "log: chain broken at event {}: {}",
            b.seq, b.reason
        )),
        Err(e) => report.problemi.push(format!("log: cannot be read: {e}")),
    }
    if let Err(e) = corpi(pool, blobs, &mut report).await {
        report.problemi.push(format!("bodies: cannot be read: {e}"));
    }
    Ok(report)
}

/// Every body a message names, read back and hashed (inline rows, then blob files).
async fn corpi(pool: &SqlitePool, blobs: &BlobStore, report: &mut CheckReport) -> Result<()> {
    let nomi: Vec<(String, i64)> = sqlx::query_as("SELECT DISTINCT blob, size FROM messages")
        .fetch_all(pool)
        .await?;
    for (nome, size) in nomi {
        report.corpi += 1;
        let Some(r) = BlobRef::from_hex(&nome, size as u64) else {
            report
                .problemi
                .push(format!("body {nome}: not a SHA-256 name"));
            continue;
        };
        let inline: Option<Vec<u8>> = sqlx::query_scalar("SELECT bytes FROM bodies WHERE hash = ?")
            .bind(&nome)
            .fetch_optional(pool)
            .await?;
        let ok = match inline {
            Some(bytes) => BlobStore::reference(&bytes) == r,
            None => {
                let blobs = blobs.clone();
                tokio::task::spawn_blocking(move || blobs.get(&r).is_ok())
                    .await
                    .unwrap_or(false)
            }
        };
        if !ok {
            report
                .problemi
                .push(format!("body {nome}: missing or does not match its hash"));
        }
    }
    Ok(())
}

async fn ultima_riga(conn: &mut SqliteConnection) -> Result<LogHead> {
    let row = sqlx::query("SELECT seq, hash FROM log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match row {
        None => LogHead {
            seq: 0,
            hash: GENESI,
        },
        Some(r) => LogHead {
            seq: r.try_get::<i64, _>("seq")? as u64,
            hash: hash_col(&r, "hash")?,
        },
    })
}

async fn testa_registrata(conn: &mut SqliteConnection) -> Result<LogHead> {
    let r = sqlx::query("SELECT seq, hash FROM log_head WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    Ok(LogHead {
        seq: r.try_get::<i64, _>("seq")? as u64,
        hash: hash_col(&r, "hash")?,
    })
}

async fn hash_di(conn: &mut SqliteConnection, seq: u64) -> Result<Option<[u8; 32]>> {
    let row = sqlx::query("SELECT hash FROM log WHERE seq = ?")
        .bind(seq as i64)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| hash_col(&r, "hash")).transpose()
}

/// The head after row `r`, which must follow `head` in the chain.
fn collega(head: LogHead, r: &sqlx::sqlite::SqliteRow) -> Result<LogHead> {
    let seq = r.try_get::<i64, _>("seq")? as u64;
    let broken = |seq, reason| StoreError::LogTampered(ChainBreak { seq, reason });
    if seq != head.seq + 1 {
        return Err(broken(head.seq + 1, ChainBreakReason::Missing));
    }
    let line: String = r.try_get("line")?;
    let hash = hash_evento(&head.hash, line.as_bytes()); // PEC-SPEC §8
    if hash_col(r, "hash")? != hash {
        return Err(broken(seq, ChainBreakReason::HashMismatch));
    }
    Ok(LogHead { seq, hash })
}
