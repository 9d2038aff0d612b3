//! The SQLite schema, as embedded migrations. `schema_version` holds one row per applied
//! migration; each migration runs in its own transaction at open.

use sqlx::SqliteConnection;

use crate::error::StoreError;

/// Migration `i` brings the schema to version `i + 1`. Append only: never edit a shipped one.
const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6];

const V1: &str = r#"
-- Counters that must never go backwards (last UIDVALIDITY handed out).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

CREATE TABLE mailboxes (
    id            INTEGER PRIMARY KEY,
    address       TEXT NOT NULL UNIQUE,      -- lower-cased
    password_hash TEXT NOT NULL,             -- Argon2id PHC string
    quota_bytes   INTEGER NOT NULL,          -- 0 = no limit
    used_bytes    INTEGER NOT NULL DEFAULT 0,-- kept in step with messages.size
    enabled       INTEGER NOT NULL DEFAULT 1,
    created       INTEGER NOT NULL           -- unix ms
);

-- One row per IMAP mailbox (we call them folders: "mailbox" is the PEC account).
CREATE TABLE folders (
    id          INTEGER PRIMARY KEY,
    mailbox_id  INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uidnext     INTEGER NOT NULL,
    UNIQUE (mailbox_id, name)
);

CREATE TABLE messages (
    id            INTEGER PRIMARY KEY,
    folder_id     INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    uid           INTEGER NOT NULL,
    key           TEXT NOT NULL UNIQUE,      -- idempotency key: a replay stores nothing
    blob          TEXT NOT NULL,             -- hex SHA-256, file blobs/xx/<hex>
    size          INTEGER NOT NULL,
    internal_date INTEGER NOT NULL,          -- unix ms
    flags         TEXT NOT NULL DEFAULT '',  -- space-separated IMAP flags
    UNIQUE (folder_id, uid)
);
CREATE INDEX messages_blob ON messages(blob);

CREATE TABLE queue (
    id            INTEGER PRIMARY KEY,
    key           TEXT NOT NULL UNIQUE,      -- idempotency key
    kind          TEXT NOT NULL,
    payload       BLOB NOT NULL,
    due           INTEGER NOT NULL,          -- unix ms
    attempts      INTEGER NOT NULL DEFAULT 0,-- number of claims
    status        TEXT NOT NULL CHECK (status IN ('scheduled', 'done', 'failed')),
    claimed_until INTEGER,                   -- lease end; NULL = not claimed
    last_error    TEXT,
    created       INTEGER NOT NULL,
    updated       INTEGER NOT NULL
);
CREATE INDEX queue_due ON queue(status, due);

-- The legal log (PEC-SPEC §8): hash = SHA-256(previous hash || line).
CREATE TABLE log (
    seq  INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    line TEXT NOT NULL,
    hash BLOB NOT NULL
);
CREATE INDEX log_time ON log(time);
CREATE TABLE log_index (
    seq   INTEGER NOT NULL,
    kind  TEXT NOT NULL,                     -- 'msgid' | 'sender'
    value TEXT NOT NULL
);
CREATE INDEX log_index_value ON log_index(kind, value);
-- The chain head, written in the same transaction as the rows: catches truncation.
CREATE TABLE log_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB NOT NULL
);
INSERT INTO log_head (id, seq, hash) VALUES (1, 0, zeroblob(32));
-- Stops accidents; the chain catches intent (an attacker can drop these).
CREATE TRIGGER log_no_update BEFORE UPDATE ON log
    BEGIN SELECT RAISE(ABORT, 'the log is append-only'); END;
CREATE TRIGGER log_no_delete BEFORE DELETE ON log
    BEGIN SELECT RAISE(ABORT, 'the log is append-only'); END;

-- Keys of batches committed with Batch::once.
CREATE TABLE applied_batches (
    key  TEXT PRIMARY KEY,
    time INTEGER NOT NULL
);
"#;

/// Bodies up to [`crate::INLINE_BODY_MAX`] bytes, written in the same transaction as the
/// messages that reference them. Rows of older folders keep naming blob files: a body is looked
/// up here first, then under `blobs/`.
const V2: &str = r#"
CREATE TABLE bodies (
    hash  TEXT PRIMARY KEY,                  -- hex SHA-256, as messages.blob
    bytes BLOB NOT NULL
);
"#;

/// What IMAP needs besides V1: the subscription list, and an unseen count per folder that does
/// not read every message. `seen` is computed from `flags` (never written, so it cannot drift);
/// the partial index holds only unseen messages, so counting them visits those alone (SQLite
/// still reads their rows: an index on a virtual column is not covering).
/// `lower` because rows stored before V3 hold flags as the client spelled them.
const V3: &str = r#"
ALTER TABLE folders ADD COLUMN subscribed INTEGER NOT NULL DEFAULT 1;
ALTER TABLE messages ADD COLUMN seen INTEGER
    GENERATED ALWAYS AS (instr(' ' || lower(flags) || ' ', ' \seen ') > 0) VIRTUAL;
CREATE INDEX messages_unseen ON messages(folder_id) WHERE seen = 0;
"#;

/// No table changes: a store at this version keeps `log.head` beside it (issue 12), so one
/// that has no such file lost it; an older store gets its first one when it opens.
const V4: &str = "UPDATE meta SET value = value WHERE 0";

/// Queue items whose bytes are stored once, by hash, like message bodies (issue 13): the
/// same envelope queued for several recipients and delivered to their boxes is one row.
/// NULL: the bytes follow the payload's head, as items queued before V5 have them.
const V5: &str = r#"
ALTER TABLE queue ADD COLUMN body TEXT;          -- hex SHA-256, as messages.blob
ALTER TABLE queue ADD COLUMN body_size INTEGER;
"#;

/// The webmail's second factor (issue 14): a box's TOTP secret (base32; NULL: off) and the
/// last step a code was accepted for (a code is good once).
const V6: &str = r#"
ALTER TABLE mailboxes ADD COLUMN totp_secret TEXT;
ALTER TABLE mailboxes ADD COLUMN totp_step INTEGER;
"#;

/// The first version that keeps `log.head`.
pub(crate) const WITH_LOG_HEAD: i64 = 4;

/// Highest schema version this build knows.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database to [`SCHEMA_VERSION`], refusing a newer one; returns the version it
/// found.
pub(crate) async fn migrate(conn: &mut SqliteConnection) -> Result<i64, StoreError> {
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        .execute(&mut *conn)
        .await?;
    let found: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_version")
        .fetch_one(&mut *conn)
        .await?;
    let found = found.unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        let applied = async {
            sqlx::raw_sql(*sql).execute(&mut *conn).await?;
            sqlx::query("INSERT INTO schema_version (version) VALUES (?)")
                .bind(i as i64 + 1)
                .execute(&mut *conn)
                .await?;
            sqlx::raw_sql("COMMIT").execute(&mut *conn).await
        }
        .await;
        if let Err(e) = applied {
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
            return Err(e.into());
        }
    }
    Ok(found)
}
