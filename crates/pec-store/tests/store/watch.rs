//! IDLE's counter: moves after commits that change the watched mailbox, and only then.

use std::time::Duration;

use pec_store::{Batch, FlagOp, Store};

use crate::util::{enqueue, open, put, set_flags, t};

#[tokio::test]
async fn a_watcher_wakes_after_a_delivery_or_a_flag_change_to_its_mailbox_only() {
    let s = open().await;
    let a = s.mailbox("a@pec.example", 0).await;
    let b = s.mailbox("b@pec.example", 0).await;
    let mut rx = s.store.watch(&a);
    s.apply(put("b1", &b, "INBOX", b"for b")).await.unwrap();
    s.apply(enqueue("q1", t(0))).await.unwrap();
    assert!(!rx.has_changed().unwrap());
    let waiter = tokio::spawn(async move {
        rx.changed().await.unwrap();
        rx
    });
    s.apply(put("a1", &a, "INBOX", b"for a")).await.unwrap();
    let mut rx = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("woken")
        .unwrap();
    // What woke it is already readable.
    assert_eq!(
        s.store.folder(&a, "INBOX").await.unwrap().unwrap().messages,
        1
    );
    rx.mark_unchanged();
    s.apply(set_flags(&a, "INBOX", &[1], FlagOp::Add, &["\\Seen"]))
        .await
        .unwrap();
    assert!(rx.has_changed().unwrap());
    rx.mark_unchanged();
    // A failed batch and a replayed one change nothing, so they wake no one.
    let failed = Batch::new()
        .with(put("a2", &a, "INBOX", b"x"))
        .with(crate::util::delete(&a, "INBOX"));
    assert!(s.store.commit(failed).await.is_err());
    s.store.commit(Batch::once("k")).await.unwrap();
    s.store
        .commit(Batch::once("k").with(put("a3", &a, "INBOX", b"y")))
        .await
        .unwrap();
    assert!(!rx.has_changed().unwrap());
}
