//! TRANSACTION and UPDATE: STAT, LIST, UIDL, DELE, RSET, QUIT; bad numbers, unknown commands
//! and commands in the wrong state answer `-ERR` and the session goes on.

use pec_imap::TlsMode;

use crate::util::{test_limits, TestServer, MSG1, MSG2, USER};

#[tokio::test(flavor = "multi_thread")]
async fn stat_list_and_uidl_describe_the_inbox() {
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let snap = server.backend.snapshot(USER, "INBOX").await;
    let mut c = server.login().await;
    let total = MSG1.len() + MSG2.len();
    assert_eq!(c.ok("STAT").await, format!("+OK 2 {total}"));
    assert_eq!(
        c.listing("LIST").await,
        vec![format!("1 {}", MSG1.len()), format!("2 {}", MSG2.len())]
    );
    assert_eq!(c.ok("LIST 2").await, format!("+OK 2 {}", MSG2.len()));
    let uids: Vec<String> = snap
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| format!("{} {}.{}", i + 1, snap.uidvalidity, m.uid))
        .collect();
    assert_eq!(c.listing("UIDL").await, uids);
    assert_eq!(c.ok("UIDL 1").await, format!("+OK {}", uids[0]));
    c.ok("NOOP").await;
    c.ok("QUIT").await;
    assert!(c.is_closed().await);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn uidl_is_stable_across_sessions_and_deletions() {
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let mut c = server.login().await;
    let before = c.listing("UIDL").await;
    c.ok("DELE 1").await;
    c.ok("QUIT").await;
    let mut c = server.login().await;
    let after = c.listing("UIDL").await;
    let id2 = before[1].split(' ').nth(1).expect("id");
    assert_eq!(after, vec![format!("1 {id2}")]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_commands_and_bad_numbers_answer_err() {
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let mut c = server.login().await;
    for bad in [
        "XYZZY",
        "RETR",
        "RETR 0",
        "RETR 3",
        "RETR abc",
        "RETR -1",
        "RETR 99999999999999",
        "LIST x",
        "LIST 1 2",
        "TOP 1",
        "TOP 1 x",
        "DELE 7",
        "UIDL 0",
        "STAT now",
    ] {
        c.err(bad).await;
    }
    c.ok("DELE 1").await;
    c.err("DELE 1").await;
    c.err("RETR 1").await;
    c.err("LIST 1").await;
    assert_eq!(c.listing("LIST").await, vec![format!("2 {}", MSG2.len())]);
    c.ok("NOOP").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_in_the_wrong_state_answer_err() {
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let mut c = server.client().await;
    for before_login in ["STAT", "LIST", "RETR 1", "DELE 1", "NOOP", "RSET", "PASS x"] {
        c.err(before_login).await;
    }
    c.login(USER, crate::util::PASSWORD).await;
    for after_login in ["USER x", "PASS x", "AUTH PLAIN", "STLS"] {
        c.err(after_login).await;
    }
    c.ok("STAT").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dele_then_quit_removes_and_rset_restores() {
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let mut c = server.login().await;
    c.ok("DELE 1").await;
    c.ok("DELE 2").await;
    c.ok("RSET").await;
    assert_eq!(
        c.ok("STAT").await,
        format!("+OK 2 {}", MSG1.len() + MSG2.len())
    );
    c.ok("DELE 2").await;
    assert_eq!(server.inbox().await.len(), 2, "nothing removed before QUIT");
    c.ok("QUIT").await;
    assert!(c.is_closed().await);
    let inbox = server.inbox().await;
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].1, MSG1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_connection_deletes_nothing() {
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let mut c = server.login().await;
    c.ok("DELE 1").await;
    drop(c);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(server.inbox().await.len(), 2);
    server.stop().await;
}
