//! Helpers so each test reads like its scenario.

use chrono::{DateTime, TimeZone, Utc};
use pec_store::{
    Address, Admission, Batch, Body, FlagOp, LogAppend, NewMessage, NewQueueItem, Operation,
    Outcome, SqliteStore, Store, StoreError,
};
use tempfile::TempDir;

/// A temporary folder only its owner can enter, as a data folder must be.
pub fn private_tempdir() -> TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

/// A store in a fresh temporary folder (kept alive with it).
pub struct TestStore {
    pub dir: TempDir,
    pub store: SqliteStore,
}

pub async fn open() -> TestStore {
    let dir = private_tempdir();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    TestStore { dir, store }
}

impl TestStore {
    /// Drops the store and opens the same folder again.
    pub async fn reopen(self) -> TestStore {
        let TestStore { dir, store } = self;
        drop(store);
        let store = SqliteStore::open(dir.path()).await.unwrap();
        TestStore { dir, store }
    }

    /// Adds a mailbox with password "secret".
    pub async fn mailbox(&self, address: &str, quota: u64) -> Address {
        let a = addr(address);
        self.store.add_mailbox(&a, "secret", quota).await.unwrap();
        a
    }

    /// A raw connection to the database file, bypassing the store (for tampering).
    pub async fn raw(&self) -> sqlx::SqliteConnection {
        use sqlx::ConnectOptions;
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(self.dir.path().join("gestore.sqlite"))
            .connect()
            .await
            .unwrap()
    }
}

pub fn addr(s: &str) -> Address {
    Address::parse(s).unwrap()
}

/// A fixed instant `secs` seconds after 2026-01-01T00:00:00Z.
pub fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(secs)
}

/// Stores `body` under `key` into `mailbox`/`folder`, quota enforced.
pub fn put(key: &str, mailbox: &Address, folder: &str, body: &[u8]) -> Operation {
    Operation::PutMessage(NewMessage {
        key: key.to_owned(),
        mailbox: mailbox.clone(),
        folder: folder.to_owned(),
        body: Body::Bytes(body.to_vec().into()),
        internal_date: t(0),
        flags: Vec::new(),
        admission: Admission::Enforce,
    })
}

pub fn enqueue(key: &str, due: DateTime<Utc>) -> Operation {
    Operation::Enqueue(NewQueueItem {
        key: key.to_owned(),
        kind: "deliver".to_owned(),
        payload: format!("{{\"key\":\"{key}\"}}").into_bytes(),
        body: None,
        due,
    })
}

/// A log event indexed under `msgid` and `sender`.
pub fn log(event: &str, msgid: &str, sender: &str, at: DateTime<Utc>) -> Operation {
    Operation::AppendLog(LogAppend {
        time: at,
        line: format!(
            r#"{{"time":"{}","event":"{event}","msgid":"{msgid}","sender":"{sender}"}}"#,
            at.to_rfc3339()
        ),
        msgids: vec![msgid.to_owned()],
        sender: Some(sender.to_owned()),
    })
}

impl TestStore {
    /// Commits `op` alone and returns its outcome.
    pub async fn apply(&self, op: Operation) -> Result<Outcome, StoreError> {
        let mut receipt = self.store.commit(Batch::new().with(op)).await?;
        Ok(receipt.outcomes.remove(0))
    }

    /// A folder's UIDVALIDITY (the folder must exist).
    pub async fn uidvalidity(&self, a: &Address, folder: &str) -> u32 {
        self.store
            .folder(a, folder)
            .await
            .unwrap()
            .unwrap()
            .uidvalidity
    }

    /// The mailbox's used bytes.
    pub async fn used(&self, a: &Address) -> u64 {
        self.store.mailbox(a).await.unwrap().unwrap().used_bytes
    }

    /// The bytes of a message (which must exist).
    pub async fn bytes(&self, a: &Address, folder: &str, uid: u32) -> Vec<u8> {
        self.store
            .fetch_message(a, folder, uid)
            .await
            .unwrap()
            .unwrap()
            .bytes
    }

    /// (UID, flags) of every message of a folder, from a snapshot.
    pub async fn flags(&self, a: &Address, folder: &str) -> Vec<(u32, Vec<String>)> {
        let snap = self.store.snapshot(a, folder).await.unwrap().unwrap();
        snap.messages
            .into_iter()
            .map(|m| (m.uid, m.flags))
            .collect()
    }
}

pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

pub fn create(a: &Address, name: &str) -> Operation {
    Operation::CreateFolder {
        address: a.clone(),
        name: name.to_owned(),
    }
}

pub fn delete(a: &Address, name: &str) -> Operation {
    Operation::DeleteFolder {
        address: a.clone(),
        name: name.to_owned(),
    }
}

pub fn rename(a: &Address, from: &str, to: &str) -> Operation {
    Operation::RenameFolder {
        address: a.clone(),
        from: from.to_owned(),
        to: to.to_owned(),
    }
}

pub fn set_flags(a: &Address, folder: &str, uids: &[u32], op: FlagOp, flags: &[&str]) -> Operation {
    Operation::SetFlags {
        address: a.clone(),
        folder: folder.to_owned(),
        uids: uids.to_vec(),
        op,
        flags: strings(flags),
    }
}

pub fn expunge(a: &Address, folder: &str, uids: &[u32]) -> Operation {
    Operation::Expunge {
        address: a.clone(),
        folder: folder.to_owned(),
        uids: uids.to_vec(),
    }
}

pub fn copy(a: &Address, from: &str, to: &str, uids: &[u32]) -> Operation {
    Operation::CopyMessages {
        address: a.clone(),
        from: from.to_owned(),
        to: to.to_owned(),
        uids: uids.to_vec(),
    }
}
