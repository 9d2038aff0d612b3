//! Reopening: everything committed is there, and the chain continues.

use std::time::Duration;

use pec_store::{Batch, LogQuery, QueueStatus, SqliteStore, Store, StoreError};

use crate::util::{enqueue, log, open, put, t};

#[tokio::test]
async fn reopen_after_drop_keeps_everything_and_the_chain_continues() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 500).await;
    s.store
        .commit(
            Batch::new()
                .with(put("m1", &a, "INBOX", b"hello"))
                .with(enqueue("q1", t(0)))
                .with(log("delivered", "msg1", "s@pec.example", t(1))),
        )
        .await
        .unwrap();
    s.store
        .claim_due(t(0), 1, Duration::from_secs(60))
        .await
        .unwrap();

    let s = s.reopen().await;
    let info = s.store.mailbox(&a).await.unwrap().unwrap();
    assert_eq!((info.quota_bytes, info.used_bytes), (500, 5));
    assert!(s
        .store
        .verify_password("box@pec.example", "secret")
        .await
        .unwrap());
    let pec_store::FetchedMessage { bytes: body, .. } = s
        .store
        .fetch_message(&a, "INBOX", 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body, b"hello");
    let q = s.store.queue_item("q1").await.unwrap().unwrap();
    assert_eq!((q.status, q.attempts), (QueueStatus::Scheduled, 1));

    s.store
        .commit(Batch::new().with(log("delivered", "msg2", "s@pec.example", t(2))))
        .await
        .unwrap();
    assert_eq!(s.store.log_verify().await.unwrap().seq, 2);
    assert_eq!(
        s.store
            .log_search(&LogQuery::default())
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn a_second_store_on_the_same_folder_is_refused() {
    let s = open().await;
    let err = SqliteStore::open(s.dir.path()).await.unwrap_err();
    assert!(matches!(err, StoreError::Locked(_)), "{err}");
}

#[tokio::test]
async fn a_closed_store_refuses_work() {
    let s = open().await;
    s.store.close().await;
    let err = s.store.commit(Batch::new()).await.unwrap_err();
    assert!(matches!(err, StoreError::WriterGone), "{err}");
}
