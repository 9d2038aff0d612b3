//! An in-memory [`Backend`]: the servers' tests run against it, and it is the reference for
//! what the store-backed one in the binary must do.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::backend::{
    AppendResult, Backend, BackendError, CopyResult, FlagOp, FolderSnapshot, FolderStatus,
    MessageEntry,
};

#[derive(Debug, Clone)]
struct Stored {
    entry: MessageEntry,
    bytes: Vec<u8>,
}

#[derive(Debug)]
struct Folder {
    uidvalidity: u32,
    uidnext: u32,
    subscribed: bool,
    messages: BTreeMap<u32, Stored>,
}

impl Folder {
    /// Files `picked` under new UIDs (COPY and MOVE): the pairs old → new.
    fn deposit(&mut self, picked: Vec<Stored>) -> CopyResult {
        let mut pairs = Vec::new();
        for mut m in picked {
            let old = m.entry.uid;
            m.entry.uid = self.uidnext;
            self.uidnext += 1;
            pairs.push((old, m.entry.uid));
            self.messages.insert(m.entry.uid, m);
        }
        CopyResult {
            uidvalidity: self.uidvalidity,
            pairs,
        }
    }
}

#[derive(Debug)]
struct Box_ {
    password: String,
    folders: BTreeMap<String, Folder>,
    version: watch::Sender<u64>,
}

/// Boxes, folders and messages held in memory (lost at drop).
#[derive(Debug, Default)]
pub struct MemoryBackend {
    boxes: Mutex<HashMap<String, Box_>>,
    next_uidvalidity: Mutex<u32>,
}

/// The folders every box starts with.
pub const DEFAULT_FOLDERS: [&str; 4] = ["INBOX", "Sent", "Trash", "Drafts"];

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::default()
    }

    fn uidvalidity(&self) -> u32 {
        let mut n = self
            .next_uidvalidity
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *n += 1;
        *n
    }

    /// Adds a box with the default folders.
    pub fn add_box(&self, address: &str, password: &str) {
        let folders = DEFAULT_FOLDERS
            .iter()
            .map(|name| (name.to_string(), self.new_folder()))
            .collect();
        let (version, _) = watch::channel(0);
        self.lock().insert(
            address.to_lowercase(),
            Box_ {
                password: password.to_string(),
                folders,
                version,
            },
        );
    }

    fn new_folder(&self) -> Folder {
        Folder {
            uidvalidity: self.uidvalidity(),
            uidnext: 1,
            subscribed: true,
            messages: BTreeMap::new(),
        }
    }

    /// Delivers `bytes` into `folder` of `address` (what the delivery point does), returning
    /// the new UID.
    pub fn deliver(&self, address: &str, folder: &str, bytes: &[u8]) -> Result<u32, BackendError> {
        self.append_now(address, folder, &[], None, bytes.to_vec())
            .map(|r| r.uid)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Box_>> {
        self.boxes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with_box<T>(
        &self,
        mailbox: &str,
        f: impl FnOnce(&mut Box_) -> Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        let mut boxes = self.lock();
        let b = boxes
            .get_mut(&mailbox.to_lowercase())
            .ok_or_else(|| BackendError::Refused("no such box".into()))?;
        let out = f(b)?;
        b.version.send_modify(|v| *v += 1);
        Ok(out)
    }

    fn append_now(
        &self,
        mailbox: &str,
        folder: &str,
        flags: &[String],
        date: Option<DateTime<Utc>>,
        bytes: Vec<u8>,
    ) -> Result<AppendResult, BackendError> {
        self.with_box(mailbox, |b| {
            let f = b
                .folders
                .get_mut(folder_key(folder).as_str())
                .ok_or(BackendError::NoSuchFolder)?;
            let uid = f.uidnext;
            f.uidnext += 1;
            let entry = MessageEntry {
                uid,
                size: bytes.len() as u64,
                internal_date: date.unwrap_or_else(Utc::now),
                flags: flags.to_vec(),
            };
            f.messages.insert(uid, Stored { entry, bytes });
            Ok(AppendResult {
                uidvalidity: f.uidvalidity,
                uid,
            })
        })
    }
}

/// `INBOX` is case-insensitive; other names are kept as given.
fn folder_key(name: &str) -> String {
    if name.eq_ignore_ascii_case("INBOX") {
        "INBOX".to_string()
    } else {
        name.to_string()
    }
}

fn apply(op: FlagOp, current: &[String], flags: &[String]) -> Vec<String> {
    let has = |list: &[String], f: &String| list.iter().any(|g| g.eq_ignore_ascii_case(f));
    match op {
        FlagOp::Replace => flags.to_vec(),
        FlagOp::Add => {
            let mut out = current.to_vec();
            for f in flags {
                if !has(&out, f) {
                    out.push(f.clone());
                }
            }
            out
        }
        FlagOp::Remove => current.iter().filter(|f| !has(flags, f)).cloned().collect(),
    }
}

impl Backend for MemoryBackend {
    async fn authenticate(
        &self,
        _service: &'static str,
        user: &str,
        password: &str,
        _peer: std::net::IpAddr,
    ) -> Result<Option<String>, BackendError> {
        let user = user.to_lowercase();
        Ok(self
            .lock()
            .get(&user)
            .filter(|b| b.password == password)
            .map(|_| user.clone()))
    }

    async fn list_folders(&self, mailbox: &str) -> Result<Vec<FolderStatus>, BackendError> {
        let boxes = self.lock();
        let b = boxes
            .get(&mailbox.to_lowercase())
            .ok_or_else(|| BackendError::Refused("no such box".into()))?;
        let mut out: Vec<FolderStatus> = b
            .folders
            .iter()
            .map(|(name, f)| FolderStatus {
                name: name.clone(),
                uidvalidity: f.uidvalidity,
                uidnext: f.uidnext,
                messages: f.messages.len() as u32,
                unseen: f
                    .messages
                    .values()
                    .filter(|m| {
                        !m.entry
                            .flags
                            .iter()
                            .any(|f| f.eq_ignore_ascii_case("\\Seen"))
                    })
                    .count() as u32,
                subscribed: f.subscribed,
            })
            .collect();
        out.sort_by_key(|f| (f.name != "INBOX", f.name.clone()));
        Ok(out)
    }

    async fn create_folder(&self, mailbox: &str, folder: &str) -> Result<(), BackendError> {
        let fresh = self.new_folder();
        self.with_box(mailbox, |b| {
            let key = folder_key(folder);
            if b.folders.contains_key(&key) {
                return Err(BackendError::FolderExists);
            }
            b.folders.insert(key, fresh);
            Ok(())
        })
    }

    async fn delete_folder(&self, mailbox: &str, folder: &str) -> Result<(), BackendError> {
        self.with_box(mailbox, |b| {
            let key = folder_key(folder);
            if key == "INBOX" {
                return Err(BackendError::Refused("INBOX cannot be deleted".into()));
            }
            b.folders
                .remove(&key)
                .map(drop)
                .ok_or(BackendError::NoSuchFolder)
        })
    }

    async fn rename_folder(&self, mailbox: &str, from: &str, to: &str) -> Result<(), BackendError> {
        let fresh = self.new_folder();
        let fresh2 = self.new_folder();
        self.with_box(mailbox, |b| {
            let (from, to) = (folder_key(from), folder_key(to));
            if b.folders.contains_key(&to) {
                return Err(BackendError::FolderExists);
            }
            let mut f = b.folders.remove(&from).ok_or(BackendError::NoSuchFolder)?;
            if from == "INBOX" {
                let mut moved = fresh;
                moved.messages = std::mem::take(&mut f.messages);
                moved.uidnext = f.uidnext;
                b.folders.insert("INBOX".into(), f);
                b.folders.insert(to, moved);
            } else {
                f.uidvalidity = fresh2.uidvalidity;
                b.folders.insert(to, f);
            }
            Ok(())
        })
    }

    async fn set_subscribed(
        &self,
        mailbox: &str,
        folder: &str,
        subscribed: bool,
    ) -> Result<(), BackendError> {
        self.with_box(mailbox, |b| {
            let f = b
                .folders
                .get_mut(&folder_key(folder))
                .ok_or(BackendError::NoSuchFolder)?;
            f.subscribed = subscribed;
            Ok(())
        })
    }

    async fn snapshot(&self, mailbox: &str, folder: &str) -> Result<FolderSnapshot, BackendError> {
        let boxes = self.lock();
        let b = boxes
            .get(&mailbox.to_lowercase())
            .ok_or_else(|| BackendError::Refused("no such box".into()))?;
        let f = b
            .folders
            .get(&folder_key(folder))
            .ok_or(BackendError::NoSuchFolder)?;
        Ok(FolderSnapshot {
            uidvalidity: f.uidvalidity,
            uidnext: f.uidnext,
            messages: f.messages.values().map(|m| m.entry.clone()).collect(),
        })
    }

    async fn fetch(
        &self,
        mailbox: &str,
        folder: &str,
        uid: u32,
    ) -> Result<Option<Vec<u8>>, BackendError> {
        let boxes = self.lock();
        let b = boxes
            .get(&mailbox.to_lowercase())
            .ok_or_else(|| BackendError::Refused("no such box".into()))?;
        let f = b
            .folders
            .get(&folder_key(folder))
            .ok_or(BackendError::NoSuchFolder)?;
        Ok(f.messages.get(&uid).map(|m| m.bytes.clone()))
    }

    async fn store_flags(
        &self,
        mailbox: &str,
        folder: &str,
        uids: &[u32],
        op: FlagOp,
        flags: &[String],
    ) -> Result<Vec<(u32, Vec<String>)>, BackendError> {
        self.with_box(mailbox, |b| {
            let f = b
                .folders
                .get_mut(&folder_key(folder))
                .ok_or(BackendError::NoSuchFolder)?;
            let mut out = Vec::new();
            for uid in uids {
                if let Some(m) = f.messages.get_mut(uid) {
                    m.entry.flags = apply(op, &m.entry.flags, flags);
                    out.push((*uid, m.entry.flags.clone()));
                }
            }
            Ok(out)
        })
    }

    async fn copy(
        &self,
        mailbox: &str,
        from: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<CopyResult, BackendError> {
        self.with_box(mailbox, |b| {
            let source = b
                .folders
                .get(&folder_key(from))
                .ok_or(BackendError::NoSuchFolder)?;
            let picked: Vec<Stored> = uids
                .iter()
                .filter_map(|u| source.messages.get(u).cloned())
                .collect();
            let dest = b
                .folders
                .get_mut(&folder_key(to))
                .ok_or(BackendError::NoSuchFolder)?;
            Ok(dest.deposit(picked))
        })
    }

    async fn move_messages(
        &self,
        mailbox: &str,
        from: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<CopyResult, BackendError> {
        // One lock for both halves: the step is atomic, as the store's one transaction is.
        self.with_box(mailbox, |b| {
            if !b.folders.contains_key(&folder_key(to)) {
                return Err(BackendError::NoSuchFolder);
            }
            let source = b
                .folders
                .get_mut(&folder_key(from))
                .ok_or(BackendError::NoSuchFolder)?;
            let mut sorted = uids.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            let picked: Vec<Stored> = sorted
                .iter()
                .filter_map(|u| source.messages.remove(u))
                .collect();
            let dest = b
                .folders
                .get_mut(&folder_key(to))
                .ok_or(BackendError::NoSuchFolder)?;
            Ok(dest.deposit(picked))
        })
    }

    async fn expunge(
        &self,
        mailbox: &str,
        folder: &str,
        uids: &[u32],
    ) -> Result<Vec<u32>, BackendError> {
        self.with_box(mailbox, |b| {
            let f = b
                .folders
                .get_mut(&folder_key(folder))
                .ok_or(BackendError::NoSuchFolder)?;
            Ok(uids
                .iter()
                .filter(|u| f.messages.remove(u).is_some())
                .copied()
                .collect())
        })
    }

    async fn append(
        &self,
        mailbox: &str,
        folder: &str,
        flags: &[String],
        date: Option<DateTime<Utc>>,
        bytes: Vec<u8>,
    ) -> Result<AppendResult, BackendError> {
        self.append_now(mailbox, folder, flags, date, bytes)
    }

    fn watch(&self, mailbox: &str) -> watch::Receiver<u64> {
        match self.lock().get(&mailbox.to_lowercase()) {
            Some(b) => b.version.subscribe(),
            None => watch::channel(0).1,
        }
    }
}
