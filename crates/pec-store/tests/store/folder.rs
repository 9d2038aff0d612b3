//! Folders as IMAP sees them: CREATE, DELETE, RENAME, SUBSCRIBE, LIST, UIDVALIDITY.

use pec_store::{Batch, Operation, Outcome, Store, StoreError};

use crate::util::{create, delete, open, put, rename, TestStore};

fn created(outcome: Outcome) -> u32 {
    match outcome {
        Outcome::FolderCreated { uidvalidity } => uidvalidity,
        other => panic!("not a created folder: {other:?}"),
    }
}

async fn names(s: &TestStore, a: &pec_store::Address) -> Vec<String> {
    let folders = s.store.folders(a).await.unwrap();
    folders.into_iter().map(|f| f.name).collect()
}

#[tokio::test]
async fn a_created_folder_is_listed_after_inbox_empty_and_subscribed() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    let v = created(s.apply(create(&a, "Archivio")).await.unwrap());
    created(s.apply(create(&a, "Archivio/2025")).await.unwrap());
    assert_eq!(
        names(&s, &a).await,
        [
            "INBOX",
            "Archivio",
            "Archivio/2025",
            "Drafts",
            "Sent",
            "Trash"
        ]
    );
    let info = s.store.folder(&a, "Archivio").await.unwrap().unwrap();
    assert_eq!(
        (
            info.uidvalidity,
            info.uidnext,
            info.messages,
            info.unseen,
            info.subscribed
        ),
        (v, 1, 0, 0, true)
    );
    assert!(v > s.uidvalidity(&a, "Sent").await);
    let other = s.mailbox("other@pec.example", 0).await;
    assert_eq!(
        names(&s, &other).await,
        ["INBOX", "Drafts", "Sent", "Trash"]
    );
    let unknown = crate::util::addr("ghost@pec.example");
    assert!(s.store.folders(&unknown).await.unwrap().is_empty());
}

#[tokio::test]
async fn creating_an_existing_folder_fails_and_a_keyed_replay_does_not() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    for name in ["Sent", "inbox"] {
        let err = s.apply(create(&a, name)).await.unwrap_err();
        assert!(matches!(err, StoreError::FolderExists(_)), "{err}");
    }
    let first = s
        .store
        .commit(Batch::once("imap:create:1").with(create(&a, "Bozze")))
        .await
        .unwrap();
    let replay = s
        .store
        .commit(Batch::once("imap:create:1").with(create(&a, "Bozze")))
        .await
        .unwrap();
    assert!(!first.replayed && replay.replayed);
    let err = s.apply(create(&a, "")).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidFolder(_)), "{err}");
}

#[tokio::test]
async fn uidvalidity_survives_reopen() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    let v = created(s.apply(create(&a, "Archivio")).await.unwrap());
    let inbox = s.uidvalidity(&a, "INBOX").await;
    let s = s.reopen().await;
    assert_eq!(s.uidvalidity(&a, "Archivio").await, v);
    assert_eq!(s.uidvalidity(&a, "INBOX").await, inbox);
}

#[tokio::test]
async fn a_deleted_and_recreated_folder_gets_a_different_uidvalidity() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    let before = created(s.apply(create(&a, "Archivio")).await.unwrap());
    s.apply(put("k1", &a, "Archivio", b"old")).await.unwrap();
    s.apply(delete(&a, "Archivio")).await.unwrap();
    // Recreated by a delivery as well as by CREATE: each time a value never used before.
    s.apply(put("k2", &a, "Archivio", b"new")).await.unwrap();
    let delivered = s.uidvalidity(&a, "Archivio").await;
    assert!(delivered > before, "{before} then {delivered}");
    s.apply(delete(&a, "Archivio")).await.unwrap();
    let s = s.reopen().await;
    let again = created(s.apply(create(&a, "Archivio")).await.unwrap());
    assert!(again > delivered, "{delivered} then {again}");
    let info = s.store.folder(&a, "Archivio").await.unwrap().unwrap();
    assert_eq!((info.uidnext, info.messages), (1, 0));
}

#[tokio::test]
async fn deleting_a_folder_removes_its_messages_and_their_bytes_from_the_quota() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    s.apply(create(&a, "Archivio")).await.unwrap();
    s.apply(put("k1", &a, "Archivio", b"12345")).await.unwrap();
    s.apply(put("k2", &a, "Archivio", b"678")).await.unwrap();
    s.apply(put("k3", &a, "INBOX", b"kept")).await.unwrap();
    assert_eq!(s.used(&a).await, 12);
    assert_eq!(
        s.apply(delete(&a, "archivio"))
            .await
            .unwrap_err()
            .to_string(),
        "unknown folder \"archivio\""
    );
    assert_eq!(
        s.apply(delete(&a, "Archivio")).await.unwrap(),
        Outcome::FolderChanged
    );
    assert_eq!(s.used(&a).await, 4);
    assert!(s.store.folder(&a, "Archivio").await.unwrap().is_none());
    assert!(s.store.snapshot(&a, "Archivio").await.unwrap().is_none());
    assert_eq!(names(&s, &a).await, ["INBOX", "Drafts", "Sent", "Trash"]);
    assert_eq!(s.bytes(&a, "INBOX", 1).await, b"kept");
}

#[tokio::test]
async fn inbox_cannot_be_deleted_and_unknown_folders_are_told_apart() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    let err = s.apply(delete(&a, "Inbox")).await.unwrap_err();
    assert!(matches!(err, StoreError::InboxProtected(_)), "{err}");
    assert_eq!(err.fault(), pec_store::Fault::Caller);
    let err = s.apply(delete(&a, "Nessuna")).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::UnknownFolder(n) if n == "Nessuna"),
        "{err}"
    );
    let ghost = crate::util::addr("ghost@pec.example");
    let err = s.apply(delete(&ghost, "Archivio")).await.unwrap_err();
    assert!(matches!(err, StoreError::UnknownMailbox(_)), "{err}");
}

#[tokio::test]
async fn renaming_a_folder_moves_those_below_it_each_with_a_new_uidvalidity() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    for name in ["Lavoro", "Lavoro/2025", "Lavorone"] {
        s.apply(create(&a, name)).await.unwrap();
    }
    s.apply(put("k1", &a, "Lavoro/2025", b"message"))
        .await
        .unwrap();
    let old = s.uidvalidity(&a, "Lavoro/2025").await;
    let v = created(s.apply(rename(&a, "Lavoro", "Ufficio")).await.unwrap());
    assert_eq!(
        names(&s, &a).await,
        [
            "INBOX",
            "Drafts",
            "Lavorone",
            "Sent",
            "Trash",
            "Ufficio",
            "Ufficio/2025"
        ]
    );
    assert_eq!(s.uidvalidity(&a, "Ufficio").await, v);
    let moved = s.store.folder(&a, "Ufficio/2025").await.unwrap().unwrap();
    assert!(moved.uidvalidity > old);
    assert_eq!((moved.messages, moved.uidnext), (1, 2));
    assert_eq!(s.bytes(&a, "Ufficio/2025", 1).await, b"message");
    assert_eq!(s.used(&a).await, 7);
}

#[tokio::test]
async fn renaming_onto_a_taken_name_or_from_a_missing_one_fails() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    for name in ["A", "A/x", "B/x"] {
        s.apply(create(&a, name)).await.unwrap();
    }
    for (from, to, taken) in [
        ("A", "Sent", "Sent"),
        ("A", "B", "B/x"),
        ("Sent", "inbox", "INBOX"),
    ] {
        let err = s.apply(rename(&a, from, to)).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::FolderExists(n) if n == taken),
            "{from}->{to}: {err}"
        );
    }
    let err = s.apply(rename(&a, "Z", "Y")).await.unwrap_err();
    assert!(matches!(err, StoreError::UnknownFolder(_)), "{err}");
    assert_eq!(
        names(&s, &a).await,
        ["INBOX", "A", "A/x", "B/x", "Drafts", "Sent", "Trash"]
    );
}

#[tokio::test]
async fn renaming_inbox_moves_its_messages_and_leaves_it_empty() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    s.apply(create(&a, "INBOX/sub")).await.unwrap();
    for (k, body) in [("k1", "one"), ("k2", "two"), ("k3", "three")] {
        s.apply(put(k, &a, "INBOX", body.as_bytes())).await.unwrap();
    }
    s.apply(crate::util::expunge(&a, "INBOX", &[1]))
        .await
        .unwrap();
    let inbox = s.store.folder(&a, "INBOX").await.unwrap().unwrap();
    let v = created(s.apply(rename(&a, "INBOX", "Vecchia")).await.unwrap());
    assert!(v > inbox.uidvalidity);
    let old = s.store.snapshot(&a, "Vecchia").await.unwrap().unwrap();
    let uids: Vec<_> = old.messages.iter().map(|m| (m.uid, m.size)).collect();
    assert_eq!(uids, [(1, 3), (2, 5)]);
    assert_eq!(old.folder.uidnext, 3);
    assert_eq!(s.bytes(&a, "Vecchia", 2).await, b"three");
    let now = s.store.folder(&a, "INBOX").await.unwrap().unwrap();
    assert_eq!(
        (now.uidvalidity, now.uidnext, now.messages),
        (inbox.uidvalidity, inbox.uidnext, 0)
    );
    assert!(s.store.folder(&a, "INBOX/sub").await.unwrap().is_some());
    assert_eq!(s.used(&a).await, 8);
    // The next delivery to INBOX continues its UIDs: none is given twice.
    let r = s.apply(put("k4", &a, "INBOX", b"four")).await.unwrap();
    assert!(matches!(r, Outcome::MessageStored { uid: 4, .. }), "{r:?}");
}

#[tokio::test]
async fn subscriptions_are_listed_and_need_the_folder() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    let unsubscribe = |name: &str, subscribed| Operation::SetSubscribed {
        address: a.clone(),
        name: name.to_owned(),
        subscribed,
    };
    s.apply(unsubscribe("Sent", false)).await.unwrap();
    let listed: Vec<_> = s
        .store
        .folders(&a)
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.name, f.subscribed))
        .collect();
    assert_eq!(
        listed,
        [
            ("INBOX".to_owned(), true),
            ("Drafts".to_owned(), true),
            ("Sent".to_owned(), false),
            ("Trash".to_owned(), true)
        ]
    );
    s.apply(unsubscribe("Sent", true)).await.unwrap();
    assert!(
        s.store
            .folder(&a, "Sent")
            .await
            .unwrap()
            .unwrap()
            .subscribed
    );
    let err = s.apply(unsubscribe("Nessuna", true)).await.unwrap_err();
    assert!(matches!(err, StoreError::UnknownFolder(_)), "{err}");
}

#[tokio::test]
async fn refused_folder_operations_fail_only_their_own_batch_in_a_group() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    let mut tasks = Vec::new();
    for n in 0..40u32 {
        let store = s.store.clone();
        let a = a.clone();
        tasks.push(tokio::spawn(async move {
            let batch = match n % 4 {
                0 => Batch::new().with(put(&format!("m{n}"), &a, "INBOX", b"good")),
                1 => Batch::new()
                    .with(put(&format!("m{n}"), &a, "INBOX", b"lost"))
                    .with(delete(&a, "INBOX")),
                2 => Batch::new().with(create(&a, &format!("F{n}"))),
                _ => Batch::new()
                    .with(create(&a, &format!("G{n}")))
                    .with(create(&a, "Sent")),
            };
            (n, store.commit(batch).await)
        }));
    }
    for task in tasks {
        let (n, result) = task.await.unwrap();
        match (n % 4, result) {
            (0 | 2, Ok(_)) => {}
            (1, Err(StoreError::InboxProtected(_))) => {}
            (3, Err(StoreError::FolderExists(name))) => assert_eq!(name, "Sent"),
            (_, other) => panic!("batch {n}: {other:?}"),
        }
    }
    let inbox = s.store.snapshot(&a, "INBOX").await.unwrap().unwrap();
    assert_eq!(inbox.messages.len(), 10);
    assert_eq!(s.used(&a).await, 40);
    let folders = names(&s, &a).await;
    assert_eq!(folders.len(), 4 + 10);
    assert!(folders.iter().all(|f| !f.starts_with('G')), "{folders:?}");
}
