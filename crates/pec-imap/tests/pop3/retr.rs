//! RETR and TOP: the stored bytes exactly, dot-stuffed on the wire; `\Seen` after RETR; a
//! message another session removed answers `-ERR`.

use pec_imap::{Backend, TlsMode};

use crate::util::{test_limits, TestServer, MSG1, MSG2, USER};

#[tokio::test(flavor = "multi_thread")]
async fn retr_gives_the_stored_bytes_and_marks_seen() {
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let mut c = server.login().await;
    assert_eq!(c.multi("RETR 1").await, MSG1);
    assert_eq!(c.multi("RETR 2").await, MSG2);
    let snap = server
        .backend
        .snapshot(USER, "INBOX")
        .await
        .expect("snapshot");
    assert!(snap
        .messages
        .iter()
        .all(|m| m.flags.contains(&"\\Seen".to_string())));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retr_stuffs_dots_on_the_wire() {
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let mut c = server.login().await;
    c.ok("RETR 1").await;
    let mut raw = Vec::new();
    loop {
        let line = c.read_line().await.expect("line");
        raw.push(line.clone());
        if line == "." {
            break;
        }
    }
    assert!(raw.contains(&"..una riga col punto".to_string()), "{raw:?}");
    assert!(raw.contains(&"...due punti".to_string()), "{raw:?}");
    assert!(raw.contains(&"..".to_string()), "{raw:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn top_gives_headers_and_first_lines() {
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let mut c = server.login().await;
    let headers = b"From: <b@pec.altro.test>\r\nSubject: due\r\n\r\n";
    assert_eq!(c.multi("TOP 2 0").await, headers);
    let mut two = headers.to_vec();
    two.extend_from_slice(b"riga 1\r\nriga 2\r\n");
    assert_eq!(c.multi("TOP 2 2").await, two);
    assert_eq!(c.multi("TOP 2 100").await, MSG2);
    // TOP does not mark the message read.
    let snap = server
        .backend
        .snapshot(USER, "INBOX")
        .await
        .expect("snapshot");
    assert!(snap.messages.iter().all(|m| m.flags.is_empty()));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn message_removed_by_another_session_answers_err() {
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let mut c = server.login().await;
    let first = server.inbox().await[0].0;
    // An IMAP session expunges message 1 while POP3 still numbers it.
    server
        .backend
        .expunge(USER, "INBOX", &[first])
        .await
        .expect("expunge");
    c.err("RETR 1").await;
    assert_eq!(c.multi("RETR 2").await, MSG2);
    // QUIT with message 1 marked: what is still there goes, the rest is not an error.
    c.ok("DELE 1").await;
    c.ok("QUIT").await;
    assert_eq!(server.inbox().await.len(), 1);
    server.stop().await;
}
