//! Messages in folders: UIDs, UIDVALIDITY, listing and fetching.

use pec_store::{Batch, Outcome, Store};

use crate::util::{open, put};

fn uid(outcome: &Outcome) -> (u32, u32) {
    match outcome {
        Outcome::MessageStored {
            uid, uidvalidity, ..
        } => (*uid, *uidvalidity),
        other => panic!("not a stored message: {other:?}"),
    }
}

#[tokio::test]
async fn uids_increase_per_folder_and_survive_reopen() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    let mut inbox = Vec::new();
    for i in 0..3 {
        let r = s
            .store
            .commit(Batch::new().with(put(&format!("in{i}"), &a, "INBOX", b"body")))
            .await
            .unwrap();
        inbox.push(uid(&r.outcomes[0]));
    }
    let sent = s
        .store
        .commit(Batch::new().with(put("out0", &a, "Sent", b"body")))
        .await
        .unwrap();
    let validity = inbox[0].1;
    assert_eq!(inbox, [(1, validity), (2, validity), (3, validity)]);
    assert_eq!(uid(&sent.outcomes[0]).0, 1);

    let s = s.reopen().await;
    let r = s
        .store
        .commit(Batch::new().with(put("in3", &a, "inbox", b"body")))
        .await
        .unwrap();
    assert_eq!(uid(&r.outcomes[0]), (4, validity));
    let folder = s.store.folder(&a, "INBOX").await.unwrap().unwrap();
    assert_eq!(
        (folder.uidvalidity, folder.uidnext, folder.messages),
        (validity, 5, 4)
    );
}

#[tokio::test]
async fn list_and_fetch_return_what_was_stored() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    s.store
        .commit(
            Batch::new()
                .with(put("k1", &a, "INBOX", b"first"))
                .with(put("k2", &a, "INBOX", b"second"))
                .with(put("k3", &a, "Archivio", b"third")),
        )
        .await
        .unwrap();
    let list = s.store.list_messages(&a, "INBOX").await.unwrap();
    let keys: Vec<_> = list
        .iter()
        .map(|m| (m.uid, m.key.as_str(), m.blob.size))
        .collect();
    assert_eq!(keys, [(1, "k1", 5), (2, "k2", 6)]);
    let pec_store::FetchedMessage { meta, bytes } = s
        .store
        .fetch_message(&a, "INBOX", 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((meta.key.as_str(), &bytes[..]), ("k2", &b"second"[..]));
    assert!(s
        .store
        .fetch_message(&a, "INBOX", 3)
        .await
        .unwrap()
        .is_none());
    let pec_store::FetchedMessage { bytes: third, .. } = s
        .store
        .fetch_message(&a, "Archivio", 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third, b"third");
}

#[tokio::test]
async fn a_recreated_mailbox_gets_a_new_uidvalidity() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    let before = s
        .store
        .folder(&a, "INBOX")
        .await
        .unwrap()
        .unwrap()
        .uidvalidity;
    s.store.remove_mailbox(&a).await.unwrap();
    s.mailbox("box@pec.example", 0).await;
    let after = s
        .store
        .folder(&a, "INBOX")
        .await
        .unwrap()
        .unwrap()
        .uidvalidity;
    assert!(after > before, "{before} then {after}");
}

#[tokio::test]
async fn an_append_without_key_is_stored_every_time_with_its_date() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    let append = || {
        pec_store::Operation::PutMessage(pec_store::NewMessage::append(
            a.clone(),
            "INBOX",
            b"uploaded".to_vec(),
            vec!["\\Draft".to_owned()],
            crate::util::t(3600),
        ))
    };
    let first = s.store.commit(Batch::new().with(append())).await.unwrap();
    let second = s.store.commit(Batch::new().with(append())).await.unwrap();
    let validity = s.uidvalidity(&a, "INBOX").await;
    assert_eq!(uid(&first.outcomes[0]), (1, validity));
    assert_eq!(uid(&second.outcomes[0]), (2, validity));
    let snap = s.store.snapshot(&a, "INBOX").await.unwrap().unwrap();
    assert_eq!((snap.folder.messages, snap.folder.uidnext), (2, 3));
    for (m, expected) in snap.messages.iter().zip(1..) {
        assert_eq!(m.uid, expected);
        assert_eq!((m.size, m.internal_date), (8, crate::util::t(3600)));
        assert_eq!(m.flags, ["\\Draft"]);
    }
    let listed = s.store.list_messages(&a, "INBOX").await.unwrap();
    assert_eq!(listed[1].key, format!("imap:{a}:{validity}:2"));
    assert_eq!(s.used(&a).await, 16);
}

#[tokio::test]
async fn a_snapshot_agrees_with_the_listing() {
    let s = open().await;
    let a = s.mailbox("box@pec.example", 0).await;
    for k in ["k1", "k2"] {
        s.store
            .commit(Batch::new().with(put(k, &a, "Sent", k.as_bytes())))
            .await
            .unwrap();
    }
    let snap = s.store.snapshot(&a, "sent").await.unwrap();
    assert!(
        snap.is_none(),
        "folder names other than INBOX are case-sensitive"
    );
    let snap = s.store.snapshot(&a, "Sent").await.unwrap().unwrap();
    let listed = s.store.list_messages(&a, "Sent").await.unwrap();
    let from_snap: Vec<_> = snap.messages.iter().map(|m| (m.uid, m.size)).collect();
    let from_list: Vec<_> = listed.iter().map(|m| (m.uid, m.blob.size)).collect();
    assert_eq!(from_snap, from_list);
    assert_eq!(
        snap.folder,
        s.store.folder(&a, "Sent").await.unwrap().unwrap()
    );
}

#[tokio::test]
async fn one_shared_body_is_stored_into_several_boxes_of_one_batch() {
    use pec_store::{Admission, Body, NewMessage, Operation};
    let s = open().await;
    let (a, b) = (
        s.mailbox("a@pec.example", 0).await,
        s.mailbox("b@pec.example", 0).await,
    );
    // Above and below the inline limit: both paths share one allocation.
    for (n, size) in [(0, 1000), (1, pec_store::INLINE_BODY_MAX + 1)] {
        let body: std::sync::Arc<[u8]> = vec![b'x' + n; size].into();
        let mut batch = Batch::new();
        for (who, m) in [("a", &a), ("b", &b)] {
            batch.push(Operation::PutMessage(NewMessage {
                key: format!("shared-{n}-{who}"),
                mailbox: m.clone(),
                folder: "INBOX".into(),
                body: Body::Bytes(body.clone()),
                internal_date: crate::util::t(0),
                flags: Vec::new(),
                admission: Admission::Enforce,
            }));
        }
        let r = s.store.commit(batch).await.unwrap();
        assert_eq!(r.outcomes.len(), 2);
        let uid = n as u32 + 1;
        assert_eq!(s.bytes(&a, "INBOX", uid).await, body.to_vec());
        assert_eq!(s.bytes(&b, "INBOX", uid).await, body.to_vec());
    }
}

#[tokio::test]
async fn messages_are_found_by_key_prefix_in_every_folder_of_one_box_only() {
    let s = open().await;
    let a = s.mailbox("a@pec.example", 0).await;
    let b = s.mailbox("b@pec.example", 0).await;
    let key = |addr: &str, id: &str, what: &str| format!("box:{addr}:{id}:{what}");
    s.store
        .commit(
            Batch::new()
                .with(put(&key("a@pec.example", "id1", "sent"), &a, "Sent", b"1"))
                .with(put(
                    &key("a@pec.example", "id1", "accettazione"),
                    &a,
                    "INBOX",
                    b"2",
                ))
                .with(put(
                    &key("a@pec.example", "id1", "consegna:x"),
                    &a,
                    "INBOX",
                    b"3",
                ))
                // Another msgid that starts the same, another box with the same msgid.
                .with(put(&key("a@pec.example", "id10", "sent"), &a, "Sent", b"4"))
                .with(put(
                    &key("b@pec.example", "id1", "busta"),
                    &b,
                    "INBOX",
                    b"5",
                )),
        )
        .await
        .unwrap();
    let found = s
        .store
        .messages_by_key(&a, "box:a@pec.example:id1:")
        .await
        .unwrap();
    let keys: Vec<_> = found
        .iter()
        .map(|m| (m.folder.as_str(), m.key.as_str()))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("INBOX", "box:a@pec.example:id1:accettazione"),
            ("INBOX", "box:a@pec.example:id1:consegna:x"),
            ("Sent", "box:a@pec.example:id1:sent"),
        ]
    );
    assert!(s
        .store
        .messages_by_key(&b, "box:a@pec.example:id1:")
        .await
        .unwrap()
        .is_empty());
}
