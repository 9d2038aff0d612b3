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
