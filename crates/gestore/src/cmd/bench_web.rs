//! `gestore bench --webmail N`: the webmail's pages over one box of N messages, requested
//! in-process (the router itself, no sockets: what is measured is the page's own work,
//! store reads, parsing and rendering). Reports p50 and p99 per page: the folder's first
//! page, a page deep in it, a message, and a search that has to read the whole folder.

use crate::config::Config;
use crate::server;
use anyhow::{bail, Context, Result};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use pec_provider::comune::indirizzo as address;
use pec_store::{Batch, NewMessage, Operation, Store};
use std::time::{Duration, Instant};
use tower::ServiceExt as _;

const BOX: &str = "utente@pec.bench.test";

/// Runs the bench on a fresh provider in `data`.
pub fn run(config: Config, messages: usize) -> Result<()> {
    super::serve::runtime()?.block_on(async move {
        let running = server::start(config).await?;
        running.gestore.registro().traccia(false);
        let result = pages(&running, messages).await;
        running.stop().await;
        result
    })
}

async fn pages(running: &server::Running, n: usize) -> Result<()> {
    let store = running.gestore.store();
    let casella = address(BOX)?;
    store.add_mailbox(&casella, "pw-bench", 0).await?;
    let t = Instant::now();
    let now = running.gestore.clock().now();
    for start in (0..n).step_by(500) {
        let mut batch = Batch::new();
        for i in start..(start + 500).min(n) {
            batch.push(Operation::PutMessage(NewMessage::append(
                casella.clone(),
                "INBOX",
                messaggio(i),
                Vec::new(),
                now,
            )));
        }
        store.commit(batch).await?;
    }
    println!(
        "gestore bench --webmail: one box of {n} messages (about 2 KB each), stored in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let app = pec_web::Web::new(running.gestore.clone(), "Gestore Bench S.p.A.", 1 << 20).router();
    let cookie = login(&app).await?;
    let pages = n.div_ceil(50).max(1);
    let rows: [(&str, String, usize); 4] = [
        ("folder, first page", "/cartelle/INBOX".into(), 200),
        (
            "folder, middle page",
            format!("/cartelle/INBOX?pagina={}", pages / 2 + 1),
            200,
        ),
        ("message", format!("/cartelle/INBOX/{}", n / 2 + 1), 200),
        (
            "search (whole folder)",
            format!("/cartelle/INBOX?q=pratica+{}", n / 3),
            20,
        ),
    ];
    for (name, path, times) in rows {
        let mut took = Vec::with_capacity(times);
        for _ in 0..times {
            let t = Instant::now();
            let status = get(&app, &path, &cookie).await?;
            took.push(t.elapsed());
            if status != StatusCode::OK {
                bail!("{path}: {status}");
            }
        }
        took.sort();
        let pct = |p: f64| took[((took.len() as f64 * p) as usize).min(took.len() - 1)];
        println!(
            "{name:<24} p50 {:>8.2} ms   p99 {:>8.2} ms   ({times} requests)",
            ms(pct(0.50)),
            ms(pct(0.99))
        );
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Message `i`: an ordinary message with its own subject and about 2 KB of text.
fn messaggio(i: usize) -> Vec<u8> {
    let testo = "Gentile ufficio, si trasmette la documentazione richiesta. ".repeat(32);
    format!(
        "From: Cittadino {i} <c{i}@example.it>\r\nTo: {BOX}\r\nSubject: Pratica {i}\r\n\
         Message-ID: <b{i}@example.it>\r\nDate: Thu, 03 Dec 2026 10:00:00 +0100\r\n\r\n{testo}\r\n"
    )
    .into_bytes()
}

async fn login(app: &axum::Router) -> Result<String> {
    let r = app
        .clone()
        .oneshot(Request::get("/accesso").body(Body::empty())?)
        .await?;
    let set = r
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .context("no login cookie")?;
    let token = set
        .split(';')
        .next()
        .and_then(|c| c.split_once('='))
        .map(|(_, v)| v.to_string())
        .context("login cookie")?;
    let form = format!("csrf={token}&indirizzo={BOX}&password=pw-bench");
    let r = app
        .clone()
        .oneshot(
            Request::post("/accesso")
                .header(header::COOKIE, format!("gestore_accesso={token}"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form))?,
        )
        .await?;
    r.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("gestore_sessione=") && !c.contains("Max-Age=0"))
        .and_then(|c| c.split(';').next())
        .map(str::to_string)
        .context("login refused")
}

async fn get(app: &axum::Router, path: &str, cookie: &str) -> Result<StatusCode> {
    let r = app
        .clone()
        .oneshot(
            Request::get(path)
                .header(header::COOKIE, cookie)
                .body(Body::empty())?,
        )
        .await?;
    let status = r.status();
    // The whole page, rendered.
    axum::body::to_bytes(r.into_body(), usize::MAX).await?;
    Ok(status)
}
