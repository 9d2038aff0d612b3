//! The hash-chained log: search, verification, and tampering through raw SQL (PEC-SPEC §8).

use pec_store::{chain, Batch, ChainBreak, ChainBreakReason, LogQuery, Store, StoreError};

use crate::util::{log, open, t, TestStore};

/// A store holding ten events, msg1..msg10; odd ones from alice, even ones from bob.
async fn ten_events() -> TestStore {
    let s = open().await;
    for n in 1..=10 {
        let sender = if n % 2 == 1 {
            "Alice@pec.example"
        } else {
            "bob@pec.example"
        };
        s.store
            .commit(Batch::new().with(log("accettazione", &format!("msg{n}"), sender, t(n))))
            .await
            .unwrap();
    }
    s
}

/// Closes the store, runs `sql` on the file with the append-only triggers dropped, reopens.
async fn tamper(s: TestStore, sql: &'static str) -> TestStore {
    s.store.close().await;
    let mut raw = s.raw().await;
    sqlx::raw_sql("DROP TRIGGER log_no_update; DROP TRIGGER log_no_delete;")
        .execute(&mut raw)
        .await
        .unwrap();
    sqlx::raw_sql(sql).execute(&mut raw).await.unwrap();
    drop(raw);
    s.reopen().await
}

fn broken_at(err: StoreError) -> ChainBreak {
    match err {
        StoreError::LogTampered(b) => b,
        other => panic!("expected a chain break, got {other}"),
    }
}

#[tokio::test]
async fn an_intact_chain_verifies_and_matches_the_hash_definition() {
    let s = ten_events().await;
    let head = s.store.log_verify().await.unwrap();
    assert_eq!(head.seq, 10);
    let all = s.store.log_search(&LogQuery::default()).await.unwrap();
    let mut prev = chain::GENESI;
    for e in &all {
        prev = chain::hash_evento(&prev, e.line.as_bytes());
        assert_eq!(e.hash, prev);
    }
    assert_eq!(head.hash, prev);
}

#[tokio::test]
async fn search_by_msgid_sender_and_time() {
    let s = ten_events().await;
    let q = |msgid: Option<&str>, sender: Option<&str>, since: Option<i64>| LogQuery {
        msgid: msgid.map(Into::into),
        sender: sender.map(Into::into),
        since: since.map(t),
        limit: None,
    };
    let seqs = |v: Vec<pec_store::LogEntry>| v.iter().map(|e| e.seq).collect::<Vec<_>>();
    let st = &s.store;
    assert_eq!(
        seqs(st.log_search(&q(Some("msg3"), None, None)).await.unwrap()),
        [3]
    );
    assert_eq!(
        seqs(
            st.log_search(&q(None, Some("ALICE@pec.example"), Some(6)))
                .await
                .unwrap()
        ),
        [7, 9]
    );
    assert_eq!(
        seqs(
            st.log_search(&q(Some("msg3"), Some("bob@pec.example"), None))
                .await
                .unwrap()
        ),
        Vec::<u64>::new()
    );
    let limited = LogQuery {
        limit: Some(2),
        ..Default::default()
    };
    assert_eq!(seqs(st.log_search(&limited).await.unwrap()), [1, 2]);
}

#[tokio::test]
async fn the_log_refuses_updates_and_deletes_through_sql() {
    let s = ten_events().await;
    let mut raw = s.raw().await;
    let update = sqlx::raw_sql("UPDATE log SET line = 'x' WHERE seq = 1")
        .execute(&mut raw)
        .await;
    let delete = sqlx::raw_sql("DELETE FROM log WHERE seq = 1")
        .execute(&mut raw)
        .await;
    assert!(update.is_err() && delete.is_err());
}

#[tokio::test]
async fn an_edited_line_breaks_the_chain_at_its_seq() {
    let s = tamper(
        ten_events().await,
        "UPDATE log SET line = replace(line, 'msg4', 'msg5') WHERE seq = 4",
    )
    .await;
    let b = broken_at(s.store.log_verify().await.unwrap_err());
    assert_eq!(
        b,
        ChainBreak {
            seq: 4,
            reason: ChainBreakReason::HashMismatch
        }
    );
}

#[tokio::test]
async fn a_deleted_row_breaks_the_chain_at_its_seq() {
    let s = tamper(ten_events().await, "DELETE FROM log WHERE seq = 5").await;
    let b = broken_at(s.store.log_verify().await.unwrap_err());
    assert_eq!(
        b,
        ChainBreak {
            seq: 5,
            reason: ChainBreakReason::Missing
        }
    );
}

#[tokio::test]
async fn a_deleted_and_renumbered_row_breaks_the_chain_at_its_seq() {
    let s = tamper(
        ten_events().await,
        "DELETE FROM log WHERE seq = 5; UPDATE log SET seq = seq - 1 WHERE seq > 5;
         UPDATE log_head SET seq = 9, hash = (SELECT hash FROM log WHERE seq = 9);",
    )
    .await;
    let b = broken_at(s.store.log_verify().await.unwrap_err());
    assert_eq!(
        b,
        ChainBreak {
            seq: 5,
            reason: ChainBreakReason::HashMismatch
        }
    );
}

#[tokio::test]
async fn swapped_rows_break_the_chain_at_the_first_of_them() {
    let s = tamper(
        ten_events().await,
        "UPDATE log SET seq = -3 WHERE seq = 3; UPDATE log SET seq = 3 WHERE seq = 7;
         UPDATE log SET seq = 7 WHERE seq = -3;",
    )
    .await;
    let b = broken_at(s.store.log_verify().await.unwrap_err());
    assert_eq!(
        b,
        ChainBreak {
            seq: 3,
            reason: ChainBreakReason::HashMismatch
        }
    );
}

#[tokio::test]
async fn truncation_at_the_end_is_caught_by_the_recorded_head() {
    let s = tamper(ten_events().await, "DELETE FROM log WHERE seq >= 9").await;
    let b = broken_at(s.store.log_verify().await.unwrap_err());
    assert_eq!(
        b,
        ChainBreak {
            seq: 9,
            reason: ChainBreakReason::Truncated
        }
    );
}
