//! Blobs: identical bodies stored once, corruption detected.

use pec_store::{Batch, BlobStore, Store, StoreError};

use crate::util::{open, put};

fn blob_files(root: &std::path::Path) -> usize {
    std::fs::read_dir(root.join("blobs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "tmp")
        .map(|dir| std::fs::read_dir(dir).unwrap().count())
        .sum()
}

#[tokio::test]
async fn identical_bodies_are_stored_once() {
    let s = open().await;
    let a = s.mailbox("a@pec.example", 0).await;
    let b = s.mailbox("b@pec.example", 0).await;
    let body = b"the same receipt for both".repeat(100);
    s.store
        .commit(
            Batch::new()
                .with(put("ka", &a, "INBOX", &body))
                .with(put("kb", &b, "INBOX", &body))
                .with(put("kc", &b, "Sent", b"another body")),
        )
        .await
        .unwrap();
    assert_eq!(blob_files(s.dir.path()), 2);
    let pec_store::FetchedMessage { bytes: from_a, .. } = s
        .store
        .fetch_message(&a, "INBOX", 1)
        .await
        .unwrap()
        .unwrap();
    let pec_store::FetchedMessage { bytes: from_b, .. } = s
        .store
        .fetch_message(&b, "INBOX", 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(from_a, body);
    assert_eq!(from_b, body);
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
    s.store
        .commit(Batch::new().with(put("k", &a, "INBOX", b"original")))
        .await
        .unwrap();
    let r = BlobStore::reference(b"original");
    let path = s.dir.path().join("blobs").join(&r.hex()[..2]).join(r.hex());
    std::fs::write(&path, b"0riginal").unwrap();
    let err = s.store.fetch_message(&a, "INBOX", 1).await.unwrap_err();
    assert!(matches!(err, StoreError::BlobCorrupt(_)), "{err}");
}
