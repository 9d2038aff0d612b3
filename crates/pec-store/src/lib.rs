//! pec-store: the durable state of a PEC provider — mailboxes, stored messages and their
//! bodies, the work queue, and the hash-chained legal log (PEC-SPEC §8).
//!
//! # What it does
//!
//! - [`Store`] is the backend-neutral interface; [`SqliteStore`] is the embedded default
//!   (`data_dir/gestore.sqlite` in WAL mode, holding bodies up to [`INLINE_BODY_MAX`], plus
//!   `data_dir/blobs/` for larger ones).
//! - Every change goes through [`Store::commit`] as a [`Batch`] of [`Operation`]s applied in one
//!   transaction, with idempotency guards, so a caller answers SMTP 250 only after `commit`
//!   returned (STYLE §2) and a worker that crashes and replays stores nothing twice.
//! - Group commit: one writer (a thread of its own) applies every batch waiting in its channel
//!   in a single transaction (one fsync for many callers), each batch inside its own savepoint
//!   so one failing batch does not take the others with it.
//! - The log is a chain: `hash = SHA-256(prev || line)`; [`Store::log_verify`] finds an edited
//!   line, a deleted row, reordering and truncation.
//! - What IMAP and POP3 do to a mailbox, as operations of the same batches: folders created,
//!   deleted, renamed (RFC 3501 semantics, `INBOX` included) and subscribed; flags set; messages
//!   copied and expunged; uploads appended ([`NewMessage::append`]). A folder's UIDVALIDITY is
//!   drawn from a counter that never goes back, so a name deleted and created again, or
//!   renamed, never pairs cached UIDs with other messages. Reads: [`Store::folders`] (with
//!   unseen counts and subscriptions) and [`Store::snapshot`] (every message's UID, size, date
//!   and flags, consistent with the folder's counters). [`Store::watch`] wakes IDLE sessions
//!   after any commit that changed the mailbox, whoever made it.
//!
//! # What it does not do
//!
//! - No PEC rules: what to store, which receipt to queue, what to log is decided by pec-core.
//! - No multi-process access to one data folder: a lock file refuses a second opener. Several
//!   nodes will share the PostgreSQL backend (not written yet).
//! - No garbage collection of bodies: expunging or deleting messages frees their quota but
//!   leaves their bodies (rows of `bodies`, blob files), because another message or a queue
//!   item (which names a body by hash, opaquely, in its payload) may still need them. A
//!   collector must first learn which queue items hold which hashes.
//! - No log signing or time-stamping (the chain only makes tampering detectable, not
//!   impossible).
//!
//! # The hard choice
//!
//! Durability over latency: SQLite runs with `synchronous=FULL`, so every commit fsyncs the WAL
//! and survives power loss, not only a killed process (`NORMAL` would only survive the latter).
//! The cost of that fsync is what group commit amortises: a lone committer pays one fsync per
//! batch, twenty concurrent ones share it. For the same reason bodies up to [`INLINE_BODY_MAX`]
//! (1 MiB: every receipt and nearly every PEC message) are stored inline, as rows of the same
//! transaction, deduplicated by SHA-256: a body written as its own file costs two fsyncs (file
//! and folder) in the caller, which group commit cannot share, and a certified message stores
//! about four bodies. Larger bodies stay fsynced files, where the copy outweighs the fsync and
//! the WAL stays small; reading checks a body against its hash wherever it is. All writes are
//! serialised through one writer, which also keeps the log chain head consistent without locks
//! — at the price of a single-writer ceiling per data folder.
//!
//! That ceiling is why the writer goes below sqlx. sqlx-sqlite runs every statement on a
//! per-connection worker thread and answers over a channel: a cross-thread round trip (two
//! context switches) per statement, and a batch is a dozen statements plus its savepoint, so
//! the writer spent its time handing statements over, not in SQLite. The writer instead runs on
//! a thread of its own, takes the raw handle from sqlx once (`lock_handle`) and runs each group
//! synchronously through `libsqlite3-sys` — the same crate and bundled SQLite sqlx links — with
//! statements prepared once for its lifetime (`sqlite::raw`, the crate's only `unsafe`): one
//! hop in and one out per group. Readers stay on sqlx. Bench `commit` (10 KB message + queue
//! item + log line, on a shared 2-core development machine), through sqlx → direct: one
//! committer ≈ 440 → 1,300 batches/s, twenty ≈ 1,000 → 4,000/s, twenty with the body already
//! stored ≈ 1,200 → 8,000/s; `gestore bench` (2,000 messages, 20 clients) ≈ 190 → 310
//! certified messages/s, with 27,000 instead of 265,000 voluntary context switches.

#![deny(missing_docs)]

mod batch;
mod blob;
pub mod chain;
mod error;
mod flags;
mod folder_perms;
mod model;
mod password;
mod queue;
mod sqlite;
mod watch;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use batch::{
    Admission, Batch, Body, CommitReceipt, FlagOp, LogAppend, NewMessage, NewQueueItem, Operation,
    Outcome, INLINE_BODY_MAX,
};
pub use blob::BlobStore;
pub use error::{ChainBreak, ChainBreakReason, Fault, StoreError};
pub use folder_perms::prepare_data_dir;
pub use model::{
    Address, BlobRef, FetchedMessage, FolderInfo, FolderSnapshot, LogEntry, LogHead, LogQuery,
    MailboxInfo, MailboxState, MessageMeta, MessageSummary, QueueItem, QueueStatus, Totp,
};
pub use password::PasswordHash;
pub use queue::backoff;
pub use sqlite::{adopt_head, check_folder, CheckReport, Sigillo, SqliteStore};

/// A boxed future, so that [`Store`] can be used as `dyn Store`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Result alias of this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The durable store, whatever the backend.
///
/// Writes: [`Store::commit`] (and the mailbox helpers built on it) and [`Store::claim_due`].
/// Everything else reads committed data.
pub trait Store: Send + Sync {
    /// Applies `batch` atomically; returns only once it is durable.
    fn commit(&self, batch: Batch) -> BoxFuture<'_, Result<CommitReceipt>>;

    /// Claims up to `limit` scheduled items due at `now` whose previous claim (if any) expired:
    /// each gets `attempts + 1` and a lease of `lease`, after which another worker may claim it
    /// again (the first one is presumed crashed). Oldest due first.
    fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: Duration,
    ) -> BoxFuture<'_, Result<Vec<QueueItem>>>;

    /// One queue item by key, whatever its status.
    fn queue_item<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<QueueItem>>>;

    /// One mailbox.
    fn mailbox<'a>(&'a self, address: &'a Address) -> BoxFuture<'a, Result<Option<MailboxInfo>>>;

    /// All mailboxes, by address.
    fn list_mailboxes(&self) -> BoxFuture<'_, Result<Vec<MailboxInfo>>>;

    /// True if `address` names an enabled mailbox whose password is `password`. Takes about the
    /// same time whether or not the mailbox exists. A malformed address is simply false.
    fn verify_password<'a>(
        &'a self,
        address: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<bool>>;

    /// A folder's UIDVALIDITY, UIDNEXT, message and unseen counts, subscription.
    fn folder<'a>(
        &'a self,
        address: &'a Address,
        folder: &'a str,
    ) -> BoxFuture<'a, Result<Option<FolderInfo>>>;

    /// Every folder of a mailbox (IMAP LIST / LSUB / STATUS), `INBOX` first, then by name;
    /// empty for an unknown mailbox.
    fn folders<'a>(&'a self, address: &'a Address) -> BoxFuture<'a, Result<Vec<FolderInfo>>>;

    /// A folder's counters and every message's UID, size, INTERNALDATE and flags, as of one
    /// instant (IMAP SELECT and each refresh of a session's view, POP3 STAT/LIST).
    fn snapshot<'a>(
        &'a self,
        address: &'a Address,
        folder: &'a str,
    ) -> BoxFuture<'a, Result<Option<FolderSnapshot>>>;

    /// The messages of a folder, by UID.
    fn list_messages<'a>(
        &'a self,
        address: &'a Address,
        folder: &'a str,
    ) -> BoxFuture<'a, Result<Vec<MessageMeta>>>;

    /// The webmail's second factor of `address`: its TOTP secret (base32) and the last step
    /// accepted; `None` when it is off or the box unknown.
    fn totp<'a>(&'a self, address: &'a Address) -> BoxFuture<'a, Result<Option<Totp>>>;

    /// The messages of `address`, in any folder, whose idempotency key starts with `prefix`:
    /// every message about one PEC msgid in a box is keyed `box:<address>:<msgid>:…` (the
    /// sender's copy, the acceptance, each receipt), so this finds a sent message's proofs.
    /// By folder and UID.
    fn messages_by_key<'a>(
        &'a self,
        address: &'a Address,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<MessageMeta>>>;

    /// One message with its bytes (checked against their hash).
    fn fetch_message<'a>(
        &'a self,
        address: &'a Address,
        folder: &'a str,
        uid: u32,
    ) -> BoxFuture<'a, Result<Option<FetchedMessage>>>;

    /// A counter that moves after every committed batch that changed `address`'s folders or
    /// messages (a delivery, flags, an expunge, another session's APPEND): IMAP IDLE and NOOP
    /// wait on it, then read again. Only this store's own commits move it.
    fn watch(&self, address: &Address) -> tokio::sync::watch::Receiver<u64>;

    /// A stored body by its reference (any message stored with those bytes), checked against
    /// its hash; `None` if no such body is stored. Lets a queue item refer to a body stored in
    /// the same batch instead of carrying a second copy.
    fn body<'a>(&'a self, blob: &'a BlobRef) -> BoxFuture<'a, Result<Option<Vec<u8>>>>;

    /// Log entries matching every filter of `query`, oldest first.
    fn log_search<'a>(&'a self, query: &'a LogQuery) -> BoxFuture<'a, Result<Vec<LogEntry>>>;

    /// Walks the whole chain; `Err(StoreError::LogTampered(..))` at the first break.
    fn log_verify(&self) -> BoxFuture<'_, Result<LogHead>>;

    /// What a delivery finds for a message of `incoming` bytes to `address`.
    fn mailbox_state<'a>(
        &'a self,
        address: &'a Address,
        incoming: u64,
    ) -> BoxFuture<'a, Result<MailboxState>> {
        Box::pin(async move {
            Ok(match self.mailbox(address).await? {
                None => MailboxState::Sconosciuta,
                Some(info) => info.state_for(incoming),
            })
        })
    }

    /// Creates a mailbox (hashing the password on a blocking thread).
    fn add_mailbox<'a>(
        &'a self,
        address: &'a Address,
        password: &'a str,
        quota_bytes: u64,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let password = hash_blocking(password).await?;
            let op = Operation::AddMailbox {
                address: address.clone(),
                password,
                quota_bytes,
            };
            self.commit(Batch::new().with(op)).await.map(drop)
        })
    }

    /// Replaces a mailbox's password.
    fn set_password<'a>(
        &'a self,
        address: &'a Address,
        password: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let password = hash_blocking(password).await?;
            let op = Operation::SetPassword {
                address: address.clone(),
                password,
            };
            self.commit(Batch::new().with(op)).await.map(drop)
        })
    }

    /// Changes a mailbox's quota (0 = no limit).
    fn set_quota<'a>(
        &'a self,
        address: &'a Address,
        quota_bytes: u64,
    ) -> BoxFuture<'a, Result<()>> {
        let op = Operation::SetQuota {
            address: address.clone(),
            quota_bytes,
        };
        Box::pin(async move { self.commit(Batch::new().with(op)).await.map(drop) })
    }

    /// Enables or disables a mailbox.
    fn set_enabled<'a>(&'a self, address: &'a Address, enabled: bool) -> BoxFuture<'a, Result<()>> {
        let op = Operation::SetEnabled {
            address: address.clone(),
            enabled,
        };
        Box::pin(async move { self.commit(Batch::new().with(op)).await.map(drop) })
    }

    /// Deletes a mailbox and its messages.
    fn remove_mailbox<'a>(&'a self, address: &'a Address) -> BoxFuture<'a, Result<()>> {
        let op = Operation::RemoveMailbox {
            address: address.clone(),
        };
        Box::pin(async move { self.commit(Batch::new().with(op)).await.map(drop) })
    }
}

async fn hash_blocking(password: &str) -> Result<PasswordHash> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || PasswordHash::new(&password))
        .await
        .map_err(|e| StoreError::PasswordHash(e.to_string()))?
}
