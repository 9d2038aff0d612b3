//! The connection itself: bounded lines, a client that never reads, shutdown, idle timeout,
//! the connection limit; a misbehaving client never disturbs another session.

use std::time::{Duration, Instant};

use pec_imap::{Pop3Limits, TlsMode};

use crate::util::{test_limits, Client, TestServer, MSG1, MSG2, USER};

#[tokio::test(flavor = "multi_thread")]
async fn megabyte_line_is_refused_and_closed() {
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let mut bad = server.login().await;
    let mut good = server.login().await;
    let line = vec![b'A'; 1024 * 1024];
    // The server may hang up mid-write: a failed send is fine.
    let _ = bad.try_send(&line).await;
    let reply = bad.read_line().await.expect("reply");
    assert!(
        reply.starts_with("-ERR") && reply.contains("too long"),
        "{reply}"
    );
    assert!(bad.is_closed().await);
    assert_eq!(good.multi("RETR 1").await, MSG1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn long_line_ending_in_crlf_is_refused_too() {
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let mut c = server.client().await;
    let line = format!("USER {}\r\n", "x".repeat(600));
    c.send(line.as_bytes()).await;
    let reply = c.read_line().await.expect("reply");
    assert!(reply.starts_with("-ERR"), "{reply}");
    assert!(c.is_closed().await);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn client_that_never_reads_is_dropped() {
    let limits = Pop3Limits {
        write_timeout: Duration::from_millis(300),
        ..test_limits()
    };
    let server = TestServer::start(TlsMode::Implicit, limits).await;
    let big: Vec<u8> = (0..(1 << 20) / 64)
        .flat_map(|i| format!("{i:061}\r\n").into_bytes())
        .collect();
    let big = [b"Subject: grande\r\n\r\n".as_slice(), &big].concat();
    server.backend.deliver(USER, "INBOX", &big).await;
    let mut bad = server.login().await;
    let mut good = server.login().await;
    // 200 RETRs of a 1 MiB message pipelined, never read: 200 MiB if the server buffered.
    let pipelined = "RETR 3\r\n".repeat(200);
    bad.send(pipelined.as_bytes()).await;
    // Meanwhile another session is served normally.
    let started = Instant::now();
    assert_eq!(good.multi("RETR 2").await, MSG2);
    assert!(started.elapsed() < Duration::from_secs(2));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Now read: a bounded amount (what sat in socket buffers), then the close.
    let got = bad.drain_until_closed(Duration::from_secs(10)).await;
    eprintln!("a client that never read got {got} bytes before the close");
    assert!(got < 64 * 1024 * 1024, "server kept writing: {got} bytes");
    assert_eq!(good.multi("RETR 3").await, big);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_closes_sessions_without_applying_deletions() {
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let mut c = server.login().await;
    c.ok("DELE 1").await;
    server.signal_shutdown();
    let reply = c.read_line().await.expect("reply");
    assert!(reply.starts_with("-ERR [SYS/TEMP]"), "{reply}");
    assert!(c.is_closed().await);
    assert_eq!(server.inbox().await.len(), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_session_is_closed() {
    let limits = Pop3Limits {
        idle_timeout: Duration::from_millis(300),
        ..test_limits()
    };
    let server = TestServer::start(TlsMode::Implicit, limits).await;
    let mut c = server.login().await;
    c.ok("DELE 1").await;
    let reply = c.read_line().await.expect("reply");
    assert!(reply.starts_with("-ERR"), "{reply}");
    assert!(c.is_closed().await);
    assert_eq!(
        server.inbox().await.len(),
        2,
        "autologout does not enter UPDATE"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_over_the_limit_are_refused() {
    let limits = Pop3Limits {
        max_connections: 1,
        ..test_limits()
    };
    let server = TestServer::start(TlsMode::StartTls, limits).await;
    let mut first = Client::connect_plain(server.addr, TlsMode::StartTls).await;
    let tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let mut second = Client::from_stream(tcp);
    let reply = second.read_line().await.expect("reply");
    assert!(reply.starts_with("-ERR [SYS/TEMP]"), "{reply}");
    assert!(second.is_closed().await);
    first.ok("CAPA").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pipelined_commands_are_all_answered_in_order() {
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let mut c = server.login().await;
    // RFC 2449 §6.6 PIPELINING: several commands in one write.
    c.send(b"NOOP\r\nLIST 2\r\nRETR 2\r\nXYZZY\r\nDELE 2\r\nSTAT\r\n")
        .await;
    assert_eq!(c.read_line().await.expect("noop"), "+OK ");
    assert_eq!(
        c.read_line().await.expect("list"),
        format!("+OK 2 {}", MSG2.len())
    );
    let status = c.read_line().await.expect("retr");
    assert!(status.starts_with("+OK"), "{status}");
    assert_eq!(c.read_body().await, MSG2);
    assert!(c.read_line().await.expect("xyzzy").starts_with("-ERR"));
    assert!(c.read_line().await.expect("dele").starts_with("+OK"));
    assert_eq!(
        c.read_line().await.expect("stat"),
        format!("+OK 1 {}", MSG1.len())
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_logs_in_is_closed_at_the_login_timeout() {
    // Issue 12, item 6.
    let limits = Pop3Limits {
        login_timeout: Duration::from_millis(300),
        ..test_limits()
    };
    let server = TestServer::start(TlsMode::StartTls, limits).await;
    let mut silent = Client::connect_plain(server.addr, TlsMode::StartTls).await;
    let started = Instant::now();
    let reply = silent.read_line().await.expect("reply");
    assert!(reply.starts_with("-ERR login timeout"), "{reply}");
    assert!(silent.is_closed().await);
    assert!(started.elapsed() < Duration::from_secs(5));
    // A logged-in session is not bound by it.
    let mut c = server.login().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    c.ok("NOOP").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_address_cannot_take_every_place() {
    let limits = Pop3Limits {
        max_connections: 10,
        max_connections_per_ip: 1,
        ..test_limits()
    };
    let server = TestServer::start(TlsMode::StartTls, limits).await;
    let mut first = Client::connect_plain(server.addr, TlsMode::StartTls).await;
    let tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let mut second = Client::from_stream(tcp);
    let reply = second.read_line().await.expect("reply");
    assert!(reply.starts_with("-ERR [SYS/TEMP]"), "{reply}");
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut other = Client::from_stream(socket.connect(server.addr).await.unwrap());
    let reply = other.read_line().await.expect("greeting");
    assert!(reply.starts_with("+OK"), "{reply}");
    first.ok("CAPA").await;
    server.stop().await;
}
