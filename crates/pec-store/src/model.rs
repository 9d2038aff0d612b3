//! The persisted model in one place: what a mailbox, a folder, a stored message, a queue item
//! and a log entry look like to callers. Times are UTC with millisecond precision.

use chrono::{DateTime, Utc};

use crate::error::StoreError;

/// A mailbox address, lower-cased: addresses compare case-insensitively in this store.
///
/// Grammar checked (deliberately loose; pec-core owns the full RFC 5322 check):
/// `local "@" domain`, both parts non-empty, exactly one `@`, no blank or control character.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address(String);

impl Address {
    /// Checks and lower-cases `s`.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        let bad = || StoreError::InvalidAddress(s.to_owned());
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        if local.is_empty()
            || domain.is_empty()
            || domain.contains('@')
            || s.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(bad());
        }
        Ok(Self(s.to_lowercase()))
    }

    /// The lower-cased address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for Address {
    type Error = StoreError;
    fn try_from(s: &str) -> Result<Self, StoreError> {
        Self::parse(s)
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A mailbox as the administrator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxInfo {
    /// Lower-cased address.
    pub address: Address,
    /// Quota in bytes; 0 means no limit.
    pub quota_bytes: u64,
    /// Sum of the sizes of the messages stored in all folders.
    pub used_bytes: u64,
    /// A disabled mailbox refuses logins and deliveries but keeps its messages.
    pub enabled: bool,
    /// When the mailbox was created.
    pub created: DateTime<Utc>,
}

/// What a delivery point finds when it looks a recipient up (PEC-SPEC: the delivery decision
/// needs to tell these apart to pick the receipt or notice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailboxState {
    /// Exists, enabled, and the incoming message fits in the quota.
    Attiva,
    /// No such mailbox.
    Sconosciuta,
    /// Exists but disabled.
    Disabilitata,
    /// Exists and enabled, but the incoming message would exceed the quota.
    Piena,
}

impl MailboxInfo {
    /// State of this mailbox for a message of `incoming` bytes.
    pub fn state_for(&self, incoming: u64) -> MailboxState {
        state_of(self.enabled, self.quota_bytes, self.used_bytes, incoming)
    }
}

/// State of an existing mailbox for a message of `incoming` bytes.
pub(crate) fn state_of(enabled: bool, quota: u64, used: u64, incoming: u64) -> MailboxState {
    if !enabled {
        MailboxState::Disabilitata
    } else if quota != 0 && used.saturating_add(incoming) > quota {
        MailboxState::Piena
    } else {
        MailboxState::Attiva
    }
}

/// IMAP's view of a folder: UIDs are unique and increasing within one UIDVALIDITY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderInfo {
    /// Folder name (`INBOX` is always spelled in capitals).
    pub name: String,
    /// Changes only if the folder is recreated; never reused for the same address.
    pub uidvalidity: u32,
    /// The UID the next stored message will get.
    pub uidnext: u32,
    /// Number of messages in the folder.
    pub messages: u64,
    /// Number of messages without `\Seen` (IMAP STATUS UNSEEN, the count a client shows).
    pub unseen: u64,
    /// In the subscription list (IMAP LSUB); new folders are.
    pub subscribed: bool,
}

/// What IMAP needs of one message to build a session's view: no key, no hash, no bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSummary {
    /// IMAP UID within the folder.
    pub uid: u32,
    /// RFC822.SIZE: length of the stored bytes.
    pub size: u64,
    /// IMAP INTERNALDATE.
    pub internal_date: DateTime<Utc>,
    /// IMAP flags, system flags spelled `\Seen`, `\Answered`, …
    pub flags: Vec<String>,
}

/// A folder and its messages as of one instant (read in one transaction, so `uidnext` is
/// above every listed UID and `folder.messages` is the length of `messages`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderSnapshot {
    /// The folder's counters.
    pub folder: FolderInfo,
    /// Its messages, by increasing UID.
    pub messages: Vec<MessageSummary>,
}

/// The content address of a message body: its SHA-256 and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlobRef {
    /// SHA-256 of the bytes; also the file name.
    pub sha256: [u8; 32],
    /// Length in bytes.
    pub size: u64,
}

impl BlobRef {
    /// Lower-case hex of the hash, as used for the file name.
    pub fn hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// The reference named by `hex` (64 hex digits), of `size` bytes.
    pub(crate) fn from_hex(hex: &str, size: u64) -> Option<Self> {
        let bytes = hex::decode(hex).ok()?;
        Some(Self {
            sha256: bytes.try_into().ok()?,
            size,
        })
    }
}

/// A stored message, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    /// Folder holding it.
    pub folder: String,
    /// IMAP UID within the folder.
    pub uid: u32,
    /// The idempotency key it was stored under (e.g. `box:<addr>:<pec-msgid>:<kind>`).
    pub key: String,
    /// Where its bytes are.
    pub blob: BlobRef,
    /// IMAP INTERNALDATE: when it was delivered.
    pub internal_date: DateTime<Utc>,
    /// IMAP flags (`\Seen`, …), normalised (see [`crate::Operation::SetFlags`]).
    pub flags: Vec<String>,
}

/// A stored message with its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMessage {
    /// What the store knows about it.
    pub meta: MessageMeta,
    /// The body, checked against its hash.
    pub bytes: Vec<u8>,
}

/// A box's second factor for the webmail (TOTP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totp {
    /// The secret, base32.
    pub secret: String,
    /// The last step a code was accepted for.
    pub last_step: Option<u64>,
}

/// Lifecycle of a queue item (STYLE §3: progress is explicit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueStatus {
    /// Waiting for its due time (or claimed by a worker until its lease expires).
    Scheduled,
    /// The side effect happened and was recorded.
    Done,
    /// Given up; the payload stays for inspection.
    Failed,
}

impl QueueStatus {
    pub(crate) fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "scheduled" => Ok(Self::Scheduled),
            "done" => Ok(Self::Done),
            "failed" => Ok(Self::Failed),
            _ => Err(StoreError::CorruptRow(format!("queue status {s:?}"))),
        }
    }
}

/// A unit of work for a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueItem {
    /// Unique idempotency key, e.g. `deliver:<pec-msgid>:<recipient>`.
    pub key: String,
    /// What the worker must do (its dispatch tag).
    pub kind: String,
    /// Worker input, opaque to the store (JSON or bytes).
    pub payload: Vec<u8>,
    /// The stored bytes the item carries (read them with [`crate::Store::body`]), when they
    /// were queued apart from `payload`.
    pub body: Option<BlobRef>,
    /// Not before this time.
    pub due: DateTime<Utc>,
    /// How many times it was claimed (including the current claim).
    pub attempts: u32,
    /// Where it is in its lifecycle.
    pub status: QueueStatus,
    /// The error recorded by the last retry or failure.
    pub last_error: Option<String>,
}

/// One row of the legal log (PEC-SPEC §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    /// Event time as given by the caller (an index copy: the line itself should carry it).
    pub time: DateTime<Utc>,
    /// The event as one JSON line, exactly the bytes that were hashed.
    pub line: String,
    /// SHA-256(previous hash || line); the previous hash of seq 1 is 32 zero bytes.
    pub hash: [u8; 32],
}

/// Filters for [`crate::Store::log_search`]; all given filters must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// One of the message identifiers the event was indexed under.
    pub msgid: Option<String>,
    /// The original sender the event was indexed under (compared case-insensitively).
    pub sender: Option<String>,
    /// Events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// At most this many entries, oldest first; `None` means 1000.
    pub limit: Option<u32>,
}

/// The verified end of the log chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogHead {
    /// Sequence number of the last entry (0 for an empty log).
    pub seq: u64,
    /// Its hash (the genesis value for an empty log).
    pub hash: [u8; 32],
}

pub(crate) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::CorruptRow(format!("time {ms}")))
}
