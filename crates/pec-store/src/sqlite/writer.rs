//! The single writer and group commit.
//!
//! The writer runs on a thread of its own and holds its connection's raw handle, locked away
//! from sqlx's worker thread, for its whole life: a group's statements (BEGIN IMMEDIATE,
//! per-batch savepoints, the batches, COMMIT) are plain calls into SQLite through
//! [`super::raw`], with statements prepared once. Through sqlx every statement was a round trip
//! to sqlx's worker thread; now a group costs one wake-up of this thread and one per reply.
//!
//! Invariants:
//! - Only this task writes to the database, so the log chain head it keeps in memory is the
//!   head on disk after every commit, without locks.
//! - A caller gets its answer only after the COMMIT of the group holding its batch returned
//!   (with `synchronous=FULL`: after the WAL fsync).
//! - Each command runs inside its own savepoint: a failing batch rolls back alone, the rest of
//!   the group commits. If the group's COMMIT fails, every caller of the group gets an error and
//!   nothing of the group is stored.

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{Connection, Row, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use super::apply;
use super::head_file::Registro;
use super::raw::{Cache, Db, SqlError};
use crate::batch::{Batch, CommitReceipt};
use crate::chain::GENESI;
use crate::error::StoreError;
use crate::model::{BlobRef, LogHead, QueueItem};

/// At most this many commands share one transaction (bounds a group's latency).
const MAX_GROUP: usize = 512;

/// What the writer is asked to do.
pub(crate) enum Command {
    /// Apply a batch. Bodies above [`crate::INLINE_BODY_MAX`] are already durable blob files
    /// (`Body::Stored`); the others are still `Body::Bytes`, stored inline by the writer.
    Commit {
        batch: Batch,
        /// Per operation: the reference of a `Body::Bytes` body, hashed by the caller.
        refs: Vec<Option<BlobRef>>,
        reply: oneshot::Sender<Result<CommitReceipt, StoreError>>,
    },
    /// Claim due queue items.
    Claim {
        now: i64,
        limit: i64,
        lease_until: i64,
        reply: oneshot::Sender<Result<Vec<QueueItem>, StoreError>>,
    },
    /// Finish the current group, close the connection and stop.
    Shutdown { reply: oneshot::Sender<()> },
}

enum Done {
    Commit(CommitReceipt),
    Claim(Vec<QueueItem>),
}

/// A command without its reply channel.
enum Job {
    Commit(Batch, Vec<Option<BlobRef>>),
    Claim {
        now: i64,
        limit: i64,
        lease_until: i64,
    },
}

enum ReplyTo {
    Commit(oneshot::Sender<Result<CommitReceipt, StoreError>>),
    Claim(oneshot::Sender<Result<Vec<QueueItem>, StoreError>>),
}

impl ReplyTo {
    fn send(self, result: Result<Done, StoreError>) {
        // A caller that stopped waiting is not our concern: its batch is committed anyway.
        match (self, result) {
            (Self::Commit(tx), Ok(Done::Commit(r))) => drop(tx.send(Ok(r))),
            (Self::Claim(tx), Ok(Done::Claim(r))) => drop(tx.send(Ok(r))),
            (Self::Commit(tx), Err(e)) => drop(tx.send(Err(e))),
            (Self::Claim(tx), Err(e)) => drop(tx.send(Err(e))),
            // A job always yields its own kind of result; if not, the caller sees WriterGone.
            (Self::Commit(_), Ok(Done::Claim(_))) | (Self::Claim(_), Ok(Done::Commit(_))) => {}
        }
    }
}

/// The writer before it starts: its connection, the log chain head and the head file.
pub(crate) struct Writer {
    conn: SqliteConnection,
    head: LogHead,
    registro: Registro,
}

impl Writer {
    /// Takes over `conn` (already migrated and checked) and reads the chain head from it;
    /// `registro` keeps the head file in step with its commits.
    pub(crate) async fn new(
        mut conn: SqliteConnection,
        registro: Registro,
    ) -> Result<Self, StoreError> {
        let head = load_head(&mut conn).await?;
        Ok(Self {
            conn,
            head,
            registro,
        })
    }

    /// Starts the writer on a thread of its own, serving commands until every sender is gone
    /// or a shutdown arrives. Its SQLite calls block that thread (the COMMIT waits for the
    /// fsync), never a thread of the caller's runtime.
    pub(crate) fn spawn(self, rx: mpsc::Receiver<Command>) -> Result<(), StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::io("writer runtime", e))?;
        std::thread::Builder::new()
            .name("pec-store-writer".into())
            .spawn(move || runtime.block_on(self.run(rx)))
            .map_err(|e| StoreError::io("writer thread", e))?;
        Ok(())
    }

    async fn run(self, mut rx: mpsc::Receiver<Command>) {
        let Self {
            mut conn,
            head,
            mut registro,
        } = self;
        let mut shutdown = None;
        // The handle stays locked away from sqlx's worker thread for the writer's lifetime:
        // every statement below is a plain function call on this thread.
        if let Ok(mut handle) = conn.lock_handle().await {
            let mut state = State {
                db: Cache::new(Db::new(&mut handle)),
                head,
                committed: head,
                registro: &mut registro,
            };
            loop {
                let next = match state.registro.scadenza() {
                    None => rx.recv().await,
                    Some(wait) => match tokio::time::timeout(wait, rx.recv()).await {
                        Ok(next) => next,
                        Err(_idle) => {
                            // Idle with a head not yet recorded: record it now.
                            state.registro.committed(&state.committed, true);
                            continue;
                        }
                    },
                };
                let Some(first) = next else { break };
                let mut group = vec![first];
                while group.len() < MAX_GROUP {
                    match rx.try_recv() {
                        Ok(cmd) => group.push(cmd),
                        Err(_) => break,
                    }
                }
                shutdown = state.run_group(group);
                if shutdown.is_some() {
                    // Commands that raced the shutdown are dropped: their callers see
                    // WriterGone.
                    rx.close();
                    break;
                }
            }
            // The last head reaches the head file before anyone hears "stopped".
            state.registro.committed(&state.committed, true);
            // Finalizes the cached statements before the handle goes back to sqlx.
            drop(state);
        }
        drop(rx);
        let _ = conn.close().await;
        if let Some(reply) = shutdown {
            let _ = reply.send(());
        }
    }
}

/// The running writer: the raw connection, its statements and the log chain head.
struct State<'h> {
    db: Cache<'h>,
    /// Head including the batches applied in the open transaction.
    head: LogHead,
    /// Head as of the last successful COMMIT.
    committed: LogHead,
    /// The head file, told of every COMMIT.
    registro: &'h mut Registro,
}

impl State<'_> {
    /// Runs one group in one transaction, synchronously; returns the shutdown request, if
    /// the group held one.
    fn run_group(&mut self, group: Vec<Command>) -> Option<oneshot::Sender<()>> {
        let mut shutdown = None;
        let mut work = Vec::with_capacity(group.len());
        for cmd in group {
            match cmd {
                Command::Shutdown { reply } => shutdown = Some(reply),
                Command::Commit { batch, refs, reply } => {
                    work.push((Job::Commit(batch, refs), ReplyTo::Commit(reply)))
                }
                Command::Claim {
                    now,
                    limit,
                    lease_until,
                    reply,
                } => work.push((
                    Job::Claim {
                        now,
                        limit,
                        lease_until,
                    },
                    ReplyTo::Claim(reply),
                )),
            }
        }
        if work.is_empty() {
            return shutdown;
        }
        if let Err(e) = self.exec("BEGIN IMMEDIATE") {
            let msg = e.to_string();
            for (_, reply) in work {
                reply.send(Err(StoreError::CommitFailed(msg.clone())));
            }
            return shutdown;
        }
        let now = now_millis();
        let mut results = Vec::with_capacity(work.len());
        let mut broken: Option<String> = None;
        for (job, reply) in work {
            if let Some(msg) = &broken {
                results.push((reply, Err(StoreError::CommitFailed(msg.clone()))));
                continue;
            }
            let before = self.head;
            let result = match self.exec("SAVEPOINT batch") {
                Ok(()) => self.apply(&job, now),
                Err(e) => Err(e.into()),
            };
            let closed = match &result {
                Ok(_) => self.exec("RELEASE batch"),
                Err(_) => {
                    self.head = before;
                    self.exec("ROLLBACK TO batch")
                        .and_then(|()| self.exec("RELEASE batch"))
                }
            };
            if let Err(e) = closed {
                broken = Some(e.to_string());
            }
            results.push((reply, result));
        }
        let committed = match broken {
            Some(msg) => Err(msg),
            None => self.finish().map_err(|e| e.to_string()),
        };
        match committed {
            Ok(()) => {
                self.committed = self.head;
                // Callers hear first: the head file (a signature and an fsync, at most every
                // 100 ms) is not on their path.
                for (reply, result) in results {
                    reply.send(result);
                }
                self.registro.committed(&self.committed, false);
            }
            Err(msg) => {
                let _ = self.exec("ROLLBACK");
                self.head = self.committed;
                for (reply, _) in results {
                    reply.send(Err(StoreError::CommitFailed(msg.clone())));
                }
            }
        }
        shutdown
    }

    /// Records the chain head and commits the group.
    fn finish(&mut self) -> Result<(), SqlError> {
        if self.head != self.committed {
            self.db.execute(
                "UPDATE log_head SET seq = ?, hash = ? WHERE id = 1",
                &[(self.head.seq as i64).into(), self.head.hash[..].into()],
            )?;
        }
        self.exec("COMMIT")
    }

    fn apply(&mut self, job: &Job, now: i64) -> Result<Done, StoreError> {
        match job {
            Job::Commit(batch, refs) => {
                apply::batch(&mut self.db, &mut self.head, batch, refs, now).map(Done::Commit)
            }
            Job::Claim {
                now: at,
                limit,
                lease_until,
            } => apply::claim(&mut self.db, *at, *limit, *lease_until).map(Done::Claim),
        }
    }

    /// Runs a parameterless statement (transaction control).
    fn exec(&mut self, sql: &'static str) -> Result<(), SqlError> {
        self.db.execute(sql, &[]).map(drop)
    }
}

/// The chain head as the last row of the log says (the recorded head is only checked by
/// `log_verify`).
pub(super) async fn load_head(conn: &mut SqliteConnection) -> Result<LogHead, StoreError> {
    let row = sqlx::query("SELECT seq, hash FROM log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(conn)
        .await?;
    match row {
        None => Ok(LogHead {
            seq: 0,
            hash: GENESI,
        }),
        Some(row) => {
            let seq: i64 = row.try_get("seq")?;
            let hash: Vec<u8> = row.try_get("hash")?;
            Ok(LogHead {
                seq: seq as u64,
                hash: hash
                    .try_into()
                    .map_err(|_| StoreError::CorruptRow(format!("log hash at seq {seq}")))?,
            })
        }
    }
}

/// Wall-clock time for bookkeeping columns (created/updated), not for PEC events.
pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
