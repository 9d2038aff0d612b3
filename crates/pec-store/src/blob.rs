//! Message bodies as files named by their SHA-256: `blobs/<2 hex>/<64 hex>`. Used for bodies
//! above [`crate::INLINE_BODY_MAX`] (smaller ones are rows of the database) and for
//! [`crate::SqliteStore::put_blob`]; folders written before inline bodies existed hold every
//! body here.
//!
//! Invariant: a blob file is complete whenever its name exists. It is written to a temporary
//! file in `blobs/tmp/`, fsynced, renamed into place, and the containing folder fsynced, before
//! the transaction that references it commits. Identical bodies are stored once. Blobs are
//! never deleted here (a later garbage collector removes unreferenced ones).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::model::BlobRef;

/// A folder of content-addressed, fsynced files.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// Opens (creating) the folder `root` and its `tmp/` subfolder.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        let tmp = root.join("tmp");
        private_dir(&tmp)?;
        sync_dir(root)?;
        Ok(Self {
            root: root.to_owned(),
        })
    }

    /// The folder `root` as it is, for reading only (no folder is created).
    pub(crate) fn at(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
        }
    }

    /// The reference `bytes` would be stored under.
    pub fn reference(bytes: &[u8]) -> BlobRef {
        BlobRef {
            sha256: Sha256::digest(bytes).into(),
            size: bytes.len() as u64,
        }
    }

    fn path_of(&self, r: &BlobRef) -> (PathBuf, PathBuf) {
        let hex = r.hex();
        let dir = self.root.join(&hex[..2]);
        let file = dir.join(hex);
        (dir, file)
    }

    /// Stores `bytes` durably (blocking) and returns their reference. A body already present is
    /// not written again, but its folder is still fsynced so the name is durable.
    pub fn put(&self, bytes: &[u8]) -> Result<BlobRef, StoreError> {
        let r = Self::reference(bytes);
        let (dir, file) = self.path_of(&r);
        if !dir.exists() {
            private_dir(&dir)?;
            sync_dir(&self.root)?;
        }
        if !file.exists() {
            let tmp_dir = self.root.join("tmp");
            let mut tmp = tempfile::NamedTempFile::new_in(&tmp_dir)
                .map_err(|e| StoreError::io(&tmp_dir, e))?;
            tmp.write_all(bytes)
                .and_then(|()| tmp.as_file().sync_all())
                .map_err(|e| StoreError::io(tmp.path(), e))?;
            tmp.persist(&file)
                .map_err(|e| StoreError::io(&file, e.error))?;
        }
        sync_dir(&dir)?;
        Ok(r)
    }

    /// Reads a blob back (blocking), checking that it still hashes to its name.
    pub fn get(&self, r: &BlobRef) -> Result<Vec<u8>, StoreError> {
        let (_, file) = self.path_of(r);
        let bytes = fs::read(&file).map_err(|_| StoreError::BlobCorrupt(r.hex()))?;
        if Self::reference(&bytes) != *r {
            return Err(StoreError::BlobCorrupt(r.hex()));
        }
        Ok(bytes)
    }

    /// True if the blob file exists.
    pub fn contains(&self, r: &BlobRef) -> bool {
        self.path_of(r).1.exists()
    }
}

/// Makes the entries of folder `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}

/// `dir` and its missing parents, mode `0700` (issue 12: bodies are for the owner only).
fn private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| StoreError::io(dir, e))
}
