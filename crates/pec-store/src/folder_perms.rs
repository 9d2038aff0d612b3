//! The data folder holds the box list, password hashes, every message and the legal log: no
//! other user of the machine may read it (issue 12, item 4).
//!
//! The folder is created `0700` and the files this crate creates `0600`, whatever the
//! process umask. An existing folder that group or others can enter or read is refused, with
//! the command that fixes it: silently tightening it would hide that it was exposed.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::StoreError;

/// Permission bits that let users other than the owner in.
const ALTRI: u32 = 0o077;

/// Creates `dir` (and missing parents) with mode `0700`, or checks that an existing one
/// lets no other user in.
pub fn prepare_data_dir(dir: &Path) -> Result<(), StoreError> {
    match fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(StoreError::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a folder"),
        )),
        Ok(m) => {
            let mode = m.permissions().mode() & 0o777;
            if mode & ALTRI != 0 {
                return Err(StoreError::DataDirExposed {
                    path: dir.to_owned(),
                    mode,
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| StoreError::io(dir, e)),
        Err(e) => Err(StoreError::io(dir, e)),
    }
}

/// Creates `file` empty with mode `0600` when missing, or takes group and others' bits away
/// from an existing one (SQLite gives its `-wal` and `-shm` files the mode of the database
/// file, so this one call covers all three).
pub(crate) fn private_file(file: &Path) -> Result<(), StoreError> {
    match fs::metadata(file) {
        Ok(m) => {
            let mode = m.permissions().mode();
            if mode & ALTRI != 0 {
                fs::set_permissions(file, fs::Permissions::from_mode(mode & 0o700))
                    .map_err(|e| StoreError::io(file, e))?;
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(file)
            .map(drop)
            .map_err(|e| StoreError::io(file, e)),
        Err(e) => Err(StoreError::io(file, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_folder_is_private_and_an_exposed_one_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("a/b");
        prepare_data_dir(&d).unwrap();
        assert_eq!(mode(&d), 0o700);
        prepare_data_dir(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
        let e = prepare_data_dir(&d).unwrap_err();
        assert!(e.to_string().contains("chmod 700"), "{e}");
        assert!(matches!(e, StoreError::DataDirExposed { mode: 0o755, .. }));
    }

    #[test]
    fn files_are_created_private_and_widened_ones_tightened() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("db");
        private_file(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        private_file(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
    }
}
