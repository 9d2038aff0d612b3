//! The queue: claims with leases, completion, retries, failures, idempotent enqueue.

use std::time::Duration;

use pec_store::{backoff, Batch, Operation, Outcome, QueueStatus, Store, StoreError};

use crate::util::{enqueue, open, t};

const LEASE: Duration = Duration::from_secs(60);

fn complete(key: &str) -> Operation {
    Operation::CompleteQueueItem { key: key.into() }
}

#[tokio::test]
async fn claim_takes_due_items_once_until_the_lease_expires() {
    let s = open().await;
    s.store
        .commit(
            Batch::new()
                .with(enqueue("b", t(5)))
                .with(enqueue("a", t(0)))
                .with(enqueue("later", t(3600))),
        )
        .await
        .unwrap();
    let first = s.store.claim_due(t(10), 10, LEASE).await.unwrap();
    let keys: Vec<_> = first.iter().map(|i| (i.key.as_str(), i.attempts)).collect();
    assert_eq!(keys, [("a", 1), ("b", 1)]);
    assert!(s
        .store
        .claim_due(t(20), 10, LEASE)
        .await
        .unwrap()
        .is_empty());

    s.store
        .commit(Batch::new().with(complete("a")))
        .await
        .unwrap();
    // The worker holding "b" crashed: once its lease expires another claims it.
    let again = s.store.claim_due(t(71), 10, LEASE).await.unwrap();
    let keys: Vec<_> = again.iter().map(|i| (i.key.as_str(), i.attempts)).collect();
    assert_eq!(keys, [("b", 2)]);
    let a = s.store.queue_item("a").await.unwrap().unwrap();
    assert_eq!(a.status, QueueStatus::Done);
}

#[tokio::test]
async fn reopening_releases_the_claims_of_a_dead_process() {
    let s = open().await;
    s.store
        .commit(Batch::new().with(enqueue("k", t(0))))
        .await
        .unwrap();
    assert_eq!(s.store.claim_due(t(1), 10, LEASE).await.unwrap().len(), 1);
    // The process holding the claim is gone (the folder lock guarantees it): a new one takes
    // the item at once instead of waiting for the lease.
    let s = s.reopen().await;
    let again = s.store.claim_due(t(2), 10, LEASE).await.unwrap();
    let keys: Vec<_> = again.iter().map(|i| (i.key.as_str(), i.attempts)).collect();
    assert_eq!(keys, [("k", 2)]);
}

#[tokio::test]
async fn claim_respects_the_limit() {
    let s = open().await;
    let mut batch = Batch::new();
    for i in 0..5 {
        batch.push(enqueue(&format!("k{i}"), t(i)));
    }
    s.store.commit(batch).await.unwrap();
    let got = s.store.claim_due(t(100), 2, LEASE).await.unwrap();
    let keys: Vec<_> = got.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["k0", "k1"]);
}

#[tokio::test]
async fn retry_reschedules_with_backoff_and_releases_the_claim() {
    let s = open().await;
    s.store
        .commit(Batch::new().with(enqueue("k", t(0))))
        .await
        .unwrap();
    let item = s.store.claim_due(t(0), 1, LEASE).await.unwrap().remove(0);
    let due = t(0) + chrono::Duration::from_std(backoff(item.attempts)).unwrap();
    assert_eq!(due, t(60));
    s.store
        .commit(Batch::new().with(Operation::RetryQueueItem {
            key: "k".into(),
            due,
            error: "451 try later".into(),
        }))
        .await
        .unwrap();
    assert!(s.store.claim_due(t(59), 1, LEASE).await.unwrap().is_empty());
    let again = s.store.claim_due(t(60), 1, LEASE).await.unwrap().remove(0);
    assert_eq!(again.attempts, 2);
    assert_eq!(again.last_error.as_deref(), Some("451 try later"));
    assert_eq!(backoff(2), Duration::from_secs(120));
    assert_eq!(backoff(100), Duration::from_secs(3600));
}

#[tokio::test]
async fn enqueue_with_an_existing_key_is_a_no_op() {
    let s = open().await;
    let r1 = s
        .store
        .commit(Batch::new().with(enqueue("k", t(0))))
        .await
        .unwrap();
    let mut other = enqueue("k", t(999));
    if let Operation::Enqueue(item) = &mut other {
        item.payload = b"different".to_vec();
    }
    let r2 = s.store.commit(Batch::new().with(other)).await.unwrap();
    assert_eq!(r1.outcomes, [Outcome::Enqueued { created: true }]);
    assert_eq!(r2.outcomes, [Outcome::Enqueued { created: false }]);
    let item = s.store.queue_item("k").await.unwrap().unwrap();
    assert_eq!(
        (item.due, &item.payload[..]),
        (t(0), &b"{\"key\":\"k\"}"[..])
    );
}

#[tokio::test]
async fn transitions_are_idempotent_and_final_states_stay_final() {
    let s = open().await;
    s.store
        .commit(
            Batch::new()
                .with(enqueue("ok", t(0)))
                .with(enqueue("bad", t(0))),
        )
        .await
        .unwrap();
    let r = s
        .store
        .commit(Batch::new().with(complete("ok")))
        .await
        .unwrap();
    assert_eq!(r.outcomes, [Outcome::QueueUpdated { changed: true }]);
    let r = s
        .store
        .commit(Batch::new().with(complete("ok")))
        .await
        .unwrap();
    assert_eq!(r.outcomes, [Outcome::QueueUpdated { changed: false }]);
    let r = s
        .store
        .commit(Batch::new().with(Operation::RetryQueueItem {
            key: "ok".into(),
            due: t(100),
            error: "late".into(),
        }))
        .await
        .unwrap();
    assert_eq!(r.outcomes, [Outcome::QueueUpdated { changed: false }]);
    assert_eq!(
        s.store.queue_item("ok").await.unwrap().unwrap().status,
        QueueStatus::Done
    );

    s.store
        .commit(Batch::new().with(Operation::FailQueueItem {
            key: "bad".into(),
            error: "550 no such user".into(),
        }))
        .await
        .unwrap();
    let bad = s.store.queue_item("bad").await.unwrap().unwrap();
    assert_eq!(bad.status, QueueStatus::Failed);
    assert!(s
        .store
        .claim_due(t(1000), 10, LEASE)
        .await
        .unwrap()
        .is_empty());

    let err = s
        .store
        .commit(Batch::new().with(complete("nope")))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownQueueItem(_)), "{err}");
}
