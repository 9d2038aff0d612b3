//! The writer's direct line to SQLite: a minimal safe wrapper over `libsqlite3-sys`, used on the
//! handle sqlx lends out ([`sqlx::sqlite::LockedSqliteHandle`]), so a whole group commit runs
//! on one thread without a round trip to sqlx's worker thread per statement.
//!
//! All `unsafe` of the crate lives here. The API keeps SQLite's rules by construction:
//! - a [`Db`] borrows the locked handle, so no one else (sqlx's worker included) uses the
//!   connection while it or any [`Statement`] made from it lives;
//! - a [`Statement`] is finalized on drop, and reset (bindings cleared) after every call, so
//!   no call sees the cursor or parameters of a previous one;
//! - column values are read only through a [`Row`], which exists only while `sqlite3_step`
//!   has just returned `SQLITE_ROW`, and checks the column index;
//! - parameters are bound with `SQLITE_TRANSIENT` (SQLite copies them), so no borrowed buffer
//!   has to outlive the call that bound it.
//!
//! Both types hold raw pointers and are therefore neither `Send` nor `Sync`: the connection is
//! used from the thread that locked it only.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ffi::{c_char, c_int, CStr};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use libsqlite3_sys as ffi;
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::sqlite::LockedSqliteHandle;

/// An error reported by SQLite: its extended result code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SqlError {
    /// Extended result code (`SQLITE_CONSTRAINT_UNIQUE`, …).
    pub code: c_int,
    /// `sqlite3_errmsg` at the time of the error, or a description of our own.
    pub message: String,
}

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl std::error::Error for SqlError {}

impl DatabaseError for SqlError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        match self.code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                ErrorKind::UniqueViolation
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

impl From<SqlError> for crate::error::StoreError {
    fn from(e: SqlError) -> Self {
        Self::Database(sqlx::Error::Database(Box::new(e)))
    }
}

type Result<T> = std::result::Result<T, SqlError>;

/// A value bound to a statement parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Self::Int(i64::from(v))
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Self::Text(v)
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Self::Text(v)
    }
}

impl<'a> From<&'a [u8]> for Value<'a> {
    fn from(v: &'a [u8]) -> Self {
        Self::Blob(v)
    }
}

impl<'a, T: Into<Value<'a>>> From<Option<T>> for Value<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

/// The connection, borrowed from a locked sqlx handle for `'h`.
pub(crate) struct Db<'h> {
    raw: NonNull<ffi::sqlite3>,
    _handle: PhantomData<&'h mut ()>,
}

impl<'h> Db<'h> {
    /// Uses the connection of `handle` for as long as the borrow lasts.
    pub(crate) fn new(handle: &'h mut LockedSqliteHandle<'_>) -> Self {
        Self {
            raw: handle.as_raw_handle(),
            _handle: PhantomData,
        }
    }

    /// Compiles `sql` (one statement) for repeated use.
    pub(crate) fn prepare(&self, sql: &str) -> Result<Statement<'h>> {
        let len = c_int::try_from(sql.len()).map_err(|_| own_error("SQL text too long"))?;
        let mut stmt = ptr::null_mut();
        let mut tail = ptr::null();
        // SAFETY: `self.raw` is an open connection that only we use while `'h` lasts (we
        // borrow the locked handle). `sql` is valid for `len` bytes; SQLite does not need a NUL
        // terminator when given the length, and writes only the two out-pointers.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                self.raw.as_ptr(),
                sql.as_ptr().cast::<c_char>(),
                len,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut stmt,
                &mut tail,
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(self.error(rc));
        }
        let Some(raw) = NonNull::new(stmt) else {
            return Err(own_error("no SQL statement in the text"));
        };
        let statement = Statement {
            raw,
            db: self.raw,
            has_row: false,
            _handle: PhantomData,
        };
        // `tail` points into `sql`: anything but blanks after the first statement would be
        // silently ignored, so refuse it.
        let used = (tail as usize).saturating_sub(sql.as_ptr() as usize);
        if !sql.get(used..).unwrap_or("").trim().is_empty() {
            return Err(own_error("more than one SQL statement in the text"));
        }
        Ok(statement)
    }

    /// The error SQLite reports for result code `rc`.
    fn error(&self, rc: c_int) -> SqlError {
        error_of(self.raw, rc)
    }
}

fn own_error(message: &str) -> SqlError {
    SqlError {
        code: ffi::SQLITE_MISUSE,
        message: message.to_owned(),
    }
}

fn error_of(db: NonNull<ffi::sqlite3>, rc: c_int) -> SqlError {
    // SAFETY: `db` is an open connection used only by this thread (see `Db`). The message
    // pointer is valid until the next call on the connection; we copy it at once.
    let (code, message) = unsafe {
        let code = ffi::sqlite3_extended_errcode(db.as_ptr());
        let msg = ffi::sqlite3_errmsg(db.as_ptr());
        let message = if msg.is_null() {
            String::new()
        } else {
            CStr::from_ptr(msg).to_string_lossy().into_owned()
        };
        (code, message)
    };
    // The connection's last error may be another one if `rc` did not come from it.
    let code = if code & 0xff == rc & 0xff { code } else { rc };
    SqlError { code, message }
}

/// A compiled statement. Every call binds its parameters, runs, and leaves the statement
/// reset, ready for the next call.
pub(crate) struct Statement<'h> {
    raw: NonNull<ffi::sqlite3_stmt>,
    db: NonNull<ffi::sqlite3>,
    /// `sqlite3_step` returned `SQLITE_ROW` and the statement was not reset since.
    has_row: bool,
    _handle: PhantomData<&'h mut ()>,
}

impl Drop for Statement<'_> {
    fn drop(&mut self) {
        // SAFETY: `raw` came from `sqlite3_prepare_v3` on a connection that is still open (it
        // outlives `'h`) and is finalized exactly once, here.
        unsafe {
            ffi::sqlite3_finalize(self.raw.as_ptr());
        }
    }
}

impl Statement<'_> {
    /// Runs the statement to completion with `params`; returns the rows it changed.
    pub(crate) fn execute(&mut self, params: &[Value<'_>]) -> Result<u64> {
        self.run(params, |_| Ok(()))?;
        // SAFETY: open connection, used only by this thread (see `Db`).
        let changes = unsafe { ffi::sqlite3_changes64(self.db.as_ptr()) };
        Ok(u64::try_from(changes).unwrap_or(0))
    }

    /// Runs the statement with `params` and maps its first row, if any; the statement still
    /// runs to completion (an `UPDATE … RETURNING` changes every row it matches).
    pub(crate) fn query_row<T>(
        &mut self,
        params: &[Value<'_>],
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut first = None;
        self.run(params, |row| {
            if first.is_none() {
                first = Some(f(row)?);
            }
            Ok(())
        })?;
        Ok(first)
    }

    /// Runs the statement with `params` and maps every row.
    pub(crate) fn query_all<T>(
        &mut self,
        params: &[Value<'_>],
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut all = Vec::new();
        self.run(params, |row| {
            all.push(f(row)?);
            Ok(())
        })?;
        Ok(all)
    }

    /// Binds, steps to the end calling `each` per row, and resets whatever happens.
    fn run(
        &mut self,
        params: &[Value<'_>],
        mut each: impl FnMut(&Row<'_>) -> Result<()>,
    ) -> Result<()> {
        let result = self.bind_all(params).and_then(|()| loop {
            if !self.step()? {
                break Ok(());
            }
            each(&Row { stmt: self })?;
        });
        self.reset();
        result
    }

    fn bind_all(&mut self, params: &[Value<'_>]) -> Result<()> {
        // SAFETY: `raw` is a live statement of a connection used only by this thread.
        let expected = unsafe { ffi::sqlite3_bind_parameter_count(self.raw.as_ptr()) };
        if usize::try_from(expected).ok() != Some(params.len()) {
            return Err(own_error(&format!(
                "statement takes {expected} parameters, {} given",
                params.len()
            )));
        }
        for (i, value) in params.iter().enumerate() {
            // Fits: `params.len()` equals a c_int count.
            let index = i as c_int + 1;
            let stmt = self.raw.as_ptr();
            // SAFETY: live statement, `index` within 1..=parameter count. Text and blob
            // pointers are valid for the given length during the call, and SQLITE_TRANSIENT
            // makes SQLite copy them before returning. Lengths are passed as 64-bit, so no
            // truncation; SQLite refuses values above its limit with SQLITE_TOOBIG.
            let rc = unsafe {
                match *value {
                    Value::Null => ffi::sqlite3_bind_null(stmt, index),
                    Value::Int(v) => ffi::sqlite3_bind_int64(stmt, index, v),
                    Value::Text(s) => ffi::sqlite3_bind_text64(
                        stmt,
                        index,
                        s.as_ptr().cast::<c_char>(),
                        s.len() as u64,
                        ffi::SQLITE_TRANSIENT(),
                        ffi::SQLITE_UTF8 as u8,
                    ),
                    Value::Blob(b) => ffi::sqlite3_bind_blob64(
                        stmt,
                        index,
                        b.as_ptr().cast(),
                        b.len() as u64,
                        ffi::SQLITE_TRANSIENT(),
                    ),
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(error_of(self.db, rc));
            }
        }
        Ok(())
    }

    /// One step: `true` if a row is ready.
    fn step(&mut self) -> Result<bool> {
        // SAFETY: live statement of a connection used only by this thread.
        let rc = unsafe { ffi::sqlite3_step(self.raw.as_ptr()) };
        self.has_row = rc == ffi::SQLITE_ROW;
        match rc {
            ffi::SQLITE_ROW => Ok(true),
            ffi::SQLITE_DONE => Ok(false),
            _ => Err(error_of(self.db, rc)),
        }
    }

    fn reset(&mut self) {
        self.has_row = false;
        // SAFETY: live statement of a connection used only by this thread. `sqlite3_reset`
        // returns the error of the last step, which `step` already reported.
        unsafe {
            ffi::sqlite3_reset(self.raw.as_ptr());
            ffi::sqlite3_clear_bindings(self.raw.as_ptr());
        }
    }
}

/// The current row of a statement, valid only inside the callback it is given to.
pub(crate) struct Row<'s> {
    stmt: &'s Statement<'s>,
}

impl Row<'_> {
    /// `column` as a checked index into the row.
    fn index(&self, column: usize) -> Result<c_int> {
        debug_assert!(self.stmt.has_row);
        // SAFETY: live statement of a connection used only by this thread.
        let count = unsafe { ffi::sqlite3_column_count(self.stmt.raw.as_ptr()) };
        match c_int::try_from(column) {
            Ok(i) if i < count && self.stmt.has_row => Ok(i),
            _ => Err(own_error(&format!("no column {column} in the row"))),
        }
    }

    fn kind(&self, column: usize) -> Result<(c_int, c_int)> {
        let i = self.index(column)?;
        // SAFETY: the statement points at a row (`has_row`) and `i` is in range.
        Ok((i, unsafe {
            ffi::sqlite3_column_type(self.stmt.raw.as_ptr(), i)
        }))
    }

    /// An INTEGER column (NULL and other types are an error, not converted).
    pub(crate) fn int(&self, column: usize) -> Result<i64> {
        match self.kind(column)? {
            // SAFETY: row present, index in range.
            (i, ffi::SQLITE_INTEGER) => {
                Ok(unsafe { ffi::sqlite3_column_int64(self.stmt.raw.as_ptr(), i) })
            }
            (_, t) => Err(wrong_type(column, "INTEGER", t)),
        }
    }

    /// An INTEGER column, or `None` for NULL.
    pub(crate) fn int_opt(&self, column: usize) -> Result<Option<i64>> {
        match self.kind(column)? {
            (_, ffi::SQLITE_NULL) => Ok(None),
            _ => self.int(column).map(Some),
        }
    }

    /// A TEXT column, or `None` for NULL.
    pub(crate) fn text_opt(&self, column: usize) -> Result<Option<String>> {
        match self.kind(column)? {
            (_, ffi::SQLITE_NULL) => Ok(None),
            (i, ffi::SQLITE_TEXT) => {
                let bytes = self.bytes(i, true);
                String::from_utf8(bytes)
                    .map(Some)
                    .map_err(|_| own_error(&format!("column {column} is not UTF-8")))
            }
            (_, t) => Err(wrong_type(column, "TEXT", t)),
        }
    }

    /// A TEXT column that must not be NULL.
    pub(crate) fn text(&self, column: usize) -> Result<String> {
        self.text_opt(column)?
            .ok_or_else(|| wrong_type(column, "TEXT", ffi::SQLITE_NULL))
    }

    /// A BLOB column (a zero-length blob may read back as NULL, so NULL is an empty blob).
    pub(crate) fn blob(&self, column: usize) -> Result<Vec<u8>> {
        match self.kind(column)? {
            (_, ffi::SQLITE_NULL) => Ok(Vec::new()),
            (i, ffi::SQLITE_BLOB) => Ok(self.bytes(i, false)),
            (_, t) => Err(wrong_type(column, "BLOB", t)),
        }
    }

    /// Copies column `i` (in range, of type TEXT or BLOB as `text` says).
    fn bytes(&self, i: c_int, text: bool) -> Vec<u8> {
        let stmt = self.stmt.raw.as_ptr();
        // SAFETY: row present, index in range. Per the SQLite docs the pointer is fetched
        // first and the length after, and both stay valid until the next step/reset/column
        // conversion on this statement, none of which happens before we copy. A NULL pointer
        // (empty value or out of memory) is read as empty.
        unsafe {
            let data: *const u8 = if text {
                ffi::sqlite3_column_text(stmt, i)
            } else {
                ffi::sqlite3_column_blob(stmt, i).cast()
            };
            let len = usize::try_from(ffi::sqlite3_column_bytes(stmt, i)).unwrap_or(0);
            if data.is_null() || len == 0 {
                Vec::new()
            } else {
                std::slice::from_raw_parts(data, len).to_vec()
            }
        }
    }
}

fn wrong_type(column: usize, wanted: &str, found: c_int) -> SqlError {
    let found = match found {
        ffi::SQLITE_INTEGER => "INTEGER",
        ffi::SQLITE_FLOAT => "REAL",
        ffi::SQLITE_TEXT => "TEXT",
        ffi::SQLITE_BLOB => "BLOB",
        _ => "NULL",
    };
    SqlError {
        code: ffi::SQLITE_MISMATCH,
        message: format!("column {column} is {found}, not {wanted}"),
    }
}

/// Statements compiled once per SQL text and kept for the connection's lifetime.
pub(crate) struct Cache<'h> {
    db: Db<'h>,
    statements: HashMap<&'static str, Statement<'h>>,
}

impl<'h> Cache<'h> {
    pub(crate) fn new(db: Db<'h>) -> Self {
        Self {
            db,
            statements: HashMap::new(),
        }
    }

    /// The statement for `sql`, compiled on first use.
    pub(crate) fn get(&mut self, sql: &'static str) -> Result<&mut Statement<'h>> {
        use std::collections::hash_map::Entry;
        match self.statements.entry(sql) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(e) => Ok(e.insert(self.db.prepare(sql)?)),
        }
    }

    /// Runs `sql` (see [`Statement::execute`]).
    pub(crate) fn execute(&mut self, sql: &'static str, params: &[Value<'_>]) -> Result<u64> {
        self.get(sql)?.execute(params)
    }

    /// Runs `sql` (see [`Statement::query_row`]).
    pub(crate) fn query_row<T>(
        &mut self,
        sql: &'static str,
        params: &[Value<'_>],
        f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        self.get(sql)?.query_row(params, f)
    }

    /// Runs `sql` (see [`Statement::query_all`]).
    pub(crate) fn query_all<T>(
        &mut self,
        sql: &'static str,
        params: &[Value<'_>],
        f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.get(sql)?.query_all(params, f)
    }
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, SqliteConnection};

    use super::*;

    async fn connect() -> SqliteConnection {
        SqliteConnection::connect("sqlite::memory:").await.unwrap()
    }

    #[tokio::test]
    async fn binds_and_reads_back_each_type() {
        let mut conn = connect().await;
        let mut handle = conn.lock_handle().await.unwrap();
        let db = Db::new(&mut handle);
        db.prepare("CREATE TABLE t (i INTEGER, s TEXT, b BLOB, n TEXT)")
            .unwrap()
            .execute(&[])
            .unwrap();
        let mut insert = db.prepare("INSERT INTO t VALUES (?, ?, ?, ?)").unwrap();
        let text = String::from("città ☃");
        let changed = insert
            .execute(&[
                i64::MIN.into(),
                (&text).into(),
                b"\0\x01\xff"[..].into(),
                Option::<&str>::None.into(),
            ])
            .unwrap();
        assert_eq!(changed, 1);
        insert
            .execute(&[true.into(), "".into(), b""[..].into(), Some("x").into()])
            .unwrap();
        let mut select = db
            .prepare("SELECT i, s, b, n FROM t ORDER BY rowid")
            .unwrap();
        let rows = select
            .query_all(&[], |r| {
                Ok((r.int(0)?, r.text(1)?, r.blob(2)?, r.text_opt(3)?))
            })
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (i64::MIN, text.clone(), vec![0, 1, 255], None),
                (1, String::new(), Vec::new(), Some("x".to_owned())),
            ]
        );
    }

    #[tokio::test]
    async fn statements_are_reused_with_fresh_bindings() {
        let mut conn = connect().await;
        let mut handle = conn.lock_handle().await.unwrap();
        let mut cache = Cache::new(Db::new(&mut handle));
        cache
            .execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)", &[])
            .unwrap();
        for (k, v) in [("a", 1), ("b", 2), ("c", 3)] {
            cache
                .execute("INSERT INTO t VALUES (?, ?)", &[k.into(), v.into()])
                .unwrap();
        }
        assert_eq!(cache.statements.len(), 2);
        let get = "SELECT v FROM t WHERE k = ?";
        // A query abandoned after its first row leaves the statement reset for the next one.
        let all = cache.query_row("SELECT v FROM t ORDER BY k", &[], |r| r.int(0));
        assert_eq!(all.unwrap(), Some(1));
        assert_eq!(
            cache.query_row(get, &["b".into()], |r| r.int(0)).unwrap(),
            Some(2)
        );
        assert_eq!(
            cache.query_row(get, &["z".into()], |r| r.int(0)).unwrap(),
            None
        );
        assert_eq!(
            cache.query_row(get, &["c".into()], |r| r.int(0)).unwrap(),
            Some(3)
        );
        assert_eq!(cache.statements.len(), 4);
        let updated = cache
            .execute("UPDATE t SET v = v + 10 WHERE v >= ?", &[2.into()])
            .unwrap();
        assert_eq!(updated, 2);
        // RETURNING runs to completion even when only the first row is read.
        let first = cache.query_row("UPDATE t SET v = 0 RETURNING k", &[], |r| r.text(0));
        assert!(first.unwrap().is_some());
        let sum = cache.query_row("SELECT sum(v) FROM t", &[], |r| r.int(0));
        assert_eq!(sum.unwrap(), Some(0));
    }

    #[tokio::test]
    async fn errors_are_reported_and_leave_the_statement_usable() {
        let mut conn = connect().await;
        let mut handle = conn.lock_handle().await.unwrap();
        let db = Db::new(&mut handle);
        // Bad SQL, empty SQL, two statements.
        assert_eq!(db.prepare("SELEC 1").err().unwrap().code, ffi::SQLITE_ERROR);
        assert!(db.prepare("  ").is_err());
        assert!(db.prepare("SELECT 1; SELECT 2").is_err());
        assert!(db.prepare("SELECT 1;  ").is_ok());
        db.prepare("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)")
            .unwrap()
            .execute(&[])
            .unwrap();
        let mut insert = db.prepare("INSERT INTO t VALUES (?, ?)").unwrap();
        // Wrong number of parameters.
        assert_eq!(
            insert.execute(&["a".into()]).unwrap_err().code,
            ffi::SQLITE_MISUSE
        );
        insert.execute(&["a".into(), 1.into()]).unwrap();
        let dup = insert.execute(&["a".into(), 2.into()]).unwrap_err();
        assert_eq!(dup.code, ffi::SQLITE_CONSTRAINT_PRIMARYKEY);
        assert_eq!(dup.kind(), ErrorKind::UniqueViolation);
        let null = insert.execute(&["b".into(), Value::Null]).unwrap_err();
        assert_eq!(null.code, ffi::SQLITE_CONSTRAINT_NOTNULL);
        let store = crate::error::StoreError::from(null);
        assert!(store.to_string().contains("NOT NULL"), "{store}");
        // The same statement still works after its errors.
        insert.execute(&["b".into(), 2.into()]).unwrap();
        let mut select = db.prepare("SELECT k, v FROM t ORDER BY k").unwrap();
        // Wrong column type, column out of range, error from the callback.
        let e = select.query_row(&[], |r| r.int(0)).unwrap_err();
        assert_eq!(e.code, ffi::SQLITE_MISMATCH);
        assert!(select.query_row(&[], |r| r.int(2)).is_err());
        let e = select
            .query_all(&[], |_| -> Result<()> { Err(own_error("stop")) })
            .unwrap_err();
        assert_eq!(e.message, "stop");
        let rows = select
            .query_all(&[], |r| Ok((r.text(0)?, r.int(1)?)))
            .unwrap();
        assert_eq!(rows, vec![("a".to_owned(), 1), ("b".to_owned(), 2)]);
    }

    #[tokio::test]
    async fn transactions_and_savepoints_through_cached_statements() {
        let mut conn = connect().await;
        let mut handle = conn.lock_handle().await.unwrap();
        let mut c = Cache::new(Db::new(&mut handle));
        c.execute("CREATE TABLE t (v INTEGER UNIQUE)", &[]).unwrap();
        for round in 0..2 {
            c.execute("BEGIN IMMEDIATE", &[]).unwrap();
            c.execute("SAVEPOINT batch", &[]).unwrap();
            c.execute("INSERT INTO t VALUES (?)", &[(round * 2).into()])
                .unwrap();
            c.execute("RELEASE batch", &[]).unwrap();
            c.execute("SAVEPOINT batch", &[]).unwrap();
            c.execute("INSERT INTO t VALUES (?)", &[(round * 2 + 1).into()])
                .unwrap();
            assert!(c.execute("INSERT INTO t VALUES (?)", &[0.into()]).is_err());
            c.execute("ROLLBACK TO batch", &[]).unwrap();
            c.execute("RELEASE batch", &[]).unwrap();
            c.execute("COMMIT", &[]).unwrap();
        }
        let all = c.query_all("SELECT v FROM t ORDER BY v", &[], |r| r.int(0));
        assert_eq!(all.unwrap(), vec![0, 2]);
        drop(c);
        drop(handle);
        // The connection goes back to sqlx intact.
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, 2);
        conn.close().await.unwrap();
    }
}
