//! Integrity (issue 12, item 5): the quick check at open and the full check on demand.

use pec_store::{Batch, SqliteStore, Store, StoreError};

use crate::util::{log, open, put, t, TestStore};

/// A store with a box, a hundred messages and as many log events.
async fn filled() -> TestStore {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    for n in 0..100u32 {
        let body = format!(
            "Subject: {n}\r\n\r\n{}\r\n",
            "corpo ".repeat(200 + n as usize)
        );
        s.store
            .commit(
                Batch::new()
                    .with(put(&format!("m{n}"), &a, "INBOX", body.as_bytes()))
                    .with(log(
                        "consegna",
                        &format!("msg{n}"),
                        "s@pec.example",
                        t(n.into()),
                    )),
            )
            .await
            .unwrap();
    }
    s
}

#[tokio::test]
async fn an_intact_store_passes_the_full_check() {
    let s = filled().await;
    let r = s.store.check().await.unwrap();
    assert!(r.intatto(), "{:?}", r.problemi);
    assert_eq!(r.eventi, 100);
    assert_eq!(r.corpi, 100);
}

#[tokio::test]
async fn an_altered_body_is_found_by_the_full_check() {
    let s = filled().await;
    s.store.close().await;
    let mut raw = s.raw().await;
    sqlx::raw_sql("UPDATE bodies SET bytes = X'00' WHERE rowid = 50")
        .execute(&mut raw)
        .await
        .unwrap();
    drop(raw);
    let s = s.reopen().await;
    let r = s.store.check().await.unwrap();
    assert_eq!(r.problemi.len(), 1, "{:?}", r.problemi);
    assert!(
        r.problemi[0].contains("does not match its hash"),
        "{:?}",
        r.problemi
    );
}

#[tokio::test]
async fn random_damage_in_the_middle_of_the_database_stops_the_store_from_opening() {
    let s = filled().await;
    s.store.close().await;
    let TestStore { dir, store } = s;
    drop(store);
    let db = dir.path().join("gestore.sqlite");
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 64 * 1024, "{} bytes", bytes.len());
    let mezzo = bytes.len() / 2;
    for (i, b) in bytes[mezzo..mezzo + 4096].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(7);
    }
    std::fs::write(&db, bytes).unwrap();
    let err = SqliteStore::open(dir.path()).await.unwrap_err();
    assert!(matches!(err, StoreError::DatabaseDamaged(_)), "{err}");
}

#[tokio::test]
async fn a_body_file_altered_or_gone_is_found_by_the_full_check() {
    let s = filled().await;
    let a = pec_store::Address::parse("box@pec.example").unwrap();
    // Larger than what the database keeps inline: a file under blobs/.
    let big = vec![b'x'; 2 * 1024 * 1024];
    s.store
        .commit(Batch::new().with(put("grande", &a, "INBOX", &big)))
        .await
        .unwrap();
    s.store.close().await;
    let files: Vec<_> = walk(&s.dir.path().join("blobs"))
        .into_iter()
        .filter(|p| !p.starts_with(s.dir.path().join("blobs/tmp")))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    std::fs::write(&files[0], b"altered").unwrap();
    let r = pec_store::check_folder(s.dir.path(), None).await.unwrap();
    assert_eq!(r.problemi.len(), 1, "{:?}", r.problemi);
    assert!(
        r.problemi[0].contains("missing or does not match"),
        "{:?}",
        r.problemi
    );
    std::fs::remove_file(&files[0]).unwrap();
    let r = pec_store::check_folder(s.dir.path(), None).await.unwrap();
    assert_eq!(r.problemi.len(), 1, "{:?}", r.problemi);
}

#[tokio::test]
async fn the_full_check_reports_a_head_file_damaged_or_missing() {
    let s = filled().await;
    s.store.close().await;
    let head = s.dir.path().join("log.head");
    let intact = pec_store::check_folder(s.dir.path(), None).await.unwrap();
    assert!(intact.intatto(), "{:?}", intact.problemi);
    std::fs::write(&head, "rubbish").unwrap();
    let r = pec_store::check_folder(s.dir.path(), None).await.unwrap();
    assert_eq!(r.problemi.len(), 1, "{:?}", r.problemi);
    assert!(r.problemi[0].contains("damaged"), "{:?}", r.problemi);
    std::fs::remove_file(&head).unwrap();
    let r = pec_store::check_folder(s.dir.path(), None).await.unwrap();
    assert_eq!(r.problemi.len(), 1, "{:?}", r.problemi);
    assert!(r.problemi[0].contains("missing"), "{:?}", r.problemi);
}

/// A stand-in for the provider's key: the SHA-256 of the lines and a secret.
struct Finto;
impl pec_store::Sigillo for Finto {
    fn sigilla(&self, corpo: &[u8]) -> Result<Vec<u8>, String> {
        use sha2::Digest as _;
        Ok(sha2::Sha256::digest([corpo, b"segreto"].concat()).to_vec())
    }
    fn verifica(&self, corpo: &[u8], sigillo: &[u8]) -> Result<(), String> {
        (self.sigilla(corpo)? == sigillo)
            .then_some(())
            .ok_or_else(|| "wrong seal".into())
    }
}

#[tokio::test]
async fn a_sealed_head_is_kept_sealed_by_openers_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key: std::sync::Arc<dyn pec_store::Sigillo> = std::sync::Arc::new(Finto);
    let store = SqliteStore::open_sealed(&data, Some(key.clone()))
        .await
        .unwrap();
    store
        .commit(Batch::new().with(log("consegna", "m1", "s@pec.example", t(1))))
        .await
        .unwrap();
    store.close().await;
    drop(store);
    // A keyless opener that commits leaves the sealed file as it was (lagging is allowed).
    let store = SqliteStore::open(&data).await.unwrap();
    store
        .commit(Batch::new().with(log("consegna", "m2", "s@pec.example", t(2))))
        .await
        .unwrap();
    store.close().await;
    drop(store);
    let testo = std::fs::read_to_string(data.join("log.head")).unwrap();
    assert!(
        testo.contains("seq 1\n") && testo.contains("\nseal "),
        "{testo}"
    );
    // Nor can it adopt over the seal.
    let err = pec_store::adopt_head(&data, None).await.unwrap_err();
    assert!(matches!(err, StoreError::SealNeeded(_)), "{err}");
    // The key opens it, and the head catches up, sealed.
    let store = SqliteStore::open_sealed(&data, Some(key)).await.unwrap();
    store
        .commit(Batch::new().with(log("consegna", "m3", "s@pec.example", t(3))))
        .await
        .unwrap();
    store.close().await;
    let testo = std::fs::read_to_string(data.join("log.head")).unwrap();
    assert!(
        testo.contains("seq 3\n") && testo.contains("\nseal "),
        "{testo}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
