//! Commits per second of one delivery-shaped batch — a 10 KB message into a box, a queue item
//! and a log line — from 1 and from 20 concurrent committers. With group commit the second
//! shares fsyncs and should be several times faster per batch. The 10 KB body is stored inline
//! (below `INLINE_BODY_MAX`), in the group's transaction. A third case reuses a stored body, to
//! separate the cost of writing bodies from the rest of the writer's transaction.
//!
//! Run: `cargo bench -p pec-store --bench commit`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pec_store::{
    Address, Admission, Batch, BlobRef, Body, LogAppend, NewMessage, NewQueueItem, Operation,
    SqliteStore, Store,
};

/// A delivery batch; `n` makes body, keys and log line unique.
fn delivery(mailbox: &Address, n: u64, prestored: Option<BlobRef>) -> Batch {
    let body = match prestored {
        Some(r) => Body::Stored(r),
        None => {
            let mut body = format!("Message-ID: <{n}@bench>\r\n\r\n").into_bytes();
            body.resize(10 * 1024, b'x');
            Body::Bytes(body.into())
        }
    };
    let now = Utc::now();
    Batch::new()
        .with(Operation::PutMessage(NewMessage {
            key: format!("box:{mailbox}:{n}@bench:busta-trasporto"),
            mailbox: mailbox.clone(),
            folder: "INBOX".into(),
            body,
            internal_date: now,
            flags: Vec::new(),
            admission: Admission::Enforce,
        }))
        .with(Operation::Enqueue(NewQueueItem {
            key: format!("ricevuta-consegna:{n}@bench:{mailbox}"),
            kind: "ricevuta-consegna".into(),
            payload: format!("{{\"msgid\":\"{n}@bench\"}}").into_bytes(),
            body: None,
            due: now,
        }))
        .with(Operation::AppendLog(LogAppend {
            time: now,
            line: format!(r#"{{"evento":"consegna","msgid":"{n}@bench","at":"{now}"}}"#),
            msgids: vec![format!("{n}@bench")],
            sender: Some("mittente@bench.example".into()),
        }))
}

fn commit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A data folder must be its owner's alone (issue 12).
    let data = dir.path().join("data");
    let store = rt.block_on(SqliteStore::open(&data)).unwrap();
    let mailbox = Address::parse("destinatario@bench.example").unwrap();
    rt.block_on(store.add_mailbox(&mailbox, "secret", 0))
        .unwrap();
    let next = Arc::new(AtomicU64::new(0));

    let mut group = c.benchmark_group("commit");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(1));
    let prestored = rt.block_on(store.put_blob(vec![b'x'; 10 * 1024])).unwrap();
    let cases = [
        ("1 committer", 1u64, None),
        ("20 committers", 20, None),
        ("20 committers, body already stored", 20, Some(prestored)),
    ];
    for (name, committers, prestored) in cases {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let per_task = iters.div_ceil(committers);
                    let start = Instant::now();
                    let tasks: Vec<_> = (0..committers)
                        .map(|_| {
                            let (store, mailbox, next) =
                                (store.clone(), mailbox.clone(), next.clone());
                            tokio::spawn(async move {
                                for _ in 0..per_task {
                                    let n = next.fetch_add(1, Ordering::Relaxed);
                                    store
                                        .commit(delivery(&mailbox, n, prestored))
                                        .await
                                        .unwrap();
                                }
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.unwrap();
                    }
                    // Scale to exactly `iters` batches.
                    start
                        .elapsed()
                        .mul_f64(iters as f64 / (per_task * committers) as f64)
                })
            })
        });
    }
    group.finish();
    rt.block_on(store.close());
}

criterion_group!(benches, commit);
criterion_main!(benches);
