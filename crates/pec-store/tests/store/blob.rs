//! Bodies: small ones inline in the database, large ones as blob files; identical bodies stored
//! once; corruption detected wherever the body is.

use pec_store::{
    Address, Batch, BlobStore, Body, FetchedMessage, Operation, Store, StoreError, INLINE_BODY_MAX,
};

use crate::util::{open, put, TestStore};

/// Blob files under `blobs/` (not counting `tmp/`).
fn blob_files(root: &std::path::Path) -> usize {
    std::fs::read_dir(root.join("blobs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "tmp")
        .map(|dir| std::fs::read_dir(dir).unwrap().count())
        .sum()
}

/// Rows of the inline `bodies` table.
async fn inline_bodies(s: &TestStore) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM bodies")
        .fetch_one(&mut s.raw().await)
        .await
        .unwrap()
}

async fn fetch(s: &TestStore, a: &Address, folder: &str, uid: u32) -> Vec<u8> {
    let FetchedMessage { bytes, .. } = s
        .store
        .fetch_message(a, folder, uid)
        .await
        .unwrap()
        .unwrap();
    bytes
}

/// A body one byte above the inline limit.
fn large_body() -> Vec<u8> {
    let mut body = b"Subject: large\r\n\r\n".to_vec();
    body.resize(INLINE_BODY_MAX + 1, b'L');
    body
}

#[tokio::test]
async fn a_small_body_is_stored_inline_without_a_file() {
    let s = open().await;
    let a = s.mailbox("a@pec.example", 0).await;
    let body = b"a receipt".repeat(1000);
    s.store
        .commit(Batch::new().with(put("k", &a, "INBOX", &body)))
        .await
        .unwrap();
    assert_eq!(blob_files(s.dir.path()), 0);
    assert_eq!(inline_bodies(&s).await, 1);
    assert_eq!(fetch(&s, &a, "INBOX", 1).await, body);
}

#[tokio::test]
async fn a_body_at_the_limit_is_inline_and_one_above_is_a_file() {
    let s = open().await;
    let a = s.mailbox("a@pec.example", 0).await;
    let at_limit = vec![b'i'; INLINE_BODY_MAX];
    let large = large_body();
    s.store
        .commit(
            Batch::new()
                .with(put("inline", &a, "INBOX", &at_limit))
                .with(put("file", &a, "INBOX", &large)),
        )
        .await
        .unwrap();
    assert_eq!(blob_files(s.dir.path()), 1);
    assert_eq!(inline_bodies(&s).await, 1);
    let r = BlobStore::reference(&large);
    assert!(s.store.blobs().contains(&r));
    assert_eq!(fetch(&s, &a, "INBOX", 1).await, at_limit);
    assert_eq!(fetch(&s, &a, "INBOX", 2).await, large);
    // Both survive a reopen.
    let s = s.reopen().await;
    assert_eq!(fetch(&s, &a, "INBOX", 1).await, at_limit);
    assert_eq!(fetch(&s, &a, "INBOX", 2).await, large);
}

#[tokio::test]
async fn identical_bodies_are_stored_once() {
    let s = open().await;
    let a = s.mailbox("a@pec.example", 0).await;
    let b = s.mailbox("b@pec.example", 0).await;
    let body = b"the same receipt for both".repeat(100);
    let large = large_body();
    s.store
        .commit(
            Batch::new()
                .with(put("ka", &a, "INBOX", &body))
                .with(put("kb", &b, "INBOX", &body))
                .with(put("kc", &b, "Sent", b"another body"))
                .with(put("la", &a, "Sent", &large))
                .with(put("lb", &b, "Sent", &large)),
        )
        .await
        .unwrap();
    // The same small body again, in a later group.
    s.store
        .commit(Batch::new().with(put("kd", &a, "Sent", &body)))
        .await
        .unwrap();
    assert_eq!(inline_bodies(&s).await, 2);
    assert_eq!(blob_files(s.dir.path()), 1);
    assert_eq!(fetch(&s, &a, "INBOX", 1).await, body);
    assert_eq!(fetch(&s, &b, "INBOX", 1).await, body);
    assert_eq!(fetch(&s, &b, "Sent", 1).await, b"another body");
    assert_eq!(fetch(&s, &a, "Sent", 1).await, large);
    assert_eq!(fetch(&s, &b, "Sent", 2).await, large);
    assert_eq!(fetch(&s, &a, "Sent", 2).await, body);
    // No temporary file is left behind.
    assert_eq!(
        std::fs::read_dir(s.dir.path().join("blobs/tmp"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn an_altered_blob_is_reported_not_returned() {
    let s = open().await;
    let a = s.mailbox("a@pec.example", 0).await;
    let large = large_body();
    s.store
        .commit(Batch::new().with(put("k", &a, "INBOX", &large)))
        .await
        .unwrap();
    let r = BlobStore::reference(&large);
    let path = s.dir.path().join("blobs").join(&r.hex()[..2]).join(r.hex());
    let mut altered = large.clone();
    altered[0] = b'Z';
    std::fs::write(&path, altered).unwrap();
    let err = s.store.fetch_message(&a, "INBOX", 1).await.unwrap_err();
    assert!(matches!(err, StoreError::BlobCorrupt(_)), "{err}");
}

#[tokio::test]
async fn an_altered_inline_body_is_reported_like_an_altered_blob() {
    let s = open().await;
    let a = s.mailbox("a@pec.example", 0).await;
    s.store
        .commit(Batch::new().with(put("k", &a, "INBOX", b"original")))
        .await
        .unwrap();
    let r = BlobStore::reference(b"original");
    let changed = sqlx::query("UPDATE bodies SET bytes = ? WHERE hash = ?")
        .bind(&b"0riginal"[..])
        .bind(r.hex())
        .execute(&mut s.raw().await)
        .await
        .unwrap();
    assert_eq!(changed.rows_affected(), 1);
    let err = s.store.fetch_message(&a, "INBOX", 1).await.unwrap_err();
    assert!(
        matches!(err, StoreError::BlobCorrupt(ref h) if *h == r.hex()),
        "{err}"
    );
}

#[tokio::test]
async fn a_small_body_stored_as_a_file_is_still_found() {
    // What a folder written before inline bodies holds: message rows naming blob files.
    let s = open().await;
    let a = s.mailbox("a@pec.example", 0).await;
    let r = s.store.put_blob(b"an old body".to_vec()).await.unwrap();
    let Operation::PutMessage(mut msg) = put("k", &a, "INBOX", b"") else {
        unreachable!("put builds a PutMessage")
    };
    msg.body = Body::Stored(r);
    s.store
        .commit(Batch::new().with(Operation::PutMessage(msg)))
        .await
        .unwrap();
    assert_eq!(inline_bodies(&s).await, 0);
    assert_eq!(fetch(&s, &a, "INBOX", 1).await, b"an old body");
}

#[tokio::test]
async fn a_folder_without_the_bodies_table_is_migrated_and_keeps_its_blobs() {
    let s = open().await;
    let a = s.mailbox("a@pec.example", 0).await;
    let r = s
        .store
        .put_blob(b"stored by version 1".to_vec())
        .await
        .unwrap();
    let Operation::PutMessage(mut msg) = put("old", &a, "INBOX", b"") else {
        unreachable!("put builds a PutMessage")
    };
    msg.body = Body::Stored(r);
    s.store
        .commit(Batch::new().with(Operation::PutMessage(msg)))
        .await
        .unwrap();
    // Turn the database back into schema version 1.
    sqlx::raw_sql(
        "DROP INDEX messages_unseen; ALTER TABLE messages DROP COLUMN seen;
         ALTER TABLE folders DROP COLUMN subscribed;
         ALTER TABLE queue DROP COLUMN body; ALTER TABLE queue DROP COLUMN body_size;
         ALTER TABLE mailboxes DROP COLUMN totp_secret; ALTER TABLE mailboxes DROP COLUMN totp_step;
         DROP TABLE bodies; DELETE FROM schema_version WHERE version >= 2;",
    )
    .execute(&mut s.raw().await)
    .await
    .unwrap();
    let s = s.reopen().await;
    let version: i64 = sqlx::query_scalar("SELECT MAX(version) FROM schema_version")
        .fetch_one(&mut s.raw().await)
        .await
        .unwrap();
    assert_eq!(version, 6);
    assert_eq!(fetch(&s, &a, "INBOX", 1).await, b"stored by version 1");
    s.store
        .commit(Batch::new().with(put("new", &a, "INBOX", b"stored inline")))
        .await
        .unwrap();
    assert_eq!(fetch(&s, &a, "INBOX", 2).await, b"stored inline");
    assert_eq!(inline_bodies(&s).await, 1);
}

#[tokio::test]
async fn a_body_is_read_by_its_reference_inline_or_file() {
    let s = open().await;
    let a = s.mailbox("a@pec.example", 0).await;
    let small = b"an envelope".repeat(100);
    let large = large_body();
    s.store
        .commit(
            Batch::new()
                .with(put("s", &a, "Sent", &small))
                .with(put("l", &a, "Sent", &large)),
        )
        .await
        .unwrap();
    for body in [&small, &large] {
        let r = BlobStore::reference(body);
        assert_eq!(s.store.body(&r).await.unwrap().as_ref(), Some(body));
    }
    let unknown = BlobStore::reference(b"never stored");
    assert_eq!(s.store.body(&unknown).await.unwrap(), None);
}

/// An item carrying `body` apart from its payload.
fn enqueue_with(key: &str, body: &std::sync::Arc<[u8]>) -> Operation {
    Operation::Enqueue(pec_store::NewQueueItem {
        key: key.to_owned(),
        kind: "deliver".to_owned(),
        payload: b"{}\n".to_vec(),
        body: Some(Body::Bytes(body.clone())),
        due: crate::util::t(0),
    })
}

#[tokio::test]
async fn a_body_queued_for_several_items_and_kept_in_a_box_is_stored_once() {
    let s = open().await;
    let a = s.mailbox("a@pec.example", 0).await;
    let small: std::sync::Arc<[u8]> = b"the envelope".to_vec().into();
    let large: std::sync::Arc<[u8]> = vec![b'x'; INLINE_BODY_MAX + 1].into();
    let Operation::PutMessage(mut kept) = put("kept", &a, "INBOX", b"") else {
        unreachable!("put builds a PutMessage")
    };
    kept.body = Body::Bytes(small.clone());
    s.store
        .commit(
            Batch::new()
                .with(enqueue_with("q1", &small))
                .with(enqueue_with("q2", &small))
                .with(Operation::PutMessage(kept))
                .with(enqueue_with("q3", &large)),
        )
        .await
        .unwrap();
    assert_eq!(inline_bodies(&s).await, 1);
    assert_eq!(blob_files(s.dir.path()), 1);
    let items = s
        .store
        .claim_due(crate::util::t(1), 10, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(items.len(), 3);
    for item in &items {
        let r = item.body.expect("stored apart");
        let bytes = s.store.body(&r).await.unwrap().unwrap();
        let want: &[u8] = if item.key == "q3" { &large } else { &small };
        assert_eq!(bytes, want, "{}", item.key);
        assert_eq!(item.payload, b"{}\n");
    }
    let read = s.store.queue_item("q1").await.unwrap().unwrap();
    assert_eq!(read.body, items[0].body);
    // The check reads queued bodies too: one body for q1, q2 and the message, one for q3.
    let report = s.store.check().await.unwrap();
    assert!(report.intatto(), "{:?}", report.problemi);
    assert_eq!(report.corpi, 2);
}
