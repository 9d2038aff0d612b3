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

/// Before anything is created or migrated: a database file gone while `log.head` names
/// events is refused as it is, not recreated empty first.
pub(super) fn prima_di_creare(dir: &Path, sigillo: Option<&dyn Sigillo>) -> Result<()> {
    if dir.join(super::DATABASE_FILE).exists() {
        return Ok(());
    }
    match head_file::leggi(dir, sigillo)? {
        Letto::Testa(file) if file.seq > 0 => Err(StoreError::LogLost {
            recorded: file.seq,
            found: 0,
        }),
        _ => Ok(()),
    }
}

/// SQLite's `quick_check`, before the migrations write anything into a damaged file.
pub(super) async fn rapido(conn: &mut SqliteConnection) -> Result<()> {
    let esito: String = sqlx::query_scalar("PRAGMA quick_check(1)")
        .fetch_one(&mut *conn)
        .await?;
    if esito != "ok" {
        return Err(StoreError::DatabaseDamaged(esito));
    }
    Ok(())
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
    let ultimo = super::writer::load_head(conn).await?;
    // The database's own record of its head, written with every event, must be the last row.
    let registrata = testa_registrata(conn).await?;
    if registrata.seq > ultimo.seq {
        return Err(StoreError::LogLost {
            recorded: registrata.seq,
            found: ultimo.seq,
        });
    }
    if registrata != ultimo {
        return Err(StoreError::LogTampered(ChainBreak {
            seq: ultimo.seq,
            reason: ChainBreakReason::HeadMismatch,
        }));
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
            if file.seq > 0 {
                let hash = hash_di(conn, file.seq).await?;
                if hash != Some(file.hash) {
                    return Err(StoreError::LogTampered(ChainBreak {
                        seq: file.seq,
                        reason: ChainBreakReason::HeadMismatch,
                    }));
                }
            }
            super::log::catena(conn, file).await?;
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
        match head_file::leggi(dir, sigillo) {
            Ok(Letto::Testa(file)) => {
                report.testa_registrata = Some(file.seq);
                report.problemi.push(format!(
                    "log: {} events recorded in {}, none in the database",
                    file.seq,
                    head_file::FILE
                ));
            }
            Ok(Letto::Assente) => {}
            Err(e) => report.problemi.push(e.to_string()),
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
    let file = dir.join(head_file::FILE);
    if sigillo.is_none() && head_file::sigillato(&file) {
        return Err(StoreError::SealNeeded(file));
    }
    let pool = grezzo(&dir.join(super::DATABASE_FILE)).await?;
    let head = super::log::verify(&pool).await;
    pool.close().await;
    let head = head?;
    head_file::scrivi(dir, &head, sigillo)?;
    Ok(head)
}

/// Whether the database's schema is one that keeps `log.head` (older ones get it at the
/// next open).
async fn con_testa(pool: &SqlitePool) -> bool {
    sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(version) FROM schema_version")
        .fetch_one(pool)
        .await
        .ok()
        .flatten()
        .is_some_and(|v| v >= super::schema::WITH_LOG_HEAD)
}

/// The full check: SQLite's checks, the chain against the head file, every body. Each part
/// reads on its own (the writer may go on in between): the head file is read before the
/// chain, so a lagging file is never mistaken for lost events.
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
    let registrata = match head_file::leggi(dir, sigillo) {
        Ok(Letto::Testa(file)) => {
            report.testa_registrata = Some(file.seq);
            Ok(Some(file))
        }
        Ok(Letto::Assente) => Ok(None),
        Err(e) => {
            report.problemi.push(e.to_string());
            Err(())
        }
    };
    match super::log::verify(pool).await {
        Ok(head) => {
            report.eventi = head.seq;
            match registrata {
                Ok(Some(file)) => {
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
                Ok(None) if head.seq > 0 && con_testa(pool).await => {
                    report.problemi.push(format!(
                        "log: {} missing, {} events in the database",
                        head_file::FILE,
                        head.seq
                    ));
                }
                Ok(None) | Err(()) => {}
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

/// Every body a message or a scheduled queue item names, read back and hashed (inline rows,
/// then blob files).
async fn corpi(pool: &SqlitePool, blobs: &BlobStore, report: &mut CheckReport) -> Result<()> {
    let nomi: Vec<(String, i64)> = sqlx::query_as(
        "SELECT blob, size FROM messages
         UNION SELECT body, body_size FROM queue WHERE body IS NOT NULL AND status = 'scheduled'",
    )
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
        // Read and hashed as any reader would (on a blocking thread, not the server's).
        let ok = matches!(super::leggi_corpo(pool, blobs, &r).await, Ok(Some(_)));
        if !ok {
            report
                .problemi
                .push(format!("body {nome}: missing or does not match its hash"));
        }
    }
    Ok(())
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
