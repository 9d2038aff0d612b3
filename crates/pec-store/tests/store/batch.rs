//! Atomic batches and idempotent replays.

use pec_store::{Batch, LogQuery, Operation, Outcome, Store, StoreError};

use crate::util::{addr, enqueue, log, open, put, t};

/// What a delivery worker commits for one recipient.
fn delivery(mailbox: &pec_store::Address, n: u32) -> Vec<Operation> {
    vec![
        put(
            &format!("box:{mailbox}:msg{n}:busta"),
            mailbox,
            "INBOX",
            b"envelope",
        ),
        enqueue(&format!("receipt:msg{n}:{mailbox}"), t(0)),
        log(
            "delivered",
            &format!("msg{n}"),
            "sender@pec.example",
            t(n.into()),
        ),
    ]
}

#[tokio::test]
async fn a_batch_with_a_failing_operation_leaves_nothing() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    let mut batch = Batch::new();
    for op in delivery(&a, 1) {
        batch.push(op);
    }
    batch.push(put("k-ghost", &addr("ghost@pec.example"), "INBOX", b"x"));
    let err = s.store.commit(batch).await.unwrap_err();
    assert!(matches!(err, StoreError::UnknownMailbox(_)), "{err}");

    assert!(s.store.list_messages(&a, "INBOX").await.unwrap().is_empty());
    assert!(s
        .store
        .queue_item("receipt:msg1:box@pec.example")
        .await
        .unwrap()
        .is_none());
    assert!(s
        .store
        .log_search(&LogQuery::default())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.store.mailbox(&a).await.unwrap().unwrap().used_bytes, 0);

    // The chain head was rolled back too: the next event is seq 1 and the log verifies.
    let ok = s
        .store
        .commit(Batch::new().with(delivery(&a, 2).remove(2)))
        .await
        .unwrap();
    assert_eq!(ok.outcomes, [Outcome::Logged { seq: 1 }]);
    assert_eq!(s.store.log_verify().await.unwrap().seq, 1);
    let inbox = s.store.folder(&a, "INBOX").await.unwrap().unwrap();
    assert_eq!(inbox.uidnext, 1);
}

#[tokio::test]
async fn replaying_a_delivery_stores_the_message_and_queue_item_once() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    let first = s
        .store
        .commit(
            Batch::new()
                .with(delivery(&a, 1).remove(0))
                .with(delivery(&a, 1).remove(1)),
        )
        .await
        .unwrap();
    // The worker crashed after the commit and runs the same step again.
    let replay = s
        .store
        .commit(
            Batch::new()
                .with(delivery(&a, 1).remove(0))
                .with(delivery(&a, 1).remove(1)),
        )
        .await
        .unwrap();
    let Outcome::MessageStored {
        uid,
        uidvalidity,
        duplicate: false,
    } = first.outcomes[0]
    else {
        panic!("{:?}", first.outcomes)
    };
    assert_eq!(
        replay.outcomes,
        [
            Outcome::MessageStored {
                uid,
                uidvalidity,
                duplicate: true
            },
            Outcome::Enqueued { created: false }
        ]
    );
    assert_eq!(s.store.list_messages(&a, "INBOX").await.unwrap().len(), 1);
    assert_eq!(s.store.mailbox(&a).await.unwrap().unwrap().used_bytes, 8);
}

#[tokio::test]
async fn a_keyed_batch_with_log_lines_is_applied_once() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    let keyed = || {
        let mut b = Batch::once("consegna:msg1:box@pec.example");
        for op in delivery(&a, 1) {
            b.push(op);
        }
        b
    };
    let first = s.store.commit(keyed()).await.unwrap();
    let again = s.store.commit(keyed()).await.unwrap();
    assert!(!first.replayed);
    assert!(again.replayed && again.outcomes.is_empty());
    let events = s
        .store
        .log_search(&LogQuery {
            msgid: Some("msg1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
}

#[tokio::test]
async fn a_failing_batch_does_not_spoil_the_batches_committed_with_it() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    let ghost = addr("ghost@pec.example");
    let mut tasks = Vec::new();
    for n in 0..20u32 {
        let store = s.store.clone();
        let (a, ghost) = (a.clone(), ghost.clone());
        tasks.push(tokio::spawn(async move {
            let mut batch = Batch::new();
            for op in delivery(&a, n) {
                batch.push(op);
            }
            if n % 4 == 0 {
                batch.push(put(&format!("bad{n}"), &ghost, "INBOX", b"x"));
            }
            store.commit(batch).await
        }));
    }
    let mut failed = 0;
    for task in tasks {
        if task.await.unwrap().is_err() {
            failed += 1;
        }
    }
    assert_eq!(failed, 5);
    assert_eq!(s.store.list_messages(&a, "INBOX").await.unwrap().len(), 15);
    assert_eq!(s.store.log_verify().await.unwrap().seq, 15);
}
