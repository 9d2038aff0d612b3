//! The listener on a real socket: concurrency, connection limit, shutdown, certificates.

use std::time::Duration;

use pec_smtp::{Limits, TlsMode};

use crate::util::{test_limits, TestServer, USER};

#[tokio::test]
async fn stalled_client_in_data_does_not_block_another() {
    let limits = Limits {
        data_timeout: Duration::from_secs(5),
        ..test_limits()
    };
    let server = TestServer::start(TlsMode::StartTls, limits).await;
    let mut staller = server.connect().await;
    staller.ready(TlsMode::StartTls).await;
    staller.cmd(&format!("MAIL FROM:<{USER}>"), 250).await;
    staller.cmd("RCPT TO:<a@pec.test>", 250).await;
    staller.cmd("DATA", 354).await;
    staller.send(b"Subject: stuck\r\n\r\nhalf").await;

    let mut other = server.connect().await;
    other.ready(TlsMode::StartTls).await;
    let reply = tokio::time::timeout(
        Duration::from_secs(3),
        other.send_message(&["b@pec.test"], "Subject: ok\r\n\r\nfine\r\n"),
    )
    .await
    .expect("second client is not blocked");
    assert_eq!(reply.code, 250);
    assert_eq!(server.backend.stored().len(), 1);
    drop(staller);
}

#[tokio::test]
async fn connections_over_the_limit_get_421() {
    let limits = Limits {
        max_connections: 1,
        ..test_limits()
    };
    let server = TestServer::start(TlsMode::StartTls, limits).await;
    let mut first = server.connect().await;
    first.greeting().await;
    let mut second = server.connect().await;
    let reply = second.read_reply().await;
    assert_eq!(reply.code, 421, "{reply:?}");
    assert!(second.is_closed().await);
    first.cmd("NOOP", 250).await;
}

#[tokio::test]
async fn shutdown_ends_sessions_and_the_listener() {
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let mut client = server.connect_tls().await;
    client.greeting().await;
    let addr = server.addr;
    let stop = tokio::spawn(server.stop());
    assert_eq!(client.read_reply().await.code, 421);
    stop.await.expect("join").expect("clean stop");
    // The port is closed: nobody accepts any more.
    let refused = tokio::net::TcpStream::connect(addr).await;
    assert!(refused.is_err(), "listener still open");
}

#[tokio::test]
async fn implicit_tls_full_submission_over_tcp() {
    let server = TestServer::start(TlsMode::Implicit, test_limits()).await;
    let mut client = server.connect_tls().await;
    client.ready(TlsMode::Implicit).await;
    let reply = client
        .send_message(&["a@pec.test"], "Subject: tcp\r\n\r\nok\r\n")
        .await;
    assert_eq!(reply.code, 250);
    assert_eq!(server.backend.stored().len(), 1);
}

#[tokio::test]
async fn one_address_cannot_take_every_place() {
    // Issue 12, item 6: a cap per client address, below the listener's.
    let limits = Limits {
        max_connections: 10,
        max_connections_per_ip: 2,
        ..test_limits()
    };
    let server = TestServer::start(TlsMode::StartTls, limits).await;
    let mut a1 = server.connect().await;
    a1.greeting().await;
    let mut a2 = server.connect().await;
    a2.greeting().await;
    let mut a3 = server.connect().await;
    let reply = a3.read_reply().await;
    assert_eq!(reply.code, 421, "{reply:?}");
    assert!(a3.is_closed().await);
    // Another address still gets in (loopback answers on all of 127.0.0.0/8).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    let mut b = crate::util::Client::new(stream);
    assert_eq!(b.greeting().await.code, 220);
    // A place freed is a place again.
    drop(a1);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut a4 = server.connect().await;
    assert_eq!(a4.greeting().await.code, 220);
    a2.cmd("NOOP", 250).await;
}

/// The deadline is the connection's: STARTTLS does not restart it, and a client that keeps
/// commands coming is closed at it too.
#[tokio::test]
async fn the_login_deadline_outlives_starttls_and_busy_clients() {
    let limits = Limits {
        login_timeout: Duration::from_millis(1000),
        ..test_limits()
    };
    let server = TestServer::start(TlsMode::StartTls, limits).await;
    let mut c = server.connect().await;
    c.greeting().await;
    c.cmd("EHLO client.test", 250).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    c.starttls().await;
    let upgraded = std::time::Instant::now();
    let mut closed = None;
    for _ in 0..30 {
        c.send(b"NOOP\r\n").await;
        match c.try_read_reply().await {
            Some(r) if r.code == 250 => {}
            Some(r) => {
                assert_eq!(r.code, 421, "{r:?}");
                closed = Some(upgraded.elapsed());
                break;
            }
            None => {
                closed = Some(upgraded.elapsed());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let closed = closed.expect("closed at the login deadline");
    // Restarted at STARTTLS, it would have let the client go on for a whole second more.
    assert!(
        closed < Duration::from_millis(700),
        "closed {closed:?} after STARTTLS"
    );
}

#[tokio::test]
async fn a_client_that_never_logs_in_is_closed_at_the_login_timeout() {
    let limits = Limits {
        login_timeout: Duration::from_millis(300),
        ..test_limits()
    };
    let server = TestServer::start(TlsMode::StartTls, limits).await;
    let mut silent = server.connect().await;
    silent.greeting().await;
    // Chatty but never logging in: still closed at the deadline.
    silent.cmd("EHLO client.test", 250).await;
    let reply = tokio::time::timeout(Duration::from_secs(3), silent.read_reply())
        .await
        .expect("closed in time");
    assert_eq!(reply.code, 421, "{reply:?}");
    assert!(reply.text().contains("Login timeout"), "{reply:?}");
    // A client that logs in is not bound by it.
    let mut user = server.connect().await;
    user.ready(TlsMode::StartTls).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    user.cmd("NOOP", 250).await;
}
