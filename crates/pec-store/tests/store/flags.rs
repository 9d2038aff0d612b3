//! IMAP flags: STORE +FLAGS / -FLAGS / FLAGS, their spelling, and the unseen count.

use pec_store::{FlagOp, NewMessage, Operation, Outcome, Store, StoreError};

use crate::util::{open, put, set_flags, strings, t, TestStore};

fn stored(outcome: Outcome) -> Vec<(u32, Vec<String>)> {
    match outcome {
        Outcome::FlagsStored { flags } => flags,
        other => panic!("not stored flags: {other:?}"),
    }
}

/// A box with three messages in INBOX (UIDs 1, 2, 3).
async fn three() -> (TestStore, pec_store::Address) {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    for k in ["k1", "k2", "k3"] {
        s.apply(put(k, &a, "INBOX", k.as_bytes())).await.unwrap();
    }
    (s, a)
}

#[tokio::test]
async fn add_remove_and_replace_report_the_new_flags_and_skip_missing_uids() {
    let (s, a) = three().await;
    let added = s
        .apply(set_flags(
            &a,
            "INBOX",
            &[3, 1, 9, 1],
            FlagOp::Add,
            &["\\Seen", "$Lavoro"],
        ))
        .await
        .unwrap();
    let both = strings(&["\\Seen", "$Lavoro"]);
    assert_eq!(stored(added), [(1, both.clone()), (3, both.clone())]);
    let removed = s
        .apply(set_flags(&a, "INBOX", &[1, 2], FlagOp::Remove, &["\\seen"]))
        .await
        .unwrap();
    assert_eq!(stored(removed), [(1, strings(&["$Lavoro"])), (2, vec![])]);
    let replaced = s
        .apply(set_flags(
            &a,
            "INBOX",
            &[2],
            FlagOp::Replace,
            &["\\Flagged", "\\Answered"],
        ))
        .await
        .unwrap();
    assert_eq!(
        stored(replaced),
        [(2, strings(&["\\Flagged", "\\Answered"]))]
    );
    assert_eq!(
        s.flags(&a, "INBOX").await,
        [
            (1, strings(&["$Lavoro"])),
            (2, strings(&["\\Flagged", "\\Answered"])),
            (3, both),
        ]
    );
    // list_messages and fetch_message see the same flags.
    let listed = s.store.list_messages(&a, "INBOX").await.unwrap();
    assert_eq!(listed[1].flags, strings(&["\\Flagged", "\\Answered"]));
    let fetched = s
        .store
        .fetch_message(&a, "INBOX", 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fetched.meta.flags, strings(&["$Lavoro"]));
}

#[tokio::test]
async fn flags_compare_case_insensitively_and_are_stored_once() {
    let (s, a) = three().await;
    let op = set_flags(
        &a,
        "INBOX",
        &[1],
        FlagOp::Add,
        &[
            "\\SEEN",
            "\\seen",
            "$Label1",
            "$LABEL1",
            "\\Recent",
            "\\deleted",
        ],
    );
    let flags = stored(s.apply(op).await.unwrap());
    assert_eq!(flags, [(1, strings(&["\\Seen", "$Label1", "\\Deleted"]))]);
    let again = set_flags(&a, "INBOX", &[1], FlagOp::Add, &["$label1", "\\Seen"]);
    let flags = stored(s.apply(again).await.unwrap());
    assert_eq!(flags, [(1, strings(&["\\Seen", "$Label1", "\\Deleted"]))]);
}

#[tokio::test]
async fn a_replayed_store_gives_the_same_flags() {
    let (s, a) = three().await;
    for op in [FlagOp::Add, FlagOp::Remove, FlagOp::Replace] {
        let first = s
            .apply(set_flags(&a, "INBOX", &[1, 2], op, &["\\Seen"]))
            .await;
        let replay = s
            .apply(set_flags(&a, "INBOX", &[1, 2], op, &["\\Seen"]))
            .await;
        assert_eq!(first.unwrap(), replay.unwrap(), "{op:?}");
    }
}

#[tokio::test]
async fn a_malformed_flag_or_folder_fails_the_batch() {
    let (s, a) = three().await;
    for bad in ["two words", "", "(x"] {
        let err = s
            .apply(set_flags(&a, "INBOX", &[1], FlagOp::Add, &["\\Seen", bad]))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidFlag(_)), "{bad:?}: {err}");
    }
    let err = s
        .apply(set_flags(&a, "Nessuna", &[1], FlagOp::Add, &["\\Seen"]))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownFolder(_)), "{err}");
    assert!(s.flags(&a, "INBOX").await.iter().all(|(_, f)| f.is_empty()));
}

#[tokio::test]
async fn unseen_counts_the_messages_without_seen() {
    let (s, a) = three().await;
    let unseen = |s: &TestStore| {
        let a = a.clone();
        let store = s.store.clone();
        async move {
            let listed = store.folders(&a).await.unwrap();
            let one = store.folder(&a, "INBOX").await.unwrap().unwrap();
            assert_eq!(listed[0], one);
            (one.messages, one.unseen)
        }
    };
    assert_eq!(unseen(&s).await, (3, 3));
    s.apply(set_flags(&a, "INBOX", &[1, 3], FlagOp::Add, &["\\seen"]))
        .await
        .unwrap();
    assert_eq!(unseen(&s).await, (3, 1));
    s.apply(set_flags(
        &a,
        "INBOX",
        &[3],
        FlagOp::Replace,
        &["\\Flagged"],
    ))
    .await
    .unwrap();
    assert_eq!(unseen(&s).await, (3, 2));
    // A keyword that merely contains the word is not \Seen.
    s.apply(set_flags(
        &a,
        "INBOX",
        &[2],
        FlagOp::Add,
        &["$Seen", "NotSeen"],
    ))
    .await
    .unwrap();
    assert_eq!(unseen(&s).await, (3, 2));
}

#[tokio::test]
async fn flags_stored_before_version_3_count_whatever_their_spelling() {
    let (s, a) = three().await;
    sqlx::query("UPDATE messages SET flags = ? WHERE uid = 2")
        .bind("$x \\SEEN")
        .execute(&mut s.raw().await)
        .await
        .unwrap();
    let s = s.reopen().await;
    assert_eq!(
        s.store.folder(&a, "INBOX").await.unwrap().unwrap().unseen,
        2
    );
    let flags = stored(
        s.apply(set_flags(&a, "INBOX", &[2], FlagOp::Remove, &["\\Seen"]))
            .await
            .unwrap(),
    );
    assert_eq!(flags, [(2, strings(&["$x"]))]);
    assert_eq!(
        s.store.folder(&a, "INBOX").await.unwrap().unwrap().unseen,
        3
    );
}

#[tokio::test]
async fn a_message_is_stored_with_its_flags_normalised() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    let msg = NewMessage::append(
        a.clone(),
        "INBOX",
        b"hello".to_vec(),
        strings(&["\\seen", "\\Seen", "$Inviato"]),
        t(0),
    );
    s.apply(Operation::PutMessage(msg)).await.unwrap();
    assert_eq!(
        s.flags(&a, "INBOX").await,
        [(1, strings(&["\\Seen", "$Inviato"]))]
    );
    assert_eq!(
        s.store.folder(&a, "INBOX").await.unwrap().unwrap().unseen,
        0
    );
}
