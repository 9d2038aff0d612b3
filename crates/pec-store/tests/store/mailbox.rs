//! Mailboxes: lifecycle, passwords, state and quota.

use std::time::{Duration, Instant};

use pec_store::{Address, Admission, Batch, MailboxState, Operation, Store, StoreError};

use crate::util::{addr, open, put};

#[tokio::test]
async fn lifecycle_add_list_quota_disable_enable_remove() {
    let s = open().await;
    let a = s.mailbox("Mario.Rossi@PEC.example", 1000).await;
    s.mailbox("anna@pec.example", 0).await;
    assert_eq!(a.as_str(), "mario.rossi@pec.example");

    let all = s.store.list_mailboxes().await.unwrap();
    let names: Vec<_> = all.iter().map(|m| m.address.as_str()).collect();
    assert_eq!(names, ["anna@pec.example", "mario.rossi@pec.example"]);

    s.store.set_quota(&a, 5000).await.unwrap();
    assert_eq!(
        s.store.mailbox(&a).await.unwrap().unwrap().quota_bytes,
        5000
    );

    s.store.set_enabled(&a, false).await.unwrap();
    assert_eq!(
        s.store.mailbox_state(&a, 1).await.unwrap(),
        MailboxState::Disabilitata
    );
    s.store.set_enabled(&a, true).await.unwrap();
    assert_eq!(
        s.store.mailbox_state(&a, 1).await.unwrap(),
        MailboxState::Attiva
    );

    s.store.remove_mailbox(&a).await.unwrap();
    assert_eq!(
        s.store.mailbox_state(&a, 1).await.unwrap(),
        MailboxState::Sconosciuta
    );
    assert!(matches!(
        s.store.remove_mailbox(&a).await,
        Err(StoreError::UnknownMailbox(_))
    ));
}

#[tokio::test]
async fn adding_an_existing_address_in_any_case_fails() {
    let s = open().await;
    s.mailbox("box@pec.example", 0).await;
    let err = s
        .store
        .add_mailbox(&addr("BOX@pec.example"), "x", 0)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::MailboxExists(_)), "{err}");
}

#[tokio::test]
async fn malformed_addresses_are_refused() {
    for bad in [
        "",
        "nobody",
        "@pec.example",
        "a@",
        "a@b@c",
        "a b@pec.example",
    ] {
        assert!(Address::parse(bad).is_err(), "{bad:?}");
    }
}

#[tokio::test]
async fn password_checks_case_insensitive_address_wrong_unknown_disabled_changed() {
    let s = open().await;
    let a = s.mailbox("user@pec.example", 0).await;
    let st = &s.store;
    assert!(st
        .verify_password("user@pec.example", "secret")
        .await
        .unwrap());
    assert!(st
        .verify_password("USER@Pec.Example", "secret")
        .await
        .unwrap());
    assert!(!st
        .verify_password("user@pec.example", "Secret")
        .await
        .unwrap());
    assert!(!st
        .verify_password("nobody@pec.example", "secret")
        .await
        .unwrap());
    assert!(!st
        .verify_password("not an address", "secret")
        .await
        .unwrap());

    st.set_enabled(&a, false).await.unwrap();
    assert!(!st
        .verify_password("user@pec.example", "secret")
        .await
        .unwrap());
    st.set_enabled(&a, true).await.unwrap();

    st.set_password(&a, "n3w").await.unwrap();
    assert!(!st
        .verify_password("user@pec.example", "secret")
        .await
        .unwrap());
    assert!(st.verify_password("user@pec.example", "n3w").await.unwrap());
}

#[tokio::test]
async fn unknown_mailbox_login_costs_about_as_much_as_a_wrong_password() {
    let s = open().await;
    s.mailbox("user@pec.example", 0).await;
    // Warm both paths (the dummy hash is built lazily).
    s.store.verify_password("x@pec.example", "a").await.unwrap();
    let time = |address: &'static str| {
        let st = s.store.clone();
        async move {
            let start = Instant::now();
            st.verify_password(address, "wrong").await.unwrap();
            start.elapsed()
        }
    };
    // Interleaved, so a burst of load from other tests falls on both sides alike.
    let (mut known, mut unknown) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..4 {
        known += time("user@pec.example").await;
        unknown += time("ghost@pec.example").await;
    }
    let ratio = unknown.as_secs_f64() / known.as_secs_f64();
    assert!(
        (0.33..3.0).contains(&ratio),
        "known {known:?} unknown {unknown:?}"
    );
}

#[tokio::test]
async fn full_mailbox_is_piena_and_refuses_enforced_deliveries_but_not_forced_ones() {
    let s = open().await;
    let a = s.mailbox("small@pec.example", 100).await;
    s.store
        .commit(Batch::new().with(put("m1", &a, "INBOX", &[b'x'; 60])))
        .await
        .unwrap();
    let info = s.store.mailbox(&a).await.unwrap().unwrap();
    assert_eq!(info.used_bytes, 60);
    assert_eq!(
        s.store.mailbox_state(&a, 40).await.unwrap(),
        MailboxState::Attiva
    );
    assert_eq!(
        s.store.mailbox_state(&a, 41).await.unwrap(),
        MailboxState::Piena
    );

    let err = s
        .store
        .commit(Batch::new().with(put("m2", &a, "INBOX", &[b'y'; 41])))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::MailboxFull {
                used: 60,
                quota: 100,
                incoming: 41,
                ..
            }
        ),
        "{err}"
    );

    let mut forced = put("m3", &a, "Sent", &[b'z'; 41]);
    if let Operation::PutMessage(m) = &mut forced {
        m.admission = Admission::Force;
    }
    s.store.commit(Batch::new().with(forced)).await.unwrap();
    assert_eq!(s.store.mailbox(&a).await.unwrap().unwrap().used_bytes, 101);
}

#[tokio::test]
async fn disabled_mailbox_refuses_enforced_deliveries() {
    let s = open().await;
    let a = s.mailbox("off@pec.example", 0).await;
    s.store.set_enabled(&a, false).await.unwrap();
    let err = s
        .store
        .commit(Batch::new().with(put("m1", &a, "INBOX", b"hello")))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::MailboxDisabled(_)), "{err}");
}

#[tokio::test]
async fn a_totp_secret_is_kept_and_each_step_is_accepted_once() {
    use pec_store::{Batch, Operation, Outcome};
    let s = open().await;
    let a = s.mailbox("a@pec.example", 0).await;
    assert_eq!(s.store.totp(&a).await.unwrap(), None);
    let set = |secret: Option<&str>| Operation::SetTotp {
        address: a.clone(),
        secret: secret.map(str::to_string),
    };
    s.store
        .commit(Batch::new().with(set(Some("JBSWY3DPEHPK3PXP"))))
        .await
        .unwrap();
    assert_eq!(
        s.store.totp(&a).await.unwrap(),
        Some(pec_store::Totp {
            secret: "JBSWY3DPEHPK3PXP".to_string(),
            last_step: None
        })
    );
    let mut accepted = Vec::new();
    for step in [10, 10, 9, 11] {
        let r = s
            .store
            .commit(Batch::new().with(Operation::UseTotpStep {
                address: a.clone(),
                step,
            }))
            .await
            .unwrap();
        accepted.push(r.outcomes[0] == Outcome::TotpStep { accepted: true });
    }
    assert_eq!(accepted, [true, false, false, true]);
    assert_eq!(s.store.totp(&a).await.unwrap().unwrap().last_step, Some(11));
    s.store.commit(Batch::new().with(set(None))).await.unwrap();
    assert_eq!(s.store.totp(&a).await.unwrap(), None);
    let stranger = pec_store::Address::parse("nobody@pec.example").unwrap();
    let e = s
        .store
        .commit(Batch::new().with(Operation::UseTotpStep {
            address: stranger,
            step: 1,
        }))
        .await
        .unwrap_err();
    assert!(matches!(e, pec_store::StoreError::UnknownMailbox(_)), "{e}");
}
