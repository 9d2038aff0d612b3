//! kill -9 while committing: every acknowledged batch is there after reopening.
//!
//! The parent test re-runs this test executable as a child with `PEC_STORE_CRASH_DIR` set; the
//! child commits from eight tasks in a loop and prints `ack <n>` after each commit returned.
//! The parent SIGKILLs it mid-flight, reopens the folder and checks every acknowledged `n`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pec_store::{Batch, SqliteStore, Store};

use crate::util::{addr, enqueue, log, put, t};

const CHILD_ENV: &str = "PEC_STORE_CRASH_DIR";
const MAILBOX: &str = "crash@pec.example";

/// The child's body; does nothing in a normal test run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn child_commits_until_killed() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = SqliteStore::open(dir.as_ref()).await.unwrap();
    let a = addr(MAILBOX);
    store.add_mailbox(&a, "secret", 0).await.unwrap();
    println!("ready");
    let mut tasks = Vec::new();
    for worker in 0..8u64 {
        let store = store.clone();
        let a = a.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let n = worker * 1_000_000 + i;
                let batch = Batch::new()
                    .with(put(
                        &format!("m{n}"),
                        &a,
                        "INBOX",
                        format!("body {n}").as_bytes(),
                    ))
                    .with(enqueue(&format!("q{n}"), t(0)))
                    .with(log("delivered", &format!("msg{n}"), "s@pec.example", t(0)));
                store.commit(batch).await.unwrap();
                let mut out = std::io::stdout().lock();
                writeln!(out, "ack {n}").unwrap();
                out.flush().unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test]
async fn every_commit_acknowledged_before_kill_9_survives() {
    let dir = crate::util::private_tempdir();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash::child_commits_until_killed",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    // Let it run until a few hundred commits are acknowledged (or 5 s), then kill -9.
    let mut acked = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while acked.len() < 400 && Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                if let Some(n) = line.strip_prefix("ack ") {
                    acked.insert(n.parse::<u64>().unwrap());
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    reader.join().unwrap();
    // Lines written before the kill but read after it still count as acknowledged.
    for line in rx.try_iter() {
        if let Some(n) = line.strip_prefix("ack ") {
            acked.insert(n.parse::<u64>().unwrap());
        }
    }
    assert!(
        acked.len() >= 50,
        "the child acknowledged only {} commits",
        acked.len()
    );

    let store = SqliteStore::open(dir.path()).await.unwrap();
    let a = addr(MAILBOX);
    let stored: BTreeSet<u64> = store
        .list_messages(&a, "INBOX")
        .await
        .unwrap()
        .iter()
        .map(|m| m.key[1..].parse().unwrap())
        .collect();
    eprintln!("acknowledged {}, stored {}", acked.len(), stored.len());
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    for n in acked.iter().take(20) {
        assert!(store.queue_item(&format!("q{n}")).await.unwrap().is_some());
    }
    let head = store.log_verify().await.unwrap();
    assert_eq!(head.seq, stored.len() as u64);
}
