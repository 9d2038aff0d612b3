//! The one error type of pec-store, classified by who is at fault (STYLE §5).

use std::path::PathBuf;

/// Who must act on a [`StoreError`]: it decides what the protocol layer answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The request was wrong or the mailbox cannot take it (unknown, disabled, full, duplicate
    /// name). Retrying the same request gives the same answer: answer 5xx / produce a notice.
    Caller,
    /// Data on disk is not what we wrote (log chain broken, blob altered or missing). An
    /// operator must look; never retry blindly.
    Integrity,
    /// Us or a dependency (I/O, SQLite, writer stopped). Transient as far as the client is
    /// concerned: answer 451 and retry later.
    Internal,
}

/// Why a hash-chained log does not verify (PEC-SPEC §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainBreakReason {
    /// The stored hash is not SHA-256(previous hash || line): the line, its hash or an earlier
    /// row was edited, or rows were reordered.
    HashMismatch,
    /// The sequence number expected here is absent: a row was deleted.
    Missing,
    /// The recorded chain head points past the last row: rows were deleted at the end.
    Truncated,
    /// The recorded chain head does not match the last row (rows added or head edited).
    HeadMismatch,
}

impl std::fmt::Display for ChainBreakReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::HashMismatch => "hash mismatch (line edited or rows reordered)",
            Self::Missing => "row missing (deleted)",
            Self::Truncated => "rows missing at the end (truncated)",
            Self::HeadMismatch => "recorded chain head does not match the last row",
        })
    }
}

/// The first place where the log chain does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainBreak {
    /// Sequence number of the first row that does not fit the chain (for a deleted row: the
    /// missing sequence number).
    pub seq: u64,
    /// What is wrong there.
    pub reason: ChainBreakReason,
}

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An address that is not `local@domain` (empty part, blank or control character).
    #[error("invalid mailbox address {0:?}")]
    InvalidAddress(String),
    /// A mailbox with this address already exists.
    #[error("mailbox {0} already exists")]
    MailboxExists(String),
    /// No mailbox with this address.
    #[error("unknown mailbox {0}")]
    UnknownMailbox(String),
    /// The mailbox exists but is disabled, and the operation asked for an active one.
    #[error("mailbox {0} is disabled")]
    MailboxDisabled(String),
    /// Storing the message would exceed the mailbox quota.
    #[error("mailbox {address} is full: {used} of {quota} bytes used, {incoming} incoming")]
    MailboxFull {
        /// The mailbox.
        address: String,
        /// Bytes already used.
        used: u64,
        /// The quota in bytes.
        quota: u64,
        /// Size of the refused message.
        incoming: u64,
    },
    /// A queue operation named a key that was never enqueued.
    #[error("unknown queue item {0}")]
    UnknownQueueItem(String),
    /// A folder name that is empty or holds control characters.
    #[error("invalid folder name {0:?}")]
    InvalidFolder(String),
    /// No folder of this name in the mailbox.
    #[error("unknown folder {0:?}")]
    UnknownFolder(String),
    /// A folder of this name already exists in the mailbox.
    #[error("folder {0:?} already exists")]
    FolderExists(String),
    /// `INBOX` cannot be deleted (RFC 3501 §6.3.4); the operation is named.
    #[error("INBOX cannot be {0}")]
    InboxProtected(&'static str),
    /// An IMAP flag that is empty or holds a blank, a control or an atom-special character.
    #[error("invalid flag {0:?}")]
    InvalidFlag(String),
    /// The log chain does not verify (PEC-SPEC §8).
    #[error("log chain broken at seq {}: {}", .0.seq, .0.reason)]
    LogTampered(ChainBreak),
    /// A blob file is missing or its content no longer hashes to its name.
    #[error("blob {0} is missing or corrupt")]
    BlobCorrupt(String),
    /// The database holds a schema newer than this build knows.
    #[error("database schema version {found} is newer than this build ({supported})")]
    SchemaTooNew {
        /// Version found in the database.
        found: i64,
        /// Highest version this build knows.
        supported: i64,
    },
    /// The data folder lets other users of the machine in (issue 12): refused, not fixed.
    #[error(
        "data folder {} can be read by other users (mode {mode:04o}): run `chmod 700 {}`",
        path.display(),
        path.display()
    )]
    DataDirExposed {
        /// The folder.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The log holds fewer events than it once committed (database deleted, emptied,
    /// truncated or replaced by an older copy): the store is not opened.
    #[error(
        "the store lost events of its legal log: {recorded} were committed, the database now \
         holds {found}; restore the database from a backup (`gestore store check` tells more)"
    )]
    LogLost {
        /// Events the head file (or the database's own recorded head) names.
        recorded: u64,
        /// Events the database holds.
        found: u64,
    },
    /// SQLite found the database file damaged (`quick_check` / `integrity_check`).
    #[error("the database file is damaged: {0}")]
    DatabaseDamaged(String),
    /// The head file is unreadable, fails its checksum, or its seal.
    #[error(
        "the log head file {} is damaged ({reason}): the store cannot tell whether events were \
         lost; `gestore store check` tells more",
        path.display()
    )]
    HeadFileDamaged {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The head file of a store that has one is gone: deleted, maybe with events.
    #[error(
        "the log head file {} is missing: the store cannot tell whether events were lost; \
         check it (`gestore store check`) and, if it is right, record its head again \
         (`gestore store adopt`)",
        .0.display()
    )]
    LogHeadMissing(PathBuf),
    /// A sealed head file cannot be replaced without the key that sealed it.
    #[error("the log head file {} is sealed: only the provider's key can replace it", .0.display())]
    SealNeeded(PathBuf),
    /// Another process (or another `SqliteStore` in this one) holds the data folder.
    #[error("data folder {0} is in use by another store")]
    Locked(PathBuf),
    /// A file-system operation failed.
    #[error("I/O on {path}: {source}")]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The database reported an error.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The group transaction holding this batch failed to commit; nothing of it is stored.
    #[error("commit failed: {0}")]
    CommitFailed(String),
    /// The writer has stopped (store closed or crashed).
    #[error("store writer is not running")]
    WriterGone,
    /// Hashing a password failed (parameters or randomness).
    #[error("password hashing: {0}")]
    PasswordHash(String),
    /// A value read back from the database is not what this build writes.
    #[error("corrupt row: {0}")]
    CorruptRow(String),
}

impl StoreError {
    /// Who must act on this error.
    pub fn fault(&self) -> Fault {
        match self {
            Self::InvalidAddress(_)
            | Self::MailboxExists(_)
            | Self::UnknownMailbox(_)
            | Self::MailboxDisabled(_)
            | Self::MailboxFull { .. }
            | Self::UnknownQueueItem(_)
            | Self::InvalidFolder(_)
            | Self::UnknownFolder(_)
            | Self::FolderExists(_)
            | Self::InboxProtected(_)
            | Self::InvalidFlag(_) => Fault::Caller,
            Self::LogTampered(_)
            | Self::BlobCorrupt(_)
            | Self::CorruptRow(_)
            | Self::LogLost { .. }
            | Self::DatabaseDamaged(_)
            | Self::HeadFileDamaged { .. }
            | Self::LogHeadMissing(_) => Fault::Integrity,
            _ => Fault::Internal,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
