//! The embedded backend: SQLite in WAL mode (`data_dir/gestore.sqlite`) and blob files
//! (`data_dir/blobs/`).
//!
//! Durability: `journal_mode=WAL`, `synchronous=FULL`. A COMMIT returns after the WAL is
//! fsynced, so an acknowledged batch survives both `kill -9` and power loss. Bodies up to
//! [`crate::INLINE_BODY_MAX`] are rows of table `bodies`, written in the transaction of the batch
//! that references them (covered by the group's one WAL fsync); larger bodies are fsynced files,
//! and their folder entries fsynced, before the batch that references them is sent to the
//! writer. One process per data folder, enforced by an advisory lock on
//! `data_dir/gestore.lock`.

mod apply;
mod folder;
mod head_file;
mod integrity;
mod log;
mod message;
mod raw;
mod read;
mod rows;
mod schema;
mod writer;

use std::fs::{File, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Row};
use tokio::sync::{mpsc, oneshot};

pub use self::head_file::Sigillo;
pub use self::integrity::{adopt_head, check_folder, CheckReport};
use self::writer::{Command, Writer};
use crate::batch::{Batch, Body, CommitReceipt, Operation, INLINE_BODY_MAX};
use crate::blob::{sync_dir, BlobStore};
use crate::error::StoreError;
use crate::model::{
    millis, Address, BlobRef, FetchedMessage, FolderInfo, FolderSnapshot, LogEntry, LogHead,
    LogQuery, MailboxInfo, MessageMeta, QueueItem,
};
use crate::password::{self, PasswordHash};
use crate::watch::Watchers;
use crate::{BoxFuture, Result, Store};

/// File name of the database inside the data folder.
pub const DATABASE_FILE: &str = "gestore.sqlite";
/// How long `open` waits for a previous store on the same folder to let go.
const LOCK_WAIT: Duration = Duration::from_secs(2);
/// Commands waiting for the writer beyond this block their senders (back-pressure).
const CHANNEL_DEPTH: usize = 4096;
/// Reader connections (WAL lets them read while the writer writes).
const READERS: u32 = 4;

/// The SQLite store. Cheap to clone: clones share the writer, the readers and the lock.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    writer: mpsc::Sender<Command>,
    readers: SqlitePool,
    blobs: BlobStore,
    /// IDLE's counters, moved after each commit that changed a watched mailbox.
    watchers: Watchers,
    /// Seals `log.head`, when the store was opened with one.
    sigillo: Option<Arc<dyn Sigillo>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `data_dir`, which must let no other user in
    /// ([`crate::prepare_data_dir`]): takes the folder lock (waiting up to
    /// 2 s for a store being dropped), creates `blobs/`, opens `gestore.sqlite` in WAL mode with
    /// `synchronous=FULL`, applies pending migrations, releases the queue claims of a previous
    /// process and starts the writer thread. Must be called inside a tokio runtime.
    pub async fn open(data_dir: &Path) -> Result<Self> {
        Self::open_sealed(data_dir, None).await
    }

    /// [`SqliteStore::open`], with `log.head` sealed by `sigillo` (gestore passes the
    /// provider's signer): a head file without its valid seal is refused, every head written
    /// is sealed. Without a sealer seals are neither checked nor written.
    pub async fn open_sealed(data_dir: &Path, sigillo: Option<Arc<dyn Sigillo>>) -> Result<Self> {
        crate::prepare_data_dir(data_dir)?;
        let lock = lock_folder(data_dir).await?;
        let blobs = BlobStore::open(&data_dir.join("blobs"))?;
        integrity::prima_di_creare(data_dir, sigillo.as_deref())?;
        let db = data_dir.join(DATABASE_FILE);
        crate::folder_perms::private_file(&db)?;
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(&db)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let mut conn = options.connect().await?;
        integrity::rapido(&mut conn).await?;
        let schema = schema::migrate(&mut conn).await?;
        let registrato =
            integrity::all_apertura(&mut conn, data_dir, sigillo.as_deref(), schema).await?;
        // The folder lock says no other process is alive here, so every claim left in the
        // queue belongs to a process that died (kill -9, power loss): release them now rather
        // than let its work wait for the lease to run out.
        sqlx::query("UPDATE queue SET claimed_until = NULL WHERE claimed_until IS NOT NULL")
            .execute(&mut conn)
            .await?;
        sync_dir(data_dir)?;
        // The writer holds the folder lock: it is released after the writer's last write to
        // log.head, so a store reopened at once never races the one closing.
        let registro =
            head_file::Registro::new(data_dir.to_owned(), registrato, sigillo.clone(), lock);
        let writer = Writer::new(conn, registro).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options)
            .await?;
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        writer.spawn(rx)?;
        // Build the dummy password hash now rather than during the first failed login.
        tokio::task::spawn_blocking(password::warm_up);
        Ok(Self {
            inner: Arc::new(Inner {
                dir: data_dir.to_owned(),
                writer: tx,
                readers,
                blobs,
                watchers: Watchers::default(),
                sigillo,
            }),
        })
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The blob store, to put a body once and reference it from several messages.
    pub fn blobs(&self) -> &BlobStore {
        &self.inner.blobs
    }

    /// Stores `bytes` as a durable blob (on a blocking thread).
    pub async fn put_blob(&self, bytes: Vec<u8>) -> Result<crate::BlobRef> {
        let blobs = self.inner.blobs.clone();
        tokio::task::spawn_blocking(move || blobs.put(&bytes))
            .await
            .map_err(|e| StoreError::CommitFailed(e.to_string()))?
    }

    /// The full integrity check (issue 12, item 5): SQLite's `integrity_check`, the whole log
    /// chain and the head file, every stored body read back and hashed. Reads only; runs
    /// beside the writer (each part reads on its own, the head file before the chain).
    pub async fn check(&self) -> Result<CheckReport> {
        integrity::completo(
            &self.inner.readers,
            &self.inner.dir,
            &self.inner.blobs,
            self.inner.sigillo.as_deref(),
        )
        .await
    }

    /// Waits for the writer to finish what it holds, closes every connection and stops.
    /// Later calls on any clone fail with [`StoreError::WriterGone`].
    pub async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self
            .inner
            .writer
            .send(Command::Shutdown { reply })
            .await
            .is_ok()
        {
            let _ = done.await;
        }
        self.inner.readers.close().await;
    }

    async fn commit_batch(&self, mut batch: Batch) -> Result<CommitReceipt> {
        // Bodies are hashed in the caller's task so the writer does not. Small ones stay bytes
        // and the writer stores them inline, in the group's transaction (no fsync of their
        // own). Large ones become durable files first: the writer never waits on them, and a
        // crash before the commit leaves at worst an unreferenced blob.
        let mut refs: Vec<Option<BlobRef>> = vec![None; batch.ops.len()];
        let mut small = Vec::new();
        let mut large = Vec::new();
        for (i, op) in batch.ops.iter().enumerate() {
            if let Some(Body::Bytes(b)) = body_of(op) {
                if b.len() <= INLINE_BODY_MAX {
                    small.push(i);
                } else {
                    large.push((i, b.clone()));
                }
            }
        }
        let small_bytes: usize = small.iter().map(|&i| body_len(&batch.ops[i])).sum();
        if small_bytes <= HASH_IN_TASK_MAX {
            let mut seen = Vec::new();
            for &i in &small {
                refs[i] = body_ref(&batch.ops[i], &mut seen);
            }
        } else {
            // Hashing megabytes would hold up the runtime thread: do it on a blocking one.
            let ops = std::mem::take(&mut batch.ops);
            let (ops, hashed) = tokio::task::spawn_blocking(move || {
                let mut seen = Vec::new();
                let hashed: Vec<_> = small
                    .iter()
                    .map(|&i| (i, body_ref(&ops[i], &mut seen)))
                    .collect();
                (ops, hashed)
            })
            .await
            .map_err(|e| StoreError::CommitFailed(e.to_string()))?;
            batch.ops = ops;
            for (i, r) in hashed {
                refs[i] = r;
            }
        }
        if !large.is_empty() {
            let blobs = self.inner.blobs.clone();
            let stored = tokio::task::spawn_blocking(move || {
                large
                    .into_iter()
                    .map(|(i, bytes)| blobs.put(&bytes).map(|r| (i, r)))
                    .collect::<Result<Vec<_>>>()
            })
            .await
            .map_err(|e| StoreError::CommitFailed(e.to_string()))??;
            for (i, r) in stored {
                match &mut batch.ops[i] {
                    Operation::PutMessage(m) => m.body = Body::Stored(r),
                    Operation::Enqueue(q) => q.body = Some(Body::Stored(r)),
                    _ => {}
                }
            }
        }
        let touched = self.inner.watchers.touched(&batch);
        let (reply, receipt) = oneshot::channel();
        self.inner
            .writer
            .send(Command::Commit { batch, refs, reply })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        let receipt = receipt.await.map_err(|_| StoreError::WriterGone)??;
        if !receipt.replayed {
            self.inner.watchers.notify(&touched);
        }
        Ok(receipt)
    }

    async fn claim(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<QueueItem>> {
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let lease_until = now
            .checked_add_signed(lease)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let (reply, items) = oneshot::channel();
        self.inner
            .writer
            .send(Command::Claim {
                now: millis(now),
                limit: i64::try_from(limit).unwrap_or(i64::MAX),
                lease_until: millis(lease_until),
                reply,
            })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        items.await.map_err(|_| StoreError::WriterGone)?
    }

    async fn read_queue_item(&self, key: &str) -> Result<Option<QueueItem>> {
        sqlx::query(
            "SELECT key, kind, payload, body, body_size, due, attempts, status, last_error FROM queue\n             WHERE key = ?",
        )
        .bind(key)
        .fetch_optional(&self.inner.readers)
        .await?
        .map(|r| rows::queue_item(&r))
        .transpose()
    }

    async fn read_mailbox(&self, address: &Address) -> Result<Option<MailboxInfo>> {
        sqlx::query(
            "SELECT address, quota_bytes, used_bytes, enabled, created FROM mailboxes
             WHERE address = ?",
        )
        .bind(address.as_str())
        .fetch_optional(&self.inner.readers)
        .await?
        .map(|r| rows::mailbox(&r))
        .transpose()
    }

    async fn read_mailboxes(&self) -> Result<Vec<MailboxInfo>> {
        sqlx::query(
            "SELECT address, quota_bytes, used_bytes, enabled, created FROM mailboxes
             ORDER BY address",
        )
        .fetch_all(&self.inner.readers)
        .await?
        .iter()
        .map(rows::mailbox)
        .collect()
    }

    async fn check_password(&self, address: &str, password: &str) -> Result<bool> {
        let stored = match Address::parse(address) {
            Err(_) => None,
            Ok(address) => {
                let row = sqlx::query(
                    "SELECT password_hash FROM mailboxes WHERE address = ? AND enabled = 1",
                )
                .bind(address.as_str())
                .fetch_optional(&self.inner.readers)
                .await?;
                match row {
                    Some(r) => Some(PasswordHash::from_phc(r.try_get("password_hash")?)?),
                    None => None,
                }
            }
        };
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || password::verify_or_dummy(stored, &password))
            .await
            .map_err(|e| StoreError::PasswordHash(e.to_string()))
    }

    async fn read_messages(
        &self,
        address: &Address,
        folder: &str,
        uid: Option<u32>,
    ) -> Result<Vec<MessageMeta>> {
        let name = folder_name(folder)?;
        sqlx::query(
            "SELECT f.name AS folder, m.uid, m.key, m.blob, m.size, m.internal_date, m.flags
             FROM messages m
             JOIN folders f ON f.id = m.folder_id
             JOIN mailboxes b ON b.id = f.mailbox_id
             WHERE b.address = ? AND f.name = ? AND (? IS NULL OR m.uid = ?)
             ORDER BY m.uid",
        )
        .bind(address.as_str())
        .bind(&name)
        .bind(uid.map(i64::from))
        .bind(uid.map(i64::from))
        .fetch_all(&self.inner.readers)
        .await?
        .iter()
        .map(rows::message)
        .collect()
    }

    async fn read_message(
        &self,
        address: &Address,
        folder: &str,
        uid: u32,
    ) -> Result<Option<FetchedMessage>> {
        let Some(meta) = self.read_messages(address, folder, Some(uid)).await?.pop() else {
            return Ok(None);
        };
        let bytes = self
            .read_body(&meta.blob)
            .await?
            .ok_or_else(|| StoreError::BlobCorrupt(meta.blob.hex()))?;
        Ok(Some(FetchedMessage { meta, bytes }))
    }
}

impl SqliteStore {
    /// A stored body by its reference: inline first; a body not in `bodies` is a blob file
    /// (large, or stored before the table existed). Either way it must still hash to its name.
    async fn read_body(&self, blob: &BlobRef) -> Result<Option<Vec<u8>>> {
        leggi_corpo(&self.inner.readers, &self.inner.blobs, blob).await
    }
}

/// A body, inline or in its file, checked against its hash on a blocking thread; `None` if
/// it is in neither place, [`StoreError::BlobCorrupt`] if it does not match.
pub(super) async fn leggi_corpo(
    pool: &SqlitePool,
    blobs: &BlobStore,
    blob: &BlobRef,
) -> Result<Option<Vec<u8>>> {
    let inline: Option<Vec<u8>> = sqlx::query_scalar("SELECT bytes FROM bodies WHERE hash = ?")
        .bind(blob.hex())
        .fetch_optional(pool)
        .await?;
    let blobs = blobs.clone();
    let blob = *blob;
    tokio::task::spawn_blocking(move || match inline {
        Some(bytes) if BlobStore::reference(&bytes) == blob => Ok(Some(bytes)),
        Some(_) => Err(StoreError::BlobCorrupt(blob.hex())),
        None if blobs.contains(&blob) => blobs.get(&blob).map(Some),
        None => Ok(None),
    })
    .await
    .map_err(|_| StoreError::BlobCorrupt(blob.hex()))?
}

/// Up to this many bytes of inline bodies per batch are hashed in the caller's task; more go
/// to a blocking thread (SHA-256 runs at roughly 1 GB/s: 64 KiB is tens of microseconds).
const HASH_IN_TASK_MAX: usize = 64 * 1024;

/// The body an operation stores: a message's, or the bytes a queue item carries apart.
fn body_of(op: &Operation) -> Option<&Body> {
    match op {
        Operation::PutMessage(m) => Some(&m.body),
        Operation::Enqueue(q) => q.body.as_ref(),
        _ => None,
    }
}

fn body_len(op: &Operation) -> usize {
    match body_of(op) {
        Some(Body::Bytes(b)) => b.len(),
        _ => 0,
    }
}

/// The reference of a `Bytes` body, hashed once per shared allocation of the batch (`seen`:
/// the allocations hashed so far).
fn body_ref(op: &Operation, seen: &mut Vec<(*const u8, BlobRef)>) -> Option<BlobRef> {
    let Some(Body::Bytes(b)) = body_of(op) else {
        return None;
    };
    let at = b.as_ptr();
    if let Some((_, r)) = seen.iter().find(|(p, _)| *p == at) {
        return Some(*r);
    }
    let r = BlobStore::reference(b);
    seen.push((at, r));
    Some(r)
}

/// Folder names: `INBOX` in any case is `INBOX` (RFC 3501 §5.1); others as given, non-empty
/// and without control characters.
pub(crate) fn folder_name(name: &str) -> Result<String> {
    if name.eq_ignore_ascii_case("INBOX") {
        return Ok("INBOX".to_owned());
    }
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(StoreError::InvalidFolder(name.to_owned()));
    }
    Ok(name.to_owned())
}

/// Takes the advisory lock of the folder, waiting a little for a store being dropped.
pub(super) async fn lock_folder(dir: &Path) -> Result<File> {
    let path = dir.join("gestore.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| StoreError::io(&path, e))?;
    let deadline = tokio::time::Instant::now() + LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(TryLockError::WouldBlock) => return Err(StoreError::Locked(dir.to_owned())),
            Err(TryLockError::Error(e)) => return Err(StoreError::io(&path, e)),
        }
    }
}

impl Store for SqliteStore {
    fn commit(&self, batch: Batch) -> BoxFuture<'_, Result<CommitReceipt>> {
        Box::pin(self.commit_batch(batch))
    }

    fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: Duration,
    ) -> BoxFuture<'_, Result<Vec<QueueItem>>> {
        Box::pin(self.claim(now, limit, lease))
    }

    fn queue_item<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<QueueItem>>> {
        Box::pin(self.read_queue_item(key))
    }

    fn mailbox<'a>(&'a self, address: &'a Address) -> BoxFuture<'a, Result<Option<MailboxInfo>>> {
        Box::pin(self.read_mailbox(address))
    }

    fn list_mailboxes(&self) -> BoxFuture<'_, Result<Vec<MailboxInfo>>> {
        Box::pin(self.read_mailboxes())
    }

    fn verify_password<'a>(
        &'a self,
        address: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(self.check_password(address, password))
    }

    fn folder<'a>(
        &'a self,
        address: &'a Address,
        folder: &'a str,
    ) -> BoxFuture<'a, Result<Option<FolderInfo>>> {
        Box::pin(read::folder(&self.inner.readers, address, folder))
    }

    fn folders<'a>(&'a self, address: &'a Address) -> BoxFuture<'a, Result<Vec<FolderInfo>>> {
        Box::pin(read::folders(&self.inner.readers, address))
    }

    fn snapshot<'a>(
        &'a self,
        address: &'a Address,
        folder: &'a str,
    ) -> BoxFuture<'a, Result<Option<FolderSnapshot>>> {
        Box::pin(read::snapshot(&self.inner.readers, address, folder))
    }

    fn list_messages<'a>(
        &'a self,
        address: &'a Address,
        folder: &'a str,
    ) -> BoxFuture<'a, Result<Vec<MessageMeta>>> {
        Box::pin(self.read_messages(address, folder, None))
    }

    fn totp<'a>(&'a self, address: &'a Address) -> BoxFuture<'a, Result<Option<crate::Totp>>> {
        Box::pin(async move {
            let row: Option<(Option<String>, Option<i64>)> =
                sqlx::query_as("SELECT totp_secret, totp_step FROM mailboxes WHERE address = ?")
                    .bind(address.as_str())
                    .fetch_optional(&self.inner.readers)
                    .await?;
            Ok(match row {
                Some((Some(secret), step)) => Some(crate::Totp {
                    secret,
                    last_step: step.and_then(|s| u64::try_from(s).ok()),
                }),
                _ => None,
            })
        })
    }

    fn messages_by_key<'a>(
        &'a self,
        address: &'a Address,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<MessageMeta>>> {
        Box::pin(async move {
            // A range on the unique key index: text compares byte by byte, and no UTF-8
            // sequence sorts above U+10FFFF's.
            let upper = format!("{prefix}\u{10FFFF}");
            sqlx::query(
                "SELECT f.name AS folder, m.uid, m.key, m.blob, m.size, m.internal_date, m.flags
                 FROM messages m
                 JOIN folders f ON f.id = m.folder_id
                 JOIN mailboxes b ON b.id = f.mailbox_id
                 WHERE b.address = ? AND m.key >= ? AND m.key < ?
                 ORDER BY f.name, m.uid",
            )
            .bind(address.as_str())
            .bind(prefix)
            .bind(upper)
            .fetch_all(&self.inner.readers)
            .await?
            .iter()
            .map(rows::message)
            .collect()
        })
    }

    fn fetch_message<'a>(
        &'a self,
        address: &'a Address,
        folder: &'a str,
        uid: u32,
    ) -> BoxFuture<'a, Result<Option<FetchedMessage>>> {
        Box::pin(self.read_message(address, folder, uid))
    }

    fn watch(&self, address: &Address) -> tokio::sync::watch::Receiver<u64> {
        self.inner.watchers.subscribe(address)
    }

    fn body<'a>(&'a self, blob: &'a BlobRef) -> BoxFuture<'a, Result<Option<Vec<u8>>>> {
        Box::pin(self.read_body(blob))
    }

    fn log_search<'a>(&'a self, query: &'a LogQuery) -> BoxFuture<'a, Result<Vec<LogEntry>>> {
        Box::pin(log::search(&self.inner.readers, query))
    }

    fn log_verify(&self) -> BoxFuture<'_, Result<LogHead>> {
        Box::pin(log::verify(&self.inner.readers))
    }
}
