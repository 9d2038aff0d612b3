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

/// Like [`tamper`], but first moves the head file aside (`senza_testa`) or not, and returns
/// what opening the folder again gives.
async fn tamper_and_open(
    s: TestStore,
    sql: &'static str,
    senza_testa: bool,
) -> (
    tempfile::TempDir,
    Result<pec_store::SqliteStore, StoreError>,
) {
    s.store.close().await;
    let mut raw = s.raw().await;
    sqlx::raw_sql("DROP TRIGGER log_no_update; DROP TRIGGER log_no_delete;")
        .execute(&mut raw)
        .await
        .unwrap();
    sqlx::raw_sql(sql).execute(&mut raw).await.unwrap();
    drop(raw);
    let TestStore { dir, store } = s;
    drop(store);
    if senza_testa {
        std::fs::remove_file(dir.path().join("log.head")).unwrap();
    }
    let opened = pec_store::SqliteStore::open(dir.path()).await;
    (dir, opened)
}

fn lost(r: Result<pec_store::SqliteStore, StoreError>) -> (u64, u64) {
    match r {
        Err(StoreError::LogLost { recorded, found }) => (recorded, found),
        Err(other) => panic!("expected LogLost, got {other}"),
        Ok(_) => panic!("expected LogLost, the store opened"),
    }
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

const CANCELLA_E_RINUMERA: &str = "DELETE FROM log WHERE seq = 5;
    UPDATE log SET seq = seq - 1 WHERE seq > 5;
    UPDATE log_head SET seq = 9, hash = (SELECT hash FROM log WHERE seq = 9);";

#[tokio::test]
async fn a_deleted_and_renumbered_row_stops_the_store_from_opening() {
    let (_dir, r) = tamper_and_open(ten_events().await, CANCELLA_E_RINUMERA, false).await;
    assert_eq!(lost(r), (10, 9));
}

#[tokio::test]
async fn a_deleted_and_renumbered_row_breaks_the_chain_at_its_seq() {
    // Without the head file the store is refused too, and the chain itself still shows the
    // edit: recording its head again (adopt) refuses to.
    let (dir, r) = tamper_and_open(ten_events().await, CANCELLA_E_RINUMERA, true).await;
    assert!(
        matches!(r, Err(StoreError::LogHeadMissing(_))),
        "{:?}",
        r.err()
    );
    let b = broken_at(pec_store::adopt_head(dir.path(), None).await.unwrap_err());
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
async fn truncation_at_the_end_stops_the_store_from_opening() {
    // The head file catches it, and without it the database's own recorded head.
    for senza_testa in [false, true] {
        let (_dir, r) = tamper_and_open(
            ten_events().await,
            "DELETE FROM log WHERE seq >= 9",
            senza_testa,
        )
        .await;
        assert_eq!(lost(r), (10, 8), "head file moved aside: {senza_testa}");
    }
}

#[tokio::test]
async fn an_emptied_log_stops_the_store_from_opening() {
    let (_dir, r) = tamper_and_open(
        ten_events().await,
        "DELETE FROM log; DELETE FROM log_index; UPDATE log_head SET seq = 0, hash = zeroblob(32);",
        false,
    )
    .await;
    assert_eq!(lost(r), (10, 0));
}

#[tokio::test]
async fn a_deleted_database_stops_the_store_from_opening() {
    let s = ten_events().await;
    s.store.close().await;
    let TestStore { dir, store } = s;
    drop(store);
    for f in ["gestore.sqlite", "gestore.sqlite-wal", "gestore.sqlite-shm"] {
        let _ = std::fs::remove_file(dir.path().join(f));
    }
    assert_eq!(
        lost(pec_store::SqliteStore::open(dir.path()).await),
        (10, 0)
    );
}

#[tokio::test]
async fn a_database_replaced_by_an_older_copy_stops_the_store_from_opening() {
    let s = ten_events().await;
    s.store.close().await;
    let copia = s.dir.path().join("copia.sqlite");
    std::fs::copy(s.dir.path().join("gestore.sqlite"), &copia).unwrap();
    let s = s.reopen().await;
    s.store
        .commit(Batch::new().with(log("accettazione", "msg11", "a@pec.example", t(11))))
        .await
        .unwrap();
    s.store.close().await;
    let TestStore { dir, store } = s;
    drop(store);
    let _ = std::fs::remove_file(dir.path().join("gestore.sqlite-wal"));
    std::fs::rename(&copia, dir.path().join("gestore.sqlite")).unwrap();
    assert_eq!(
        lost(pec_store::SqliteStore::open(dir.path()).await),
        (11, 10)
    );
}

#[tokio::test]
async fn a_damaged_head_file_stops_the_store_from_opening() {
    let s = ten_events().await;
    s.store.close().await;
    let TestStore { dir, store } = s;
    drop(store);
    let f = dir.path().join("log.head");
    let t = std::fs::read_to_string(&f)
        .unwrap()
        .replace("seq 10", "seq 11");
    std::fs::write(&f, t).unwrap();
    let err = pec_store::SqliteStore::open(dir.path()).await.unwrap_err();
    assert!(matches!(err, StoreError::HeadFileDamaged { .. }), "{err}");
}

#[tokio::test]
async fn the_head_file_follows_the_commits_and_a_missing_one_needs_adopting() {
    let s = ten_events().await;
    let s = s.reopen().await;
    let testo = std::fs::read_to_string(s.dir.path().join("log.head")).unwrap();
    assert!(testo.contains("seq 10\n"), "{testo}");
    s.store.close().await;
    let TestStore { dir, store } = s;
    drop(store);
    std::fs::remove_file(dir.path().join("log.head")).unwrap();
    let err = pec_store::SqliteStore::open(dir.path()).await.unwrap_err();
    assert!(matches!(err, StoreError::LogHeadMissing(_)), "{err}");
    assert_eq!(
        pec_store::adopt_head(dir.path(), None).await.unwrap().seq,
        10
    );
    pec_store::SqliteStore::open(dir.path()).await.unwrap();
}

#[tokio::test]
async fn a_new_store_has_its_head_file_from_the_first_open() {
    let s = crate::util::open().await;
    let testo = std::fs::read_to_string(s.dir.path().join("log.head")).unwrap();
    assert!(testo.contains("seq 0\n"), "{testo}");
}
