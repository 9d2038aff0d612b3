//! COPY: new UIDs in the destination, same body, same flags, counted in the quota.

use pec_store::{FlagOp, Outcome, Store, StoreError};

use crate::util::{copy, create, expunge, open, put, set_flags, strings, TestStore};

fn copied(outcome: Outcome) -> (u32, Vec<(u32, u32)>) {
    match outcome {
        Outcome::Copied { uidvalidity, pairs } => (uidvalidity, pairs),
        other => panic!("not a copy: {other:?}"),
    }
}

/// A box (quota `quota`) with folder Archivio and INBOX UIDs 1..=3, bodies "one" "two" "three".
async fn setup(quota: u64) -> (TestStore, pec_store::Address) {
    let s = open().await;
    let a = s.mailbox("box@pec.example", quota).await;
    s.apply(create(&a, "Archivio")).await.unwrap();
    for (k, body) in [("k1", "one"), ("k2", "two"), ("k3", "three")] {
        s.apply(put(k, &a, "INBOX", body.as_bytes())).await.unwrap();
    }
    (s, a)
}

#[tokio::test]
async fn copies_get_new_uids_the_same_flags_and_count_towards_the_quota() {
    let (s, a) = setup(0).await;
    s.apply(set_flags(
        &a,
        "INBOX",
        &[3],
        FlagOp::Add,
        &["\\Seen", "$Pec"],
    ))
    .await
    .unwrap();
    s.apply(put("k4", &a, "Archivio", b"already"))
        .await
        .unwrap();
    let (validity, pairs) = copied(
        s.apply(copy(&a, "INBOX", "Archivio", &[3, 1, 8]))
            .await
            .unwrap(),
    );
    assert_eq!(validity, s.uidvalidity(&a, "Archivio").await);
    assert_eq!(pairs, [(1, 2), (3, 3)]);
    assert_eq!(
        s.flags(&a, "Archivio").await,
        [(1, vec![]), (2, vec![]), (3, strings(&["\\Seen", "$Pec"]))]
    );
    assert_eq!(s.bytes(&a, "Archivio", 3).await, b"three");
    assert_eq!(s.used(&a).await, 11 + 7 + 8);
    let info = s.store.folder(&a, "Archivio").await.unwrap().unwrap();
    assert_eq!((info.messages, info.unseen, info.uidnext), (3, 2, 4));
    // The source is untouched.
    assert_eq!(
        s.store.folder(&a, "INBOX").await.unwrap().unwrap().messages,
        3
    );
    // Each copy has a key of its own.
    let keys: Vec<_> = s.store.list_messages(&a, "Archivio").await.unwrap();
    assert_eq!(keys[1].key, format!("imap:{a}:{validity}:2"));
}

#[tokio::test]
async fn a_copy_survives_the_expunge_of_its_source() {
    let (s, a) = setup(0).await;
    s.apply(copy(&a, "INBOX", "Archivio", &[2])).await.unwrap();
    s.apply(expunge(&a, "INBOX", &[2])).await.unwrap();
    assert_eq!(s.bytes(&a, "Archivio", 1).await, b"two");
    assert_eq!(s.used(&a).await, 11);
}

#[tokio::test]
async fn a_copy_into_the_same_folder_copies_each_message_once() {
    let (s, a) = setup(0).await;
    let (_, pairs) = copied(
        s.apply(copy(&a, "inbox", "INBOX", &[1, 2, 3]))
            .await
            .unwrap(),
    );
    assert_eq!(pairs, [(1, 4), (2, 5), (3, 6)]);
    assert_eq!(s.bytes(&a, "INBOX", 6).await, b"three");
}

#[tokio::test]
async fn a_copy_over_quota_copies_nothing() {
    let (s, a) = setup(15).await;
    let err = s
        .apply(copy(&a, "INBOX", "Archivio", &[1, 3]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::MailboxFull {
                used: 11,
                quota: 15,
                incoming: 8,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        s.store
            .folder(&a, "Archivio")
            .await
            .unwrap()
            .unwrap()
            .messages,
        0
    );
    assert_eq!(s.used(&a).await, 11);
    let (_, pairs) = copied(s.apply(copy(&a, "INBOX", "Archivio", &[1])).await.unwrap());
    assert_eq!(pairs, [(1, 1)]);
}

#[tokio::test]
async fn a_copy_to_a_missing_folder_names_it() {
    let (s, a) = setup(0).await;
    let err = s.apply(copy(&a, "INBOX", "Nuova", &[1])).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::UnknownFolder(n) if n == "Nuova"),
        "{err}"
    );
    let err = s
        .apply(copy(&a, "Vecchia", "INBOX", &[1]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::UnknownFolder(n) if n == "Vecchia"),
        "{err}"
    );
}

fn move_(a: &pec_store::Address, from: &str, to: &str, uids: &[u32]) -> pec_store::Operation {
    pec_store::Operation::MoveMessages {
        address: a.clone(),
        from: from.into(),
        to: to.into(),
        uids: uids.to_vec(),
    }
}

#[tokio::test]
async fn a_move_in_a_full_box_works_and_leaves_the_quota_as_it_was() {
    // Issue 12: MOVE to Trash is how a full box is emptied; it must not need free space.
    let (s, a) = setup(11).await;
    assert_eq!(s.used(&a).await, 11);
    let (_, pairs) = copied(
        s.apply(move_(&a, "INBOX", "Archivio", &[1, 3]))
            .await
            .unwrap(),
    );
    assert_eq!(pairs, [(1, 1), (3, 2)]);
    assert_eq!(s.used(&a).await, 11);
    let inbox = s.store.folder(&a, "INBOX").await.unwrap().unwrap();
    assert_eq!(inbox.messages, 1);
    assert_eq!(s.bytes(&a, "Archivio", 2).await, b"three");
}

#[tokio::test]
async fn the_same_move_twice_moves_once() {
    // Issue 12: two sessions moving one message: the second finds it gone.
    let (s, a) = setup(0).await;
    let (first, second) = tokio::join!(
        s.apply(move_(&a, "INBOX", "Archivio", &[2])),
        s.apply(move_(&a, "INBOX", "Archivio", &[2]))
    );
    let moved: usize = [first.unwrap(), second.unwrap()]
        .into_iter()
        .map(|o| copied(o).1.len())
        .sum();
    assert_eq!(moved, 1);
    let archivio = s.store.folder(&a, "Archivio").await.unwrap().unwrap();
    assert_eq!(archivio.messages, 1);
}
