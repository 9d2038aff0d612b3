//! Group commit: many concurrent committers, each gets its own receipt.

use std::collections::BTreeSet;

use pec_store::{Batch, Outcome, Store};

use crate::util::{enqueue, log, open, put, t};

#[tokio::test]
async fn fifty_concurrent_committers_all_get_receipts_and_all_data_is_there() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    let mut tasks = Vec::new();
    for n in 0..50u32 {
        let store = s.store.clone();
        let a = a.clone();
        tasks.push(tokio::spawn(async move {
            let body = format!("message number {n}").into_bytes();
            let batch = Batch::new()
                .with(put(&format!("m{n}"), &a, "INBOX", &body))
                .with(enqueue(&format!("q{n}"), t(0)))
                .with(log("delivered", &format!("msg{n}"), "s@pec.example", t(0)));
            store.commit(batch).await.unwrap()
        }));
    }
    let mut uids = BTreeSet::new();
    let mut seqs = BTreeSet::new();
    for task in tasks {
        let receipt = task.await.unwrap();
        match receipt.outcomes[..] {
            [Outcome::MessageStored { uid, .. }, Outcome::Enqueued { created: true }, Outcome::Logged { seq }] =>
            {
                uids.insert(uid);
                seqs.insert(seq);
            }
            ref other => panic!("{other:?}"),
        }
    }
    assert_eq!(uids, (1..=50).collect());
    assert_eq!(seqs, (1..=50).collect());
    assert_eq!(s.store.list_messages(&a, "INBOX").await.unwrap().len(), 50);
    for n in 0..50 {
        assert!(s
            .store
            .queue_item(&format!("q{n}"))
            .await
            .unwrap()
            .is_some());
    }
    assert_eq!(s.store.log_verify().await.unwrap().seq, 50);
}
