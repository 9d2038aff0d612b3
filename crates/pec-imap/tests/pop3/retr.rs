//! RETR and TOP: the stored bytes exactly, dot-stuffed on the wire; `\Seen` after RETR; a
//! message another session removed answers `-ERR`.

use pec_imap::TlsMode;

use crate::util::{test_limits, TestServer, MSG1, MSG2, USER};

#[tokio::test(flavor = "multi_thread")]
async fn retr_gives_the_stored_bytes_and_marks_seen() {
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let mut c = server.login().await;
    assert_eq!(c.multi("RETR 1").await, MSG1);
    assert_eq!(c.multi("RETR 2").await, MSG2);
    // The flag is stored after the message went out (best effort): a real store commits it
    // a moment later.
    let seen = || async {
        let snap = server.backend.snapshot(USER, "INBOX").await;
        snap.messages
            .iter()
            .all(|m| m.flags.contains(&"\\Seen".to_string()))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !seen().await && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(seen().await);
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
    let snap = server.backend.snapshot(USER, "INBOX").await;
    assert!(snap.messages.iter().all(|m| m.flags.is_empty()));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn message_removed_by_another_session_answers_err() {
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let mut c = server.login().await;
    let first = server.inbox().await[0].0;
    // An IMAP session expunges message 1 while POP3 still numbers it.
    server.backend.expunge(USER, "INBOX", &[first]).await;
    c.err("RETR 1").await;
    assert_eq!(c.multi("RETR 2").await, MSG2);
    // QUIT with message 1 marked: what is still there goes, the rest is not an error.
    c.ok("DELE 1").await;
    c.ok("QUIT").await;
    assert_eq!(server.inbox().await.len(), 1);
    server.stop().await;
}

/// Issue 12: a RETR holds a share of the listener's memory until its client has taken the
/// message; a client that never reads keeps its own box waiting, not the other boxes.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_reads_holds_its_boxs_share_only() {
    use crate::util::{Client, OTHER_PASSWORD, OTHER_USER, PASSWORD};
    use std::time::Duration;
    let limits = pec_imap::Pop3Limits {
        retr_memory: 256 << 10,
        ..test_limits()
    };
    let server = TestServer::start(TlsMode::Implicit, limits).await;
    // Larger than the socket buffers can swallow, so the server's writes block.
    let riga = [vec![b'x'; 998], b"\r\n".to_vec()].concat();
    let big = [b"Subject: grande\r\n\r\n".to_vec(), riga.repeat(12_000)].concat();
    server.backend.deliver(USER, "INBOX", &big).await;
    server.backend.deliver(OTHER_USER, "INBOX", &big).await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(server.addr).await.unwrap();
    let mut stuck = Client::over(tcp, TlsMode::Implicit).await;
    stuck.login(USER, PASSWORD).await;
    stuck.send(b"RETR 3\r\n").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The same box waits for its share...
    let mut same = server.client().await;
    same.login(USER, PASSWORD).await;
    same.send(b"RETR 3\r\n").await;
    let waited = tokio::time::timeout(Duration::from_millis(800), same.read_line()).await;
    assert!(
        waited.is_err(),
        "a second RETR of the same box got {waited:?}"
    );
    // ...another box does not.
    let mut other = server.client().await;
    other.login(OTHER_USER, OTHER_PASSWORD).await;
    assert_eq!(other.multi("RETR 1").await, big);
    // Once the stuck client is gone, the waiting one is served.
    drop(stuck);
    let line = same.read_line().await.expect("reply");
    assert!(line.starts_with("+OK"), "{line}");
    assert_eq!(same.read_body().await, big);
    server.stop().await;
}
