//! The IMAP and POP3 servers' view of the real store (feature `store`): what [`Backend`]
//! asks, answered by `pec_store`. Every call names the box the session logged in as, so a
//! client can only reach its own folders; the bytes come back exactly as the delivery point
//! stored them. Logins and the folders a client may only read are the provider's rules,
//! asked of a [`Guardia`] (gestore's is pec-provider's `Caselle`); the crate's own tests run
//! against this backend as well as the in-memory one.

use crate::{
    AppendResult, Backend, BackendError, CopyResult, FlagOp, FolderSnapshot, FolderStatus,
    MessageEntry,
};
use chrono::{DateTime, Utc};
use pec_store::{Address, Batch, NewMessage, Operation, Outcome, SqliteStore, Store, StoreError};
use std::future::Future;
use std::net::IpAddr;

/// The provider's rules on logins and on what a mail client may change.
pub trait Guardia: Send + Sync + 'static {
    /// Checks a login (the same answer as [`Backend::authenticate`]).
    fn accedi(
        &self,
        service: &'static str,
        user: &str,
        password: &str,
        peer: IpAddr,
    ) -> impl Future<Output = Result<Option<String>, BackendError>> + Send;

    /// `Some(why)` when a client of `mailbox` may not change `folder`.
    fn sola_lettura(&self, mailbox: &str, folder: &str) -> Option<String>;
}

/// What a client is told when the store refuses or fails.
fn refused(e: StoreError) -> BackendError {
    match e {
        StoreError::UnknownFolder(_) => BackendError::NoSuchFolder,
        StoreError::FolderExists(_) => BackendError::FolderExists,
        StoreError::MailboxFull { .. } => BackendError::OverQuota,
        StoreError::InboxProtected(why) => BackendError::Refused(why.to_string()),
        e @ (StoreError::InvalidFolder(_)
        | StoreError::InvalidFlag(_)
        | StoreError::UnknownMailbox(_)
        | StoreError::MailboxDisabled(_)) => BackendError::Refused(e.to_string()),
        e => BackendError::Temporary(e.to_string()),
    }
}

fn boxed(mailbox: &str) -> Result<Address, BackendError> {
    Address::parse(mailbox).map_err(|_| BackendError::Refused("no such box".into()))
}

/// The IMAP and POP3 listeners' backend over the store.
pub struct StoreBackend<G> {
    store: SqliteStore,
    guardia: G,
}

impl<G: Guardia> StoreBackend<G> {
    /// The boxes of `store`, under `guardia`'s rules.
    pub fn new(store: SqliteStore, guardia: G) -> Self {
        Self { store, guardia }
    }

    fn store(&self) -> &SqliteStore {
        &self.store
    }

    /// Refuses a change to a folder mail clients may only read (the quarantine).
    fn sola_lettura(&self, mailbox: &str, folder: &str) -> Result<(), BackendError> {
        match self.guardia.sola_lettura(mailbox, folder) {
            Some(why) => Err(BackendError::Refused(why)),
            None => Ok(()),
        }
    }

    /// Commits a COPY or MOVE and returns the UIDs it gave.
    async fn copied(&self, op: Operation) -> Result<CopyResult, BackendError> {
        match self.one(op).await? {
            Outcome::Copied { uidvalidity, pairs } => Ok(CopyResult { uidvalidity, pairs }),
            o => Err(unexpected(o)),
        }
    }

    /// Commits one operation and returns its outcome.
    async fn one(&self, op: Operation) -> Result<Outcome, BackendError> {
        let receipt = self
            .store()
            .commit(Batch::new().with(op))
            .await
            .map_err(refused)?;
        receipt
            .outcomes
            .into_iter()
            .next()
            .ok_or_else(|| BackendError::Temporary("no outcome".into()))
    }
}

fn unexpected(o: Outcome) -> BackendError {
    BackendError::Temporary(format!("unexpected outcome {o:?}"))
}

impl<G: Guardia> Backend for StoreBackend<G> {
    async fn authenticate(
        &self,
        service: &'static str,
        user: &str,
        password: &str,
        peer: IpAddr,
    ) -> Result<Option<String>, BackendError> {
        self.guardia.accedi(service, user, password, peer).await
    }

    async fn list_folders(&self, mailbox: &str) -> Result<Vec<FolderStatus>, BackendError> {
        let address = boxed(mailbox)?;
        let folders = self.store().folders(&address).await.map_err(refused)?;
        Ok(folders
            .into_iter()
            .map(|f| FolderStatus {
                name: f.name,
                uidvalidity: f.uidvalidity,
                uidnext: f.uidnext,
                messages: u32::try_from(f.messages).unwrap_or(u32::MAX),
                unseen: u32::try_from(f.unseen).unwrap_or(u32::MAX),
                subscribed: f.subscribed,
            })
            .collect())
    }

    async fn create_folder(&self, mailbox: &str, folder: &str) -> Result<(), BackendError> {
        let address = boxed(mailbox)?;
        self.one(Operation::CreateFolder {
            address,
            name: folder.to_string(),
        })
        .await
        .map(drop)
    }

    async fn delete_folder(&self, mailbox: &str, folder: &str) -> Result<(), BackendError> {
        self.sola_lettura(mailbox, folder)?;
        let address = boxed(mailbox)?;
        self.one(Operation::DeleteFolder {
            address,
            name: folder.to_string(),
        })
        .await
        .map(drop)
    }

    async fn rename_folder(&self, mailbox: &str, from: &str, to: &str) -> Result<(), BackendError> {
        self.sola_lettura(mailbox, from)?;
        self.sola_lettura(mailbox, to)?;
        let address = boxed(mailbox)?;
        self.one(Operation::RenameFolder {
            address,
            from: from.to_string(),
            to: to.to_string(),
        })
        .await
        .map(drop)
    }

    async fn set_subscribed(
        &self,
        mailbox: &str,
        folder: &str,
        subscribed: bool,
    ) -> Result<(), BackendError> {
        let address = boxed(mailbox)?;
        self.one(Operation::SetSubscribed {
            address,
            name: folder.to_string(),
            subscribed,
        })
        .await
        .map(drop)
    }

    async fn snapshot(&self, mailbox: &str, folder: &str) -> Result<FolderSnapshot, BackendError> {
        let address = boxed(mailbox)?;
        let s = self
            .store()
            .snapshot(&address, folder)
            .await
            .map_err(refused)?
            .ok_or(BackendError::NoSuchFolder)?;
        Ok(FolderSnapshot {
            uidvalidity: s.folder.uidvalidity,
            uidnext: s.folder.uidnext,
            messages: s
                .messages
                .into_iter()
                .map(|m| MessageEntry {
                    uid: m.uid,
                    size: m.size,
                    internal_date: m.internal_date,
                    flags: m.flags,
                })
                .collect(),
        })
    }

    async fn fetch(
        &self,
        mailbox: &str,
        folder: &str,
        uid: u32,
    ) -> Result<Option<Vec<u8>>, BackendError> {
        let address = boxed(mailbox)?;
        Ok(self
            .store()
            .fetch_message(&address, folder, uid)
            .await
            .map_err(refused)?
            .map(|m| m.bytes))
    }

    async fn store_flags(
        &self,
        mailbox: &str,
        folder: &str,
        uids: &[u32],
        op: FlagOp,
        flags: &[String],
    ) -> Result<Vec<(u32, Vec<String>)>, BackendError> {
        let address = boxed(mailbox)?;
        let op = match op {
            FlagOp::Add => pec_store::FlagOp::Add,
            FlagOp::Remove => pec_store::FlagOp::Remove,
            FlagOp::Replace => pec_store::FlagOp::Replace,
        };
        match self
            .one(Operation::SetFlags {
                address,
                folder: folder.to_string(),
                uids: uids.to_vec(),
                op,
                flags: flags.to_vec(),
            })
            .await?
        {
            Outcome::FlagsStored { flags } => Ok(flags),
            o => Err(unexpected(o)),
        }
    }

    async fn copy(
        &self,
        mailbox: &str,
        from: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<CopyResult, BackendError> {
        self.sola_lettura(mailbox, to)?;
        let address = boxed(mailbox)?;
        self.copied(Operation::CopyMessages {
            address,
            from: from.to_string(),
            to: to.to_string(),
            uids: uids.to_vec(),
        })
        .await
    }

    async fn move_messages(
        &self,
        mailbox: &str,
        from: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<CopyResult, BackendError> {
        self.sola_lettura(mailbox, from)?;
        self.sola_lettura(mailbox, to)?;
        let address = boxed(mailbox)?;
        // One operation, one transaction: what another session moved already is skipped,
        // and the quota is not charged for what leaves the source at once (issue 12).
        self.copied(Operation::MoveMessages {
            address,
            from: from.to_string(),
            to: to.to_string(),
            uids: uids.to_vec(),
        })
        .await
    }

    async fn expunge(
        &self,
        mailbox: &str,
        folder: &str,
        uids: &[u32],
    ) -> Result<Vec<u32>, BackendError> {
        self.sola_lettura(mailbox, folder)?;
        let address = boxed(mailbox)?;
        match self
            .one(Operation::Expunge {
                address,
                folder: folder.to_string(),
                uids: uids.to_vec(),
            })
            .await?
        {
            Outcome::Expunged { uids } => Ok(uids),
            o => Err(unexpected(o)),
        }
    }

    async fn append(
        &self,
        mailbox: &str,
        folder: &str,
        flags: &[String],
        date: Option<DateTime<Utc>>,
        bytes: Vec<u8>,
    ) -> Result<AppendResult, BackendError> {
        self.sola_lettura(mailbox, folder)?;
        let address = boxed(mailbox)?;
        // APPEND to a folder that does not exist is NO [TRYCREATE], not an implicit CREATE.
        if self
            .store()
            .folder(&address, folder)
            .await
            .map_err(refused)?
            .is_none()
        {
            return Err(BackendError::NoSuchFolder);
        }
        let message = NewMessage::append(
            address,
            folder,
            bytes,
            flags.to_vec(),
            date.unwrap_or_else(Utc::now),
        );
        match self.one(Operation::PutMessage(message)).await? {
            Outcome::MessageStored {
                uid, uidvalidity, ..
            } => Ok(AppendResult { uidvalidity, uid }),
            o => Err(unexpected(o)),
        }
    }

    fn watch(&self, mailbox: &str) -> tokio::sync::watch::Receiver<u64> {
        match Address::parse(mailbox) {
            Ok(address) => self.store().watch(&address),
            Err(_) => tokio::sync::watch::channel(0).1,
        }
    }
}
