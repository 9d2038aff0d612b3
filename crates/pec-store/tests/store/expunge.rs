//! EXPUNGE: messages go, their bytes leave the quota, shared bodies stay readable.

use pec_store::{BlobStore, Outcome, Store, INLINE_BODY_MAX};

use crate::util::{expunge, open, put};

fn expunged(outcome: Outcome) -> Vec<u32> {
    match outcome {
        Outcome::Expunged { uids } => uids,
        other => panic!("not an expunge: {other:?}"),
    }
}

#[tokio::test]
async fn expunge_lowers_used_bytes_and_reports_what_it_removed() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    for (k, body) in [("k1", "one"), ("k2", "second"), ("k3", "three")] {
        s.apply(put(k, &a, "INBOX", body.as_bytes())).await.unwrap();
    }
    assert_eq!(s.used(&a).await, 14);
    let gone = expunged(s.apply(expunge(&a, "INBOX", &[3, 2, 7])).await.unwrap());
    assert_eq!(gone, [2, 3]);
    assert_eq!(s.used(&a).await, 3);
    // A replay (or another session's EXPUNGE of the same UIDs) removes nothing more.
    let again = expunged(s.apply(expunge(&a, "INBOX", &[2, 3])).await.unwrap());
    assert!(again.is_empty());
    assert_eq!(s.used(&a).await, 3);
    let info = s.store.folder(&a, "INBOX").await.unwrap().unwrap();
    assert_eq!((info.messages, info.uidnext), (1, 4));
    assert!(s
        .store
        .fetch_message(&a, "INBOX", 2)
        .await
        .unwrap()
        .is_none());
    // UIDs are never given again.
    let r = s.apply(put("k4", &a, "INBOX", b"four")).await.unwrap();
    assert!(matches!(r, Outcome::MessageStored { uid: 4, .. }), "{r:?}");
}

#[tokio::test]
async fn an_expunged_body_stays_readable_through_another_message_sharing_it() {
    let s = open().await;
    let a = s.mailbox("a@pec.example", 0).await;
    let b = s.mailbox("b@pec.example", 0).await;
    let small = b"the same receipt".to_vec();
    let large = vec![b'x'; INLINE_BODY_MAX + 1];
    for body in [&small, &large] {
        let hex = BlobStore::reference(body).hex();
        s.apply(put(&format!("a:{hex}"), &a, "INBOX", body))
            .await
            .unwrap();
        s.apply(put(&format!("b:{hex}"), &b, "INBOX", body))
            .await
            .unwrap();
    }
    s.apply(expunge(&a, "INBOX", &[1, 2])).await.unwrap();
    assert_eq!(s.used(&a).await, 0);
    assert_eq!(s.used(&b).await, (small.len() + large.len()) as u64);
    assert_eq!(s.bytes(&b, "INBOX", 1).await, small);
    assert_eq!(s.bytes(&b, "INBOX", 2).await, large);
    // A queue item naming a body by hash still finds it.
    let r = BlobStore::reference(&small);
    assert_eq!(s.store.body(&r).await.unwrap(), Some(small));
}

#[tokio::test]
async fn expunge_in_an_unknown_folder_fails() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    let err = s.apply(expunge(&a, "Nessuna", &[1])).await.unwrap_err();
    assert!(
        matches!(err, pec_store::StoreError::UnknownFolder(_)),
        "{err}"
    );
}
