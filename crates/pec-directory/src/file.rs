//! The local copy of the index on disk (PEC-SPEC §7.2: each provider keeps a local copy,
//! refreshed daily, and queries it locally), and reloading it when it changes.
//!
//! Invariant: a reload that fails never replaces the index in use. Writers should replace the
//! file atomically (write a temporary file, then rename); a file caught half-written is read
//! again at the next refresh, because its size or time will have changed by then.

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::error::{LdifError, LdifErrorKind};
use crate::ldif::Limits;
use crate::{Error, Indice};

impl Indice {
    /// Reads and builds the index from an LDIF file, with the default [`Limits`].
    pub fn load(path: impl AsRef<Path>) -> Result<Indice, Error> {
        read_file(path.as_ref(), &Limits::default()).map(|(indice, _)| indice)
    }
}

/// What identifies one version of the file: modification time and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

/// The index file and the last copy of it that loaded correctly.
///
/// Synchronous and single-owner: call [`IndiceFile::refresh`] from one task (e.g. a daily or
/// minutely timer) and hand out [`IndiceFile::indice`] (a cheap `Arc` clone) to readers.
#[derive(Debug)]
pub struct IndiceFile {
    path: PathBuf,
    limits: Limits,
    last_good: Arc<Indice>,
    /// The version `last_good` was read from. Only a successful read updates it, so a broken
    /// file is retried (and its error reported) at every refresh.
    stamp: Stamp,
}

impl IndiceFile {
    /// Loads the file for the first time; fails if it cannot be read or parsed (there is no
    /// previous copy to fall back on).
    pub fn open(path: impl Into<PathBuf>) -> Result<IndiceFile, Error> {
        IndiceFile::open_with_limits(path, Limits::default())
    }

    /// As [`IndiceFile::open`], with explicit bounds kept for every refresh.
    pub fn open_with_limits(path: impl Into<PathBuf>, limits: Limits) -> Result<IndiceFile, Error> {
        let path = path.into();
        let (indice, stamp) = read_file(&path, &limits)?;
        Ok(IndiceFile {
            path,
            limits,
            last_good: Arc::new(indice),
            stamp,
        })
    }

    /// Re-reads the file if its modification time or size changed since the last good read.
    ///
    /// `Ok(true)`: a new index is in use. `Ok(false)`: the file is unchanged. `Err(_)`: the
    /// file is missing, unreadable or malformed; the last good index stays in use and the next
    /// refresh tries again (so the error is reported at every refresh until the file is fixed).
    pub fn refresh(&mut self) -> Result<bool, Error> {
        let metadata = std::fs::metadata(&self.path).map_err(|e| io_error(&self.path, e))?;
        if stamp_of(&metadata) == self.stamp {
            return Ok(false);
        }
        let (indice, stamp) = read_file(&self.path, &self.limits)?;
        self.last_good = Arc::new(indice);
        self.stamp = stamp;
        Ok(true)
    }

    /// The index in use: the last one that loaded correctly.
    pub fn indice(&self) -> Arc<Indice> {
        Arc::clone(&self.last_good)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads and parses the file; the stamp is taken from the open handle *before* reading, so a
/// change during the read shows up as a change at the next refresh.
fn read_file(path: &Path, limits: &Limits) -> Result<(Indice, Stamp), Error> {
    let mut file = File::open(path).map_err(|e| io_error(path, e))?;
    let metadata = file.metadata().map_err(|e| io_error(path, e))?;
    let stamp = stamp_of(&metadata);
    let limit = limits.max_input as u64;
    if stamp.len > limit {
        let kind = LdifErrorKind::InputTooLarge {
            size: stamp.len,
            limit,
        };
        return Err(LdifError { line: 0, kind }.into());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(stamp.len).unwrap_or(0));
    // One byte past the limit, so a file that grew after `metadata` is still refused.
    (&mut file)
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(path, e))?;
    let indice = Indice::from_ldif_with_limits(&bytes, limits)?;
    Ok((indice, stamp))
}

fn stamp_of(metadata: &std::fs::Metadata) -> Stamp {
    Stamp {
        modified: metadata.modified().ok(),
        len: metadata.len(),
    }
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests;
