use std::time::{Duration, SystemTime};

use super::*;
use crate::Gestore;

fn ldif(nome: &str, dominio: &str) -> String {
    let mail = format!("r@{dominio}");
    let g = Gestore::new(nome, &mail, [dominio], nome.as_bytes().to_vec());
    g.map(|g| g.to_ldif()).unwrap_or_else(|e| panic!("{e}"))
}

/// Writes `text` and stamps the file with `second`, so a change is seen even on file systems
/// with coarse times and even when the size is the same.
fn write(path: &Path, text: &str, second: u64) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
    let file = File::options()
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{e}"));
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + second);
    file.set_modified(time).unwrap_or_else(|e| panic!("{e}"));
}

fn setup() -> (tempfile::TempDir, PathBuf, IndiceFile) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("igpec.ldif");
    write(&path, &ldif("Acme", "pec.acme.it"), 1);
    let file = IndiceFile::open(&path).unwrap_or_else(|e| panic!("{e}"));
    (dir, path, file)
}

#[test]
fn load_reads_a_file() {
    let (_dir, path, _) = setup();
    let indice = Indice::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(indice.is_certificato("a@pec.acme.it"));
}

#[test]
fn load_of_a_missing_file_names_the_path() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("absent.ldif");
    let e = Indice::load(&path).err();
    assert!(
        matches!(&e, Some(Error::Io { path: p, .. }) if *p == path),
        "{e:?}"
    );
}

#[test]
fn refresh_without_a_change_reports_none() {
    let (_dir, _path, mut file) = setup();
    assert!(matches!(file.refresh(), Ok(false)));
    assert!(file.indice().is_certificato("a@pec.acme.it"));
}

#[test]
fn refresh_applies_a_change() {
    let (_dir, path, mut file) = setup();
    let before = file.indice();
    write(&path, &ldif("Beta", "pec.beta.it"), 2);
    assert!(matches!(file.refresh(), Ok(true)));
    assert!(file.indice().is_certificato("a@pec.beta.it"));
    assert!(!file.indice().is_certificato("a@pec.acme.it"));
    assert!(
        before.is_certificato("a@pec.acme.it"),
        "readers holding the old Arc keep it"
    );
    assert!(matches!(file.refresh(), Ok(false)));
}

#[test]
fn refresh_sees_a_change_of_size_with_the_same_time() {
    let (_dir, path, mut file) = setup();
    write(&path, &ldif("Acme", "pec.acme2.it"), 1);
    assert!(matches!(file.refresh(), Ok(true)));
    assert!(file.indice().is_certificato("a@pec.acme2.it"));
}

#[test]
fn refresh_keeps_the_last_good_copy_when_the_file_is_garbage() {
    let (_dir, path, mut file) = setup();
    write(&path, "dn: o=postacert\nthis is not LDIF\n", 2);
    assert!(matches!(file.refresh(), Err(Error::Ldif(_))));
    assert!(file.indice().is_certificato("a@pec.acme.it"));
    // Still broken: reported again, still the old copy.
    assert!(matches!(file.refresh(), Err(Error::Ldif(_))));
    assert!(file.indice().is_certificato("a@pec.acme.it"));
    // Fixed: applied.
    write(&path, &ldif("Beta", "pec.beta.it"), 3);
    assert!(matches!(file.refresh(), Ok(true)));
    assert!(file.indice().is_certificato("a@pec.beta.it"));
}

#[test]
fn refresh_keeps_the_last_good_copy_when_the_file_is_deleted() {
    let (_dir, path, mut file) = setup();
    std::fs::remove_file(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(file.refresh(), Err(Error::Io { .. })));
    assert!(file.indice().is_certificato("a@pec.acme.it"));
    assert_eq!(file.path(), path);
}

#[test]
fn a_file_larger_than_the_limit_is_refused_unread() {
    let (_dir, path, _) = setup();
    let limits = Limits {
        max_input: 10,
        ..Limits::default()
    };
    let e = IndiceFile::open_with_limits(&path, limits).err();
    assert!(
        matches!(
            e,
            Some(Error::Ldif(LdifError {
                line: 0,
                kind: LdifErrorKind::InputTooLarge { .. }
            }))
        ),
        "{e:?}"
    );
}

#[test]
fn open_fails_without_a_good_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("igpec.ldif");
    write(&path, "garbage\n", 1);
    assert!(IndiceFile::open(&path).is_err());
}
