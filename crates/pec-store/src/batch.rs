//! Batches: the outputs of one decision, applied in one transaction (STYLE §3).
//!
//! Invariants:
//! - A batch is all or nothing: if one operation fails, none of the batch is stored and
//!   [`crate::Store::commit`] returns that operation's error.
//! - Every operation that creates something carries an idempotency guard, so replaying a batch
//!   after a crash stores nothing twice: [`Operation::Enqueue`] with an existing key and
//!   [`Operation::PutMessage`] with an existing key are no-ops that report the original; queue
//!   transitions on an item that is no longer scheduled are no-ops. Log appends have no key of
//!   their own: give the whole batch a key ([`Batch::once`]) when it holds log lines and may be
//!   replayed. The folder operations follow IMAP: creating a folder that exists or deleting
//!   one that does not is an error, so give such a batch a key if it may be replayed. Flag
//!   changes and expunges are idempotent by nature (UIDs no longer there are skipped);
//!   [`Operation::CopyMessages`] is not: a replay without a batch key copies again.
//! - A body is durable when the transaction that references it commits: bodies up to
//!   [`INLINE_BODY_MAX`] bytes are rows of that very transaction, larger ones are fsynced blob
//!   files written before it.

use chrono::{DateTime, Utc};
use std::sync::Arc;

use crate::model::{Address, BlobRef};
use crate::password::PasswordHash;

/// Bodies up to this many bytes are stored inline in the database, in the transaction of the
/// batch that carries them, so a whole group commit costs one fsync. Larger bodies become blob
/// files, each with its own fsyncs (of the file and of its folder) before the commit: for them
/// the copy dominates the fsync, and keeping them out of the database keeps the WAL small.
/// PEC messages and receipts are almost always far below this.
pub const INLINE_BODY_MAX: usize = 1024 * 1024;

/// A list of operations applied atomically, optionally guarded by a batch key.
#[derive(Debug, Default)]
pub struct Batch {
    pub(crate) key: Option<String>,
    pub(crate) ops: Vec<Operation>,
}

impl Batch {
    /// An empty batch without a batch key.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch that is applied at most once: if a batch with `key` was already
    /// committed, committing this one changes nothing and the receipt says `replayed`.
    pub fn once(key: impl Into<String>) -> Self {
        Self {
            key: Some(key.into()),
            ops: Vec::new(),
        }
    }

    /// Appends an operation.
    pub fn push(&mut self, op: Operation) -> &mut Self {
        self.ops.push(op);
        self
    }

    /// Appends an operation, builder style.
    pub fn with(mut self, op: Operation) -> Self {
        self.ops.push(op);
        self
    }

    /// The operations, in the order they are applied.
    pub fn operations(&self) -> &[Operation] {
        &self.ops
    }

    /// True when the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// One change to the store.
#[derive(Debug)]
#[non_exhaustive]
pub enum Operation {
    /// Creates a mailbox with folders `INBOX` and `Sent`. Fails with
    /// [`crate::StoreError::MailboxExists`] if the address is taken.
    AddMailbox {
        /// The new address.
        address: Address,
        /// Its password, already hashed (hashing is slow: do it off the writer).
        password: PasswordHash,
        /// Quota in bytes; 0 means no limit.
        quota_bytes: u64,
    },
    /// Replaces a mailbox's password.
    SetPassword {
        /// The mailbox.
        address: Address,
        /// The new password, hashed.
        password: PasswordHash,
    },
    /// Changes a mailbox's quota (messages already stored stay, even above it).
    SetQuota {
        /// The mailbox.
        address: Address,
        /// Quota in bytes; 0 means no limit.
        quota_bytes: u64,
    },
    /// Turns the webmail's second factor on with this TOTP secret (base32), or off with
    /// `None`; the record of used steps starts again.
    SetTotp {
        /// The mailbox.
        address: Address,
        /// The secret, base32; `None` turns it off.
        secret: Option<String>,
    },
    /// Records that the TOTP step `step` was used to log in, unless that step or a later one
    /// already was: the outcome says which (a code is good once, even across two logins at
    /// the same time).
    UseTotpStep {
        /// The mailbox.
        address: Address,
        /// The step (Unix time / 30).
        step: u64,
    },
    /// Enables or disables a mailbox.
    SetEnabled {
        /// The mailbox.
        address: Address,
        /// New state.
        enabled: bool,
    },
    /// Deletes a mailbox, its folders and its messages (their bodies stay, inline or as blobs).
    RemoveMailbox {
        /// The mailbox.
        address: Address,
    },
    /// Stores a message into a mailbox folder.
    PutMessage(NewMessage),
    /// Adds a queue item unless one with the same key exists.
    Enqueue(NewQueueItem),
    /// Marks a scheduled queue item done.
    CompleteQueueItem {
        /// The item's key.
        key: String,
    },
    /// Reschedules a scheduled queue item (see [`crate::backoff`]) and releases its claim.
    RetryQueueItem {
        /// The item's key.
        key: String,
        /// Not before this time.
        due: DateTime<Utc>,
        /// Why the attempt failed.
        error: String,
    },
    /// Gives a scheduled queue item up.
    FailQueueItem {
        /// The item's key.
        key: String,
        /// Why.
        error: String,
    },
    /// Appends one event line to the hash-chained log (PEC-SPEC §8).
    AppendLog(LogAppend),
    /// Creates an empty folder, subscribed, with a UIDVALIDITY never used before (IMAP
    /// CREATE). Fails with [`crate::StoreError::FolderExists`] if it exists.
    CreateFolder {
        /// The mailbox.
        address: Address,
        /// The folder (`INBOX` in any case is `INBOX`, which always exists).
        name: String,
    },
    /// Deletes a folder and its messages, lowering the mailbox's used bytes (IMAP DELETE).
    /// Folders below it (`name/…`) stay. Fails with [`crate::StoreError::InboxProtected`] for
    /// `INBOX`, [`crate::StoreError::UnknownFolder`] if there is no such folder. Bodies stay,
    /// inline or as blobs (see the crate doc: no garbage collection).
    DeleteFolder {
        /// The mailbox.
        address: Address,
        /// The folder.
        name: String,
    },
    /// Renames a folder and the folders below it (`from/x` becomes `to/x`), each with a new
    /// UIDVALIDITY (IMAP RENAME). Renaming `INBOX` instead moves all its messages, with new
    /// UIDs, into a new folder `to` and leaves `INBOX` empty, with its UIDVALIDITY and UIDNEXT
    /// (RFC 3501 §6.3.5); folders below `INBOX` are not moved. Fails with
    /// [`crate::StoreError::UnknownFolder`] (no `from`) or [`crate::StoreError::FolderExists`]
    /// (`to`, or one of the new names below it, is taken).
    RenameFolder {
        /// The mailbox.
        address: Address,
        /// Current name.
        from: String,
        /// New name.
        to: String,
    },
    /// Adds a folder to, or removes it from, the subscription list (IMAP SUBSCRIBE /
    /// UNSUBSCRIBE). The folder must exist.
    SetSubscribed {
        /// The mailbox.
        address: Address,
        /// The folder.
        name: String,
        /// In the list (LSUB) or not.
        subscribed: bool,
    },
    /// Changes the flags of messages (IMAP STORE). UIDs not in the folder are skipped.
    /// Flags are compared case-insensitively and stored once each, system flags spelled
    /// `\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`; `\Recent` is never stored
    /// (the session owns it). Reports [`Outcome::FlagsStored`].
    SetFlags {
        /// The mailbox.
        address: Address,
        /// The folder.
        folder: String,
        /// The messages.
        uids: Vec<u32>,
        /// Add, remove or replace.
        op: FlagOp,
        /// The flags (a flag with a blank, a control or an IMAP atom-special character is
        /// refused with [`crate::StoreError::InvalidFlag`]).
        flags: Vec<String>,
    },
    /// Removes messages for good, lowering the mailbox's used bytes (IMAP EXPUNGE, the
    /// expunge half of MOVE, POP3 DELE at QUIT). UIDs not in the folder are skipped, so a
    /// replay is harmless. Bodies stay: another message (a copy, the same receipt in another
    /// box) or a queue item may still refer to them. Reports [`Outcome::Expunged`].
    Expunge {
        /// The mailbox.
        address: Address,
        /// The folder.
        folder: String,
        /// The messages.
        uids: Vec<u32>,
    },
    /// Copies messages, with their flags and INTERNALDATE, to another folder of the same
    /// mailbox, under new UIDs, in increasing source-UID order (IMAP COPY, the copy half of
    /// MOVE). The copies share their body with the originals and count towards the quota: the
    /// whole copy fails with [`crate::StoreError::MailboxFull`] if it does not fit. UIDs not
    /// in the source are skipped. Each copy gets the key `imap:<address>:<uidvalidity>:<uid>`
    /// of its new place. Reports [`Outcome::Copied`].
    CopyMessages {
        /// The mailbox.
        address: Address,
        /// Source folder.
        from: String,
        /// Destination folder (must exist: IMAP answers `TRYCREATE` otherwise).
        to: String,
        /// The messages to copy.
        uids: Vec<u32>,
    },
    /// Moves messages to another folder of the same mailbox (IMAP MOVE, RFC 6851): the copy
    /// of [`Operation::CopyMessages`] and the expunge of exactly the messages copied, as one
    /// operation, so a message another session moved first is skipped, never copied twice.
    /// The quota is not checked: the box holds the same messages after. Reports
    /// [`Outcome::Copied`] with the messages moved.
    MoveMessages {
        /// The mailbox.
        address: Address,
        /// Source folder.
        from: String,
        /// Destination folder (must exist).
        to: String,
        /// The messages to move.
        uids: Vec<u32>,
    },
}

/// How [`Operation::SetFlags`] changes a message's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOp {
    /// Adds the flags (`+FLAGS`).
    Add,
    /// Removes the flags (`-FLAGS`).
    Remove,
    /// Sets exactly these flags (`FLAGS`).
    Replace,
}

/// A message body: bytes to store, or a blob already stored.
#[derive(Debug, Clone)]
pub enum Body {
    /// Raw bytes: up to [`INLINE_BODY_MAX`] they are stored inline in the batch's own
    /// transaction; above it `commit` writes and fsyncs them as a blob file first. Identical
    /// bodies are stored once either way. Shared: the same envelope for several boxes of one
    /// batch is one allocation, hashed once.
    Bytes(Arc<[u8]>),
    /// A body already stored (the same receipt put in several boxes, for instance): a blob
    /// file from [`crate::SqliteStore::put_blob`], or a body an earlier commit stored.
    Stored(BlobRef),
}

/// Whether storing a message must respect the mailbox's state and quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Fail with `MailboxDisabled` / `MailboxFull` if the box cannot take it (a delivery).
    Enforce,
    /// Store regardless (a copy in the sender's Sent folder, a receipt the rules require).
    Force,
}

/// A message to store.
#[derive(Debug)]
pub struct NewMessage {
    /// Idempotency key, e.g. `box:<addr>:<pec-msgid>:<kind>`: storing a second message with the
    /// same key stores nothing and reports the first one's UID. Empty means no key (an IMAP
    /// APPEND, see [`NewMessage::append`]): the message is always stored and gets the key
    /// `imap:<address>:<uidvalidity>:<uid>`. Keys starting with `imap:` are reserved for this.
    pub key: String,
    /// The mailbox.
    pub mailbox: Address,
    /// The folder, created on first use (`INBOX` is case-insensitive).
    pub folder: String,
    /// The bytes.
    pub body: Body,
    /// IMAP INTERNALDATE.
    pub internal_date: DateTime<Utc>,
    /// Initial IMAP flags, normalised as by [`Operation::SetFlags`].
    pub flags: Vec<String>,
    /// Whether state and quota are checked.
    pub admission: Admission,
}

impl NewMessage {
    /// A message a client uploads (IMAP APPEND): no idempotency key (a client that retries
    /// an APPEND means a second message), quota and state enforced. The folder is created if
    /// missing: IMAP wants `TRYCREATE` instead, so check [`crate::Store::folder`] first.
    pub fn append(
        mailbox: Address,
        folder: impl Into<String>,
        bytes: Vec<u8>,
        flags: Vec<String>,
        internal_date: DateTime<Utc>,
    ) -> Self {
        Self {
            key: String::new(),
            mailbox,
            folder: folder.into(),
            body: Body::Bytes(bytes.into()),
            internal_date,
            flags,
            admission: Admission::Enforce,
        }
    }
}

/// A queue item to add.
#[derive(Debug, Clone)]
pub struct NewQueueItem {
    /// Unique idempotency key, e.g. `deliver:<pec-msgid>:<recipient>`.
    pub key: String,
    /// What the worker must do.
    pub kind: String,
    /// Worker input.
    pub payload: Vec<u8>,
    /// The bytes the item carries, stored once by their hash like message bodies (the same
    /// envelope queued for several recipients, and kept in their boxes, is one row); `None`
    /// when they are part of `payload`.
    pub body: Option<Body>,
    /// Not before this time.
    pub due: DateTime<Utc>,
}

/// A log event to append.
#[derive(Debug, Clone)]
pub struct LogAppend {
    /// Event time (the same temporal reference as the receipts, PEC-SPEC §9.1).
    pub time: DateTime<Utc>,
    /// The event as one JSON line; these exact bytes are hashed.
    pub line: String,
    /// Message identifiers to find the event by (client msgid, PEC msgid, related receipts).
    pub msgids: Vec<String>,
    /// Original sender to find the event by.
    pub sender: Option<String>,
}

/// What one operation did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// A mailbox operation was applied.
    MailboxChanged,
    /// The message is in the folder under this UID; `duplicate` when it was already there.
    MessageStored {
        /// Its UID.
        uid: u32,
        /// The folder's UIDVALIDITY.
        uidvalidity: u32,
        /// True if the key existed and nothing was stored.
        duplicate: bool,
    },
    /// The enqueue was applied (`created`) or the key existed (no-op).
    Enqueued {
        /// True if a new item was created.
        created: bool,
    },
    /// [`Operation::UseTotpStep`]: `accepted` false when that step or a later one was used.
    TotpStep {
        /// True if the step was recorded now.
        accepted: bool,
    },
    /// A queue transition was applied (`changed`) or the item was no longer scheduled.
    QueueUpdated {
        /// True if the item changed.
        changed: bool,
    },
    /// The event was appended at this sequence number.
    Logged {
        /// Its sequence number.
        seq: u64,
    },
    /// A folder was created ([`Operation::CreateFolder`]) or renamed
    /// ([`Operation::RenameFolder`]: the folder now called `to`).
    FolderCreated {
        /// Its new UIDVALIDITY.
        uidvalidity: u32,
    },
    /// A folder was deleted or its subscription changed.
    FolderChanged,
    /// [`Operation::SetFlags`] applied: every message found, by increasing UID, with its
    /// flags now (changed or not).
    FlagsStored {
        /// (UID, flags after the change).
        flags: Vec<(u32, Vec<String>)>,
    },
    /// [`Operation::CopyMessages`] applied (for UIDPLUS's COPYUID).
    Copied {
        /// UIDVALIDITY of the destination.
        uidvalidity: u32,
        /// (source UID, new UID in the destination), by increasing source UID.
        pairs: Vec<(u32, u32)>,
    },
    /// [`Operation::Expunge`] applied.
    Expunged {
        /// The UIDs removed, increasing; those already gone are not listed.
        uids: Vec<u32>,
    },
}

/// Proof that a batch is durable: returned only after its transaction committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitReceipt {
    /// One outcome per operation, in order (empty when `replayed`).
    pub outcomes: Vec<Outcome>,
    /// True if the batch key had been committed before and nothing was applied.
    pub replayed: bool,
}
