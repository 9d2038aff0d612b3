//! What the binary plugs into the IMAP and POP3 servers: logins, folders, messages, flags.
//!
//! A "mailbox" here is the PEC box (an address, the login identity); a "folder" is what IMAP
//! calls a mailbox (`INBOX`, `Sent`, `Trash`, `Drafts`, and any the user creates). Every method
//! takes the authenticated box, so a session can never name another user's folders.
//!
//! Implement the methods with `async fn`; the futures must be `Send` because each session runs
//! on its own task. Every method returns only once its change is durable.

use std::future::Future;
use std::net::IpAddr;

use chrono::{DateTime, Utc};

/// Why the backend refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// No folder of that name in this box.
    #[error("no such folder")]
    NoSuchFolder,
    /// A folder of that name already exists.
    #[error("folder already exists")]
    FolderExists,
    /// Not allowed (deleting or renaming INBOX, a malformed name, …); the text is shown.
    #[error("{0}")]
    Refused(String),
    /// The box is over its quota.
    #[error("over quota")]
    OverQuota,
    /// Our fault or a dependency's (store down): the client may retry.
    #[error("temporary failure: {0}")]
    Temporary(String),
}

/// One folder as LIST and STATUS see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderStatus {
    /// The name (`INBOX` in capitals; `/` separates levels).
    pub name: String,
    /// Never reused for the same name in the same box.
    pub uidvalidity: u32,
    /// The UID the next message will get.
    pub uidnext: u32,
    /// Number of messages.
    pub messages: u32,
    /// Messages without `\Seen`.
    pub unseen: u32,
    /// In the subscription list (LSUB).
    pub subscribed: bool,
}

/// One message of a folder, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEntry {
    /// Unique within the folder's UIDVALIDITY, increasing with arrival.
    pub uid: u32,
    /// RFC822.SIZE: the length of the stored bytes.
    pub size: u64,
    /// INTERNALDATE: when it was stored.
    pub internal_date: DateTime<Utc>,
    /// System flags spelled `\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`, and keywords.
    pub flags: Vec<String>,
}

/// A folder's content at one moment, messages in UID order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderSnapshot {
    /// UIDVALIDITY of the folder.
    pub uidvalidity: u32,
    /// The UID the next message will get.
    pub uidnext: u32,
    /// Every message, by increasing UID (sequence number = index + 1 for a fresh session).
    pub messages: Vec<MessageEntry>,
}

/// How STORE changes flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOp {
    /// `+FLAGS`
    Add,
    /// `-FLAGS`
    Remove,
    /// `FLAGS`
    Replace,
}

/// The outcome of COPY (for UIDPLUS's COPYUID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyResult {
    /// UIDVALIDITY of the destination.
    pub uidvalidity: u32,
    /// (source UID, new UID in the destination), for every message copied.
    pub pairs: Vec<(u32, u32)>,
}

/// The outcome of APPEND (for UIDPLUS's APPENDUID).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendResult {
    /// UIDVALIDITY of the folder.
    pub uidvalidity: u32,
    /// UID of the new message.
    pub uid: u32,
}

/// The binary's side of the IMAP and POP3 servers. One value is shared (behind an `Arc`) by
/// every session.
pub trait Backend: Send + Sync + 'static {
    /// Checks a login from the client at `peer`; `Ok(Some(box))` names the box the session may
    /// read. Takes about the same time whether or not the box exists; the password must never
    /// be logged. The address lets the backend count failures across connections and
    /// protocols; a throttled client gets [`BackendError::Temporary`]. `service` (`imap` or
    /// `pop3`) names the protocol in the backend's log lines.
    fn authenticate(
        &self,
        service: &'static str,
        user: &str,
        password: &str,
        peer: IpAddr,
    ) -> impl Future<Output = Result<Option<String>, BackendError>> + Send;

    /// Every folder of the box, `INBOX` first.
    fn list_folders(
        &self,
        mailbox: &str,
    ) -> impl Future<Output = Result<Vec<FolderStatus>, BackendError>> + Send;

    /// Creates a folder (CREATE).
    fn create_folder(
        &self,
        mailbox: &str,
        folder: &str,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Deletes a folder and its messages (DELETE). `INBOX` is refused.
    fn delete_folder(
        &self,
        mailbox: &str,
        folder: &str,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Renames a folder (RENAME). Renaming `INBOX` moves its messages to a new folder and
    /// leaves `INBOX` empty (RFC 3501 §6.3.5).
    fn rename_folder(
        &self,
        mailbox: &str,
        from: &str,
        to: &str,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// SUBSCRIBE / UNSUBSCRIBE.
    fn set_subscribed(
        &self,
        mailbox: &str,
        folder: &str,
        subscribed: bool,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// The folder's messages now (SELECT, and each refresh of a session's view).
    fn snapshot(
        &self,
        mailbox: &str,
        folder: &str,
    ) -> impl Future<Output = Result<FolderSnapshot, BackendError>> + Send;

    /// One message's bytes exactly as stored; `None` if it was expunged meanwhile.
    fn fetch(
        &self,
        mailbox: &str,
        folder: &str,
        uid: u32,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, BackendError>> + Send;

    /// Changes the flags of the messages with these UIDs (missing ones are skipped); returns
    /// the new flags of each message changed.
    fn store_flags(
        &self,
        mailbox: &str,
        folder: &str,
        uids: &[u32],
        op: FlagOp,
        flags: &[String],
    ) -> impl Future<Output = Result<Vec<(u32, Vec<String>)>, BackendError>> + Send;

    /// Copies messages to another folder of the same box, flags included.
    fn copy(
        &self,
        mailbox: &str,
        from: &str,
        uids: &[u32],
        to: &str,
    ) -> impl Future<Output = Result<CopyResult, BackendError>> + Send;

    /// Moves messages to another folder of the same box (MOVE, RFC 6851) as one step: each is
    /// copied and removed together or not at all, so two sessions moving the same message
    /// leave exactly one copy (issue 12). UIDs no longer in the source are skipped; the
    /// result lists the ones moved.
    fn move_messages(
        &self,
        mailbox: &str,
        from: &str,
        uids: &[u32],
        to: &str,
    ) -> impl Future<Output = Result<CopyResult, BackendError>> + Send;

    /// Removes these messages for good (the session decides which: `\Deleted` ones, for
    /// EXPUNGE; DELE'd ones at POP3 QUIT). Returns the UIDs removed.
    fn expunge(
        &self,
        mailbox: &str,
        folder: &str,
        uids: &[u32],
    ) -> impl Future<Output = Result<Vec<u32>, BackendError>> + Send;

    /// Stores a message a client uploads (APPEND).
    fn append(
        &self,
        mailbox: &str,
        folder: &str,
        flags: &[String],
        date: Option<DateTime<Utc>>,
        bytes: Vec<u8>,
    ) -> impl Future<Output = Result<AppendResult, BackendError>> + Send;

    /// A counter that moves whenever anything in the box changes (delivery, flags, expunge,
    /// another session's APPEND): IDLE and NOOP wait on it and then refresh their view.
    fn watch(&self, mailbox: &str) -> tokio::sync::watch::Receiver<u64>;
}
