//! The webmail's pages: login and logout, folders, a message, its downloads, compose.
//!
//! Every form carries the session's CSRF token (the login form a token of its own, matched
//! against its cookie); a POST without it gets 403. A message is addressed by folder and UID
//! within the logged-in box only, so another box's message cannot be named: it is a 404.

use crate::componi::{self, Bozza, FileAllegato};
use crate::servizio::Connessione;
use crate::sessione::{self, casuale, cookie, leggi_cookie, uguali, Sessione};
use crate::vista::{self, Riga, Vista};
use crate::Web;
use askama::Template;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Multipart, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use pec_provider::accesso::{Esito, Invio};
use pec_provider::caselle::Accesso;
use pec_store::{Address, Batch, FlagOp, Operation, Store};
use serde::Deserialize;
use std::time::Instant;

/// Messages per page of a folder.
const PER_PAGINA: usize = 50;

pub(crate) fn router(web: Web) -> Router {
    let limite = web.0.limite + 1024 * 1024; // the form's other fields
    Router::new()
        .route("/", get(|| async { Redirect::to("/cartelle/INBOX") }))
        .route("/accesso", get(accesso_pagina).post(accesso))
        .route("/esci", post(esci))
        .route("/accesso/codice", get(codice_pagina).post(codice))
        .route("/sicurezza", get(sicurezza_pagina))
        .route("/sicurezza/totp/nuovo", post(totp_nuovo))
        .route("/sicurezza/totp/conferma", post(totp_conferma))
        .route("/sicurezza/totp/disattiva", post(totp_disattiva))
        .route("/cartelle/{cartella}", get(cartella))
        .route("/cartelle/{cartella}/{uid}", get(messaggio))
        .route("/cartelle/{cartella}/{uid}/eml", get(eml))
        .route("/cartelle/{cartella}/{uid}/prove.zip", get(prove))
        .route("/cartelle/{cartella}/{uid}/allegati/{n}", get(allegato))
        .route("/scrivi", get(scrivi_pagina).post(scrivi))
        .route("/verifica", get(verifica_pagina).post(verifica))
        .route("/static/gestore.css", get(css))
        .layer(DefaultBodyLimit::max(limite))
        .layer(axum::middleware::map_response(sicurezza))
        .with_state(web)
}

/// Headers every response carries: no script at all, nothing from elsewhere, no framing, no
/// sniffing, no referrer, no caching of mail.
async fn sicurezza(mut r: Response) -> Response {
    let h = r.headers_mut();
    let fisso = |v: &'static str| HeaderValue::from_static(v);
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        fisso(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, fisso("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, fisso("DENY"));
    h.insert(header::REFERRER_POLICY, fisso("no-referrer"));
    h.entry(header::CACHE_CONTROL).or_insert(fisso("no-store"));
    r
}

/// The frame of every page: the provider, the box, its folders.
pub(crate) struct Cornice {
    /// While something is pending, the page reloads itself (no script needed).
    aggiorna: bool,
    gestore: String,
    casella: Option<String>,
    csrf: String,
    cartelle: Vec<VoceCartella>,
}

pub(crate) struct VoceCartella {
    nome: String,
    etichetta: String,
    non_letti: u64,
    attiva: bool,
}

/// A folder's name in Italian.
fn etichetta(nome: &str) -> String {
    match nome {
        "INBOX" => "Posta in arrivo",
        "Sent" => "Posta inviata",
        "Drafts" => "Bozze",
        "Trash" => "Cestino",
        altro => altro,
    }
    .to_string()
}

/// The logged-in box of a request (or a redirect to the login page).
struct Utente {
    sessione: Sessione,
    token: String,
    conn: Connessione,
}

fn connessione(parts: &Parts) -> Connessione {
    parts
        .extensions
        .get::<Connessione>()
        .copied()
        .unwrap_or(Connessione {
            peer: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            https: false,
        })
}

fn cookie_header(parts: &Parts) -> &str {
    parts
        .headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The session of a request, whatever its state.
fn sessione_di(parts: &Parts, web: &Web) -> Option<Utente> {
    let conn = connessione(parts);
    let token = leggi_cookie(cookie_header(parts), sessione::COOKIE).unwrap_or("");
    web.0
        .sessioni
        .trova(token, Instant::now())
        .map(|sessione| Utente {
            sessione,
            token: token.to_string(),
            conn,
        })
}

impl FromRequestParts<Web> for Utente {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Response> {
        let u = sessione_di(parts, web).ok_or_else(|| Redirect::to("/accesso").into_response())?;
        match u.sessione.verificata {
            true => Ok(u),
            false => Err(Redirect::to("/accesso/codice").into_response()),
        }
    }
}

/// A session past the password, waiting for the second factor's code.
struct InAttesa(Utente);

impl FromRequestParts<Web> for InAttesa {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Response> {
        let u = sessione_di(parts, web).ok_or_else(|| Redirect::to("/accesso").into_response())?;
        match u.sessione.verificata {
            false => Ok(InAttesa(u)),
            true => Err(Redirect::to("/cartelle/INBOX").into_response()),
        }
    }
}

/// Who is at the other end, for pages without a session.
struct Cliente(Connessione, String);

impl FromRequestParts<Web> for Cliente {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &Web) -> Result<Self, Response> {
        Ok(Cliente(
            connessione(parts),
            cookie_header(parts).to_string(),
        ))
    }
}

impl Web {
    async fn cornice(&self, u: Option<&Utente>, attiva: &str) -> Cornice {
        let mut c = Cornice {
            aggiorna: false,
            gestore: self.0.nome.clone(),
            casella: u.map(|u| u.sessione.casella.clone()),
            csrf: u.map(|u| u.sessione.csrf.clone()).unwrap_or_default(),
            cartelle: Vec::new(),
        };
        let Some(u) = u else { return c };
        let Ok(addr) = Address::parse(&u.sessione.casella) else {
            return c;
        };
        if let Ok(cartelle) = self.0.gestore.store().folders(&addr).await {
            c.cartelle = cartelle
                .into_iter()
                .map(|f| VoceCartella {
                    etichetta: etichetta(&f.name),
                    attiva: f.name == attiva,
                    non_letti: f.unseen,
                    nome: f.name,
                })
                .collect();
        }
        c
    }

    /// A page saying what happened, with a status code.
    async fn esito(
        &self,
        u: Option<&Utente>,
        stato: StatusCode,
        titolo: &str,
        testo: &str,
    ) -> Response {
        let p = EsitoPagina {
            c: self.cornice(u, "").await,
            titolo: titolo.to_string(),
            testo: testo.to_string(),
            errore: !stato.is_success(),
            identificativo: None,
        };
        (stato, pagina(&p)).into_response()
    }
}

fn pagina(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!("web: template: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "errore interno").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "esito.html")]
struct EsitoPagina {
    c: Cornice,
    titolo: String,
    testo: String,
    errore: bool,
    identificativo: Option<String>,
}

#[derive(Template)]
#[template(path = "accesso.html")]
struct AccessoPagina {
    c: Cornice,
    token: String,
    indirizzo: String,
    errore: Option<String>,
}

/// The login page, with the token its form must send back (double submit).
async fn accesso_pagina(State(web): State<Web>, Cliente(conn, cookies): Cliente) -> Response {
    let token = leggi_cookie(&cookies, sessione::COOKIE_ACCESSO)
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string)
        .unwrap_or_else(casuale);
    modulo_accesso(&web, conn, token, String::new(), None, StatusCode::OK).await
}

async fn modulo_accesso(
    web: &Web,
    conn: Connessione,
    token: String,
    indirizzo: String,
    errore: Option<String>,
    stato: StatusCode,
) -> Response {
    let set = cookie(sessione::COOKIE_ACCESSO, &token, conn.https, None);
    let p = AccessoPagina {
        c: web.cornice(None, "").await,
        token,
        indirizzo,
        errore,
    };
    let mut r = (stato, pagina(&p)).into_response();
    if let Ok(v) = HeaderValue::from_str(&set) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
struct CampiAccesso {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    indirizzo: String,
    #[serde(default)]
    password: String,
}

async fn accesso(
    State(web): State<Web>,
    Cliente(conn, cookies): Cliente,
    Form(f): Form<CampiAccesso>,
) -> Response {
    let atteso = leggi_cookie(&cookies, sessione::COOKIE_ACCESSO).unwrap_or("");
    if atteso.is_empty() || !uguali(atteso, &f.csrf) {
        return web
            .esito(
                None,
                StatusCode::FORBIDDEN,
                "Richiesta rifiutata",
                "Modulo scaduto o non valido: ricarica la pagina di accesso.",
            )
            .await;
    }
    let indirizzo: String = f.indirizzo.trim().chars().take(320).collect();
    let esito = web
        .0
        .gestore
        .caselle()
        .accedi("web", &indirizzo, &f.password, conn.peer.ip())
        .await;
    let token = atteso.to_string();
    match esito {
        Accesso::Consentito(casella) => {
            let secondo = match web.0.gestore.caselle().totp_attivo(&casella).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("web: login: {e}");
                    let e = "Servizio momentaneamente non disponibile: riprova tra poco.".into();
                    return modulo_accesso(
                        &web,
                        conn,
                        token,
                        indirizzo,
                        Some(e),
                        StatusCode::SERVICE_UNAVAILABLE,
                    )
                    .await;
                }
            };
            if !secondo {
                web.annota_accesso(&casella, conn.peer.ip(), "password");
            }
            let (token, _) = web.0.sessioni.apri(&casella, !secondo, Instant::now());
            let dove = if secondo {
                "/accesso/codice"
            } else {
                "/cartelle/INBOX"
            };
            let mut r = Redirect::to(dove).into_response();
            let h = r.headers_mut();
            for c in [
                cookie(sessione::COOKIE, &token, conn.https, None),
                cookie(sessione::COOKIE_ACCESSO, "", conn.https, Some(0)),
            ] {
                if let Ok(v) = HeaderValue::from_str(&c) {
                    h.append(header::SET_COOKIE, v);
                }
            }
            *r.status_mut() = StatusCode::SEE_OTHER;
            r
        }
        Accesso::Rifiutato => {
            let e = "Indirizzo o password non corretti.".to_string();
            modulo_accesso(
                &web,
                conn,
                token,
                indirizzo,
                Some(e),
                StatusCode::UNAUTHORIZED,
            )
            .await
        }
        Accesso::Bloccato(attesa) => {
            let minuti = attesa.as_secs().div_ceil(60).max(1);
            let e = format!("Troppi tentativi non riusciti: riprova tra {minuti} minuti.");
            let mut r = modulo_accesso(
                &web,
                conn,
                token,
                indirizzo,
                Some(e),
                StatusCode::TOO_MANY_REQUESTS,
            )
            .await;
            if let Ok(v) = HeaderValue::from_str(&attesa.as_secs().max(1).to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        Accesso::Indisponibile(why) => {
            tracing::warn!("web: login: {why}");
            let e = "Servizio momentaneamente non disponibile: riprova tra poco.".to_string();
            modulo_accesso(
                &web,
                conn,
                token,
                indirizzo,
                Some(e),
                StatusCode::SERVICE_UNAVAILABLE,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
struct SoloCsrf {
    #[serde(default)]
    csrf: String,
}

async fn esci(State(web): State<Web>, u: Utente, Form(f): Form<SoloCsrf>) -> Response {
    if !uguali(&u.sessione.csrf, &f.csrf) {
        return vietato(&web, &u).await;
    }
    web.0.sessioni.chiudi(&u.token);
    let mut r = Redirect::to("/accesso").into_response();
    *r.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(&cookie(sessione::COOKIE, "", u.conn.https, Some(0))) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

async fn vietato(web: &Web, u: &Utente) -> Response {
    web.esito(
        Some(u),
        StatusCode::FORBIDDEN,
        "Richiesta rifiutata",
        "Il modulo non porta il codice di sicurezza di questa sessione: ricarica la pagina e riprova.",
    )
    .await
}

async fn non_trovato(web: &Web, u: &Utente) -> Response {
    web.esito(
        Some(u),
        StatusCode::NOT_FOUND,
        "Non trovato",
        "Questo messaggio o questa cartella non esiste nella tua casella.",
    )
    .await
}

async fn guasto(web: &Web, u: &Utente, e: impl std::fmt::Display) -> Response {
    tracing::warn!("web: {e}");
    web.esito(
        Some(u),
        StatusCode::SERVICE_UNAVAILABLE,
        "Servizio non disponibile",
        "Non è stato possibile completare la richiesta: riprova tra poco.",
    )
    .await
}

fn casella(u: &Utente) -> Option<Address> {
    Address::parse(&u.sessione.casella).ok()
}

#[derive(Template)]
#[template(path = "cartella.html")]
struct CartellaPagina {
    c: Cornice,
    cartella: String,
    etichetta: String,
    righe: Vec<RigaPagina>,
    /// The Sent folder: a status per recipient on each row.
    inviata: bool,
    /// These are search results (the search form keeps what was asked).
    cerca: bool,
    q: String,
    dal: String,
    al: String,
    totale: usize,
    pagina: usize,
    pagine: usize,
}

/// A row and, for a message we sent, its recipients' status.
struct RigaPagina {
    r: Riga,
    stati: Vec<vista::StatoDestinatario>,
}

impl Web {
    /// "Stato dell'invio" of our envelope `identificativo`: each recipient's status and
    /// steps, and whether any is still pending. Empty when the log has nothing of it.
    async fn stato(&self, identificativo: &str) -> (Vec<vista::StatoDestinatario>, bool) {
        let q = pec_store::LogQuery {
            msgid: Some(identificativo.to_string()),
            ..pec_store::LogQuery::default()
        };
        let Ok(righe) = self.0.gestore.store().log_search(&q).await else {
            return (Vec::new(), false);
        };
        let eventi: Vec<_> = righe
            .iter()
            .filter_map(|r| pec_core::registro::Evento::da_riga(&r.line).ok())
            .filter(|e| e.identificativo == identificativo)
            .collect();
        vista::stato_invio(&eventi)
    }
}

#[derive(Deserialize)]
struct Paginazione {
    pagina: Option<usize>,
    /// Words to look for (all of them): subject, sender, recipients, text.
    q: Option<String>,
    /// From this day (YYYY-MM-DD, Europe/Rome).
    dal: Option<String>,
    /// To this day, included.
    al: Option<String>,
}

/// Most results a search lists.
const RISULTATI_MAX: usize = 200;

/// The start of day `giorno` (YYYY-MM-DD) in Italy, in UTC; `None` when empty or malformed.
fn giorno(giorno: Option<&str>, dopo: bool) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::TimeZone as _;
    let d = chrono::NaiveDate::parse_from_str(giorno?.trim(), "%Y-%m-%d").ok()?;
    let d = if dopo { d.succ_opt()? } else { d };
    chrono_tz::Europe::Rome
        .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&chrono::Utc))
}

async fn cartella(
    State(web): State<Web>,
    u: Utente,
    Path(nome): Path<String>,
    Query(q): Query<Paginazione>,
) -> Response {
    let Some(addr) = casella(&u) else {
        return non_trovato(&web, &u).await;
    };
    let store = web.0.gestore.store();
    let snap = match store.snapshot(&addr, &nome).await {
        Ok(Some(s)) => s,
        Ok(None) => return non_trovato(&web, &u).await,
        Err(e) => return guasto(&web, &u, e).await,
    };
    let parole: Vec<String> =
        q.q.as_deref()
            .unwrap_or("")
            .split_whitespace()
            .take(10)
            .map(str::to_lowercase)
            .collect();
    let (dal, al) = (
        giorno(q.dal.as_deref(), false),
        giorno(q.al.as_deref(), true),
    );
    let cerca = !parole.is_empty() || dal.is_some() || al.is_some();
    let mut righe = Vec::new();
    let (totale, pagina, pagine);
    if cerca {
        // A search reads the folder newest first and lists up to RISULTATI_MAX matches.
        for m in snap.messages.iter().rev() {
            if dal.is_some_and(|d| m.internal_date < d) || al.is_some_and(|a| m.internal_date >= a)
            {
                continue;
            }
            let f = match store.fetch_message(&addr, &nome, m.uid).await {
                Ok(Some(f)) => f,
                Ok(None) => continue,
                Err(e) => return guasto(&web, &u, e).await,
            };
            if !vista::corrisponde(&f.bytes, &parole) {
                continue;
            }
            righe.push(RigaPagina {
                r: vista::riga(m.uid, m.internal_date, &m.flags, &f.bytes),
                stati: Vec::new(),
            });
            if righe.len() == RISULTATI_MAX {
                break;
            }
        }
        (totale, pagina, pagine) = (righe.len(), 1, 1);
    } else {
        totale = snap.messages.len();
        pagine = totale.div_ceil(PER_PAGINA).max(1);
        pagina = q.pagina.unwrap_or(1).clamp(1, pagine);
        // Newest first.
        for m in snap
            .messages
            .iter()
            .rev()
            .skip((pagina - 1) * PER_PAGINA)
            .take(PER_PAGINA)
        {
            match store.fetch_message(&addr, &nome, m.uid).await {
                Ok(Some(f)) => righe.push(RigaPagina {
                    r: vista::riga(m.uid, m.internal_date, &m.flags, &f.bytes),
                    stati: Vec::new(),
                }),
                Ok(None) => {} // expunged meanwhile
                Err(e) => return guasto(&web, &u, e).await,
            }
        }
    }
    let inviata = nome == "Sent";
    let mut aggiorna = false;
    if inviata {
        for riga in &mut righe {
            if let Some(id) = riga.r.identificativo.clone() {
                let (stati, in_corso) = web.stato(&id).await;
                aggiorna |= in_corso;
                riga.stati = stati;
            }
        }
    }
    let mut c = web.cornice(Some(&u), &nome).await;
    c.aggiorna = aggiorna;
    let p = CartellaPagina {
        c,
        inviata,
        cerca,
        q: q.q.clone().unwrap_or_default(),
        dal: q.dal.clone().unwrap_or_default(),
        al: q.al.clone().unwrap_or_default(),
        etichetta: etichetta(&nome),
        cartella: nome,
        righe,
        totale,
        pagina,
        pagine,
    };
    // `pagina` is the page number here.
    self::pagina(&p)
}

#[derive(Template)]
#[template(path = "messaggio.html")]
struct MessaggioPagina {
    c: Cornice,
    cartella: String,
    uid: u32,
    v: Vista,
    /// What its signature is worth (certified messages only).
    firma: Option<crate::firma::Firma>,
    /// For an envelope this box sent: each recipient's status and steps.
    stato: Vec<vista::StatoDestinatario>,
}

/// The stored bytes of one message of the logged-in box, or the response to give instead.
async fn leggi(web: &Web, u: &Utente, cartella: &str, uid: u32) -> Result<Vec<u8>, Response> {
    let Some(addr) = casella(u) else {
        return Err(non_trovato(web, u).await);
    };
    match web
        .0
        .gestore
        .store()
        .fetch_message(&addr, cartella, uid)
        .await
    {
        Ok(Some(f)) => Ok(f.bytes),
        Ok(None) => Err(non_trovato(web, u).await),
        // An unknown folder is not found either.
        Err(pec_store::StoreError::UnknownFolder { .. }) => Err(non_trovato(web, u).await),
        Err(e) => Err(guasto(web, u, e).await),
    }
}

/// The message a path `/cartelle/{cartella}/{uid}…` names in the logged-in box, read (or
/// the login page, 400 for a malformed UID, 404 for one the box does not have).
struct Letto {
    u: Utente,
    cartella: String,
    uid: u32,
    bytes: Vec<u8>,
}

impl FromRequestParts<Web> for Letto {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Response> {
        let u = Utente::from_request_parts(parts, web).await?;
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, web)
            .await
            .map_err(IntoResponse::into_response)?;
        let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let cartella = param("cartella").unwrap_or_default();
        let Some(uid) = param("uid").and_then(|v| v.parse::<u32>().ok()) else {
            return Err((StatusCode::BAD_REQUEST, "UID non valido").into_response());
        };
        let bytes = leggi(web, &u, &cartella, uid).await?;
        Ok(Letto {
            u,
            cartella,
            uid,
            bytes,
        })
    }
}

async fn messaggio(State(web): State<Web>, m: Letto) -> Response {
    let Letto {
        u,
        cartella,
        uid,
        bytes,
    } = m;
    if let Some(addr) = casella(&u) {
        let seen = Operation::SetFlags {
            address: addr,
            folder: cartella.clone(),
            uids: vec![uid],
            op: FlagOp::Add,
            flags: vec!["\\Seen".into()],
        };
        if let Err(e) = web.0.gestore.store().commit(Batch::new().with(seen)).await {
            tracing::debug!("web: \\Seen: {e}");
        }
    }
    let (verifier, ora) = (
        web.0.gestore.indice().verifier(),
        web.0.gestore.clock().now(),
    );
    let letto = tokio::task::spawn_blocking(move || {
        let v = vista::vista(&bytes);
        let firma = (v.tipo != "Posta ordinaria")
            .then(|| crate::firma::firma(&verifier.verify(&bytes, ora)));
        (v, firma)
    })
    .await;
    let Ok((v, firma)) = letto else {
        return guasto(&web, &u, "message view task").await;
    };
    // Our own envelope (its sender is this box): how it went at each recipient.
    let mut c = web.cornice(Some(&u), &cartella).await;
    let mut stato = Vec::new();
    if let (Some(cert), true) = (&v.certificazione, v.originale.is_some()) {
        if cert.mittente.eq_ignore_ascii_case(&u.sessione.casella)
            && cert.tipo == "posta-certificata"
        {
            let (s, in_corso) = web.stato(&cert.identificativo).await;
            stato = s;
            c.aggiorna = in_corso;
        }
    }
    let p = MessaggioPagina {
        c,
        cartella,
        uid,
        v,
        firma,
        stato,
    };
    pagina(&p)
}

/// A download: never shown inline, so nothing in it runs on our origin.
fn scaricamento(nome: &str, tipo: &'static str, dati: Vec<u8>) -> Response {
    let nome: String = nome
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut r = dati.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(tipo));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{nome}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

async fn eml(m: Letto) -> Response {
    // The stored bytes as they are, so the signature still verifies.
    scaricamento(
        &format!("messaggio-{}.eml", m.uid),
        "message/rfc822",
        m.bytes,
    )
}

/// For an envelope this box sent: a ZIP with the envelope and every receipt and notice about
/// it, as stored (signatures intact), and the status of each recipient in words.
async fn prove(State(web): State<Web>, m: Letto) -> Response {
    let Letto { u, bytes, .. } = m;
    let v = vista::vista(&bytes);
    let Some(cert) = v.certificazione.filter(|c| {
        c.tipo == "posta-certificata" && c.mittente.eq_ignore_ascii_case(&u.sessione.casella)
    }) else {
        return non_trovato(&web, &u).await;
    };
    let Some(addr) = casella(&u) else {
        return non_trovato(&web, &u).await;
    };
    let prefix = format!("box:{}:{}:", addr.as_str(), cert.identificativo);
    let store = web.0.gestore.store();
    let trovati = match store.messages_by_key(&addr, &prefix).await {
        Ok(m) => m,
        Err(e) => return guasto(&web, &u, e).await,
    };
    let mut parti = Vec::new();
    for m in trovati {
        match store.fetch_message(&addr, &m.folder, m.uid).await {
            Ok(Some(f)) => parti.push((m.key, f.bytes)),
            Ok(None) => {}
            Err(e) => return guasto(&web, &u, e).await,
        }
    }
    let (stati, _) = web.stato(&cert.identificativo).await;
    match vista::archivio(&cert.identificativo, &parti, &stati) {
        Ok(zip) => scaricamento("prove-pec.zip", "application/zip", zip),
        Err(e) => guasto(&web, &u, e).await,
    }
}

async fn allegato(
    State(web): State<Web>,
    m: Letto,
    Path((_, _, n)): Path<(String, String, usize)>,
) -> Response {
    match vista::allegato(&m.bytes, n) {
        Some((nome, _tipo, dati)) => scaricamento(&nome, "application/octet-stream", dati),
        None => non_trovato(&web, &m.u).await,
    }
}

#[derive(Template)]
#[template(path = "scrivi.html")]
struct ScriviPagina {
    c: Cornice,
    b: Bozza,
    errore: Option<String>,
    limite_mb: usize,
    /// Forwarding: the message whose attachments go with the draft, and their names.
    origine: Option<(String, u32, Vec<String>)>,
}

/// A draft that starts from a message of the box: `?cartella=…&uid=…&modo=rispondi|inoltra`.
#[derive(Deserialize)]
struct Origine {
    cartella: Option<String>,
    uid: Option<u32>,
    modo: Option<String>,
}

async fn scrivi_pagina(State(web): State<Web>, u: Utente, Query(q): Query<Origine>) -> Response {
    let mut b = Bozza::default();
    let mut origine = None;
    if let (Some(cartella), Some(uid)) = (q.cartella, q.uid) {
        let bytes = match leggi(&web, &u, &cartella, uid).await {
            Ok(b) => b,
            Err(r) => return r,
        };
        let v = vista::vista(&bytes);
        let modo = match q.modo.as_deref() {
            Some("inoltra") => componi::Modo::Inoltra,
            _ => componi::Modo::Rispondi,
        };
        b = componi::da_messaggio(&v, modo);
        if modo == componi::Modo::Inoltra {
            let o = v.originale.as_ref().unwrap_or(&v.esterno);
            let nomi: Vec<String> = o.allegati.iter().map(|a| a.nome.clone()).collect();
            origine = Some((cartella, uid, nomi));
        }
    }
    let p = ScriviPagina {
        c: web.cornice(Some(&u), "").await,
        b,
        errore: None,
        limite_mb: web.0.limite / (1024 * 1024),
        origine,
    };
    pagina(&p)
}

async fn scrivi(State(web): State<Web>, u: Utente, mut form: Multipart) -> Response {
    let mut csrf = String::new();
    let mut b = Bozza::default();
    let (mut da_cartella, mut da_uid) = (None, None);
    loop {
        let campo = match form.next_field().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                let stato = e.status();
                let testo = match stato {
                    StatusCode::PAYLOAD_TOO_LARGE => format!(
                        "Gli allegati superano il limite di {} MB: il messaggio non è stato inviato.",
                        web.0.limite / (1024 * 1024)
                    ),
                    _ => "Il modulo inviato non è leggibile: il messaggio non è stato inviato.".into(),
                };
                return web
                    .esito(Some(&u), stato, "Messaggio non inviato", &testo)
                    .await;
            }
        };
        let nome = campo.name().unwrap_or("").to_string();
        if nome == "allegati" {
            let file = campo.file_name().unwrap_or("").to_string();
            let tipo = campo
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_string();
            let dati = match campo.bytes().await {
                Ok(d) => d,
                Err(e) => {
                    let stato = e.status();
                    let testo = format!(
                        "Gli allegati superano il limite di {} MB o il caricamento si è interrotto: il messaggio non è stato inviato.",
                        web.0.limite / (1024 * 1024)
                    );
                    return web
                        .esito(Some(&u), stato, "Messaggio non inviato", &testo)
                        .await;
                }
            };
            if !file.is_empty() || !dati.is_empty() {
                b.allegati.push(FileAllegato {
                    nome: file,
                    tipo,
                    dati: dati.to_vec(),
                });
            }
            continue;
        }
        let valore = campo.text().await.unwrap_or_default();
        match nome.as_str() {
            "csrf" => csrf = valore,
            "a" => b.a = valore,
            "cc" => b.cc = valore,
            "oggetto" => b.oggetto = valore,
            "testo" => b.testo = valore,
            "ricevuta" => b.ricevuta = valore,
            "origine_cartella" => da_cartella = Some(valore),
            "origine_uid" => da_uid = valore.parse::<u32>().ok(),
            _ => {}
        }
    }
    if !uguali(&u.sessione.csrf, &csrf) {
        return vietato(&web, &u).await;
    }
    // Forwarding: the original's attachments go with it, read from the box (never from the
    // form: a forwarded message can only carry what the user has).
    if let (Some(cartella), Some(uid)) = (da_cartella, da_uid) {
        let bytes = match leggi(&web, &u, &cartella, uid).await {
            Ok(b) => b,
            Err(r) => return r,
        };
        let mut n = 0;
        while let Some((nome, tipo, dati)) = vista::allegato(&bytes, n) {
            b.allegati.push(FileAllegato { nome, tipo, dati });
            n += 1;
        }
    }
    let casella = u.sessione.casella.clone();
    let dominio = casella
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("localhost");
    let message_id = format!("web.{}@{dominio}", &casuale()[..24]);
    let ora = web.0.gestore.clock().now();
    let (data, rcpt) = match componi::componi(&casella, &b, &message_id, ora) {
        Ok(x) => x,
        Err(e) => {
            let p = ScriviPagina {
                c: web.cornice(Some(&u), "").await,
                errore: Some(e.to_string()),
                b: Bozza {
                    allegati: Vec::new(),
                    ..b
                },
                limite_mb: web.0.limite / (1024 * 1024),
                origine: None,
            };
            return (StatusCode::UNPROCESSABLE_ENTITY, pagina(&p)).into_response();
        }
    };
    let invio = Invio {
        casella: casella.clone(),
        mail_from: casella,
        rcpt_to: rcpt,
        data,
    };
    match web.0.gestore.accesso().invia(invio).await {
        Ok(Esito::Accettato { identificativo }) => {
            let p = EsitoPagina {
                c: web.cornice(Some(&u), "").await,
                titolo: "Messaggio accettato".into(),
                testo: "Il gestore ha accettato il messaggio: la ricevuta di accettazione è nella posta in arrivo, le ricevute di consegna arriveranno lì.".into(),
                errore: false,
                identificativo: Some(identificativo),
            };
            pagina(&p)
        }
        Ok(Esito::NonAccettato {
            identificativo,
            motivo,
        }) => {
            let p = EsitoPagina {
                c: web.cornice(Some(&u), "").await,
                titolo: "Messaggio non accettato".into(),
                testo: format!(
                    "Il gestore non ha accettato il messaggio: {}. L'avviso di non accettazione è nella posta in arrivo.",
                    motivo.descrizione()
                ),
                errore: true,
                identificativo: Some(identificativo),
            };
            (StatusCode::UNPROCESSABLE_ENTITY, pagina(&p)).into_response()
        }
        Err(e) if e.scanner_giu() => {
            web.esito(
                Some(&u),
                StatusCode::SERVICE_UNAVAILABLE,
                "Messaggio non inviato",
                "Il controllo antivirus non è disponibile in questo momento: riprova tra poco.",
            )
            .await
        }
        Err(e) => guasto(&web, &u, e).await,
    }
}

#[derive(Template)]
#[template(path = "verifica.html")]
struct VerificaPagina {
    c: Cornice,
    esito: Option<(crate::firma::Firma, Vista)>,
    errore: Option<String>,
}

/// "Verifica una PEC": anyone may check a message they hold (no login, nothing stored).
async fn verifica_pagina(State(web): State<Web>) -> Response {
    let p = VerificaPagina {
        c: web.cornice(None, "").await,
        esito: None,
        errore: None,
    };
    pagina(&p)
}

async fn verifica(State(web): State<Web>, mut form: Multipart) -> Response {
    let mut bytes = None;
    loop {
        match form.next_field().await {
            Ok(Some(campo)) if campo.name() == Some("messaggio") => match campo.bytes().await {
                Ok(b) => bytes = Some(b.to_vec()),
                Err(e) => return verifica_errore(&web, e.status()).await,
            },
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => return verifica_errore(&web, e.status()).await,
        }
    }
    let Some(bytes) = bytes.filter(|b| !b.is_empty()) else {
        return verifica_errore(&web, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let (verifier, ora) = (
        web.0.gestore.indice().verifier(),
        web.0.gestore.clock().now(),
    );
    let letto = tokio::task::spawn_blocking(move || {
        let v = vista::vista(&bytes);
        (crate::firma::firma(&verifier.verify(&bytes, ora)), v)
    })
    .await;
    let p = VerificaPagina {
        c: web.cornice(None, "").await,
        esito: letto.ok(),
        errore: None,
    };
    pagina(&p)
}

async fn verifica_errore(web: &Web, stato: StatusCode) -> Response {
    let testo = match stato {
        StatusCode::PAYLOAD_TOO_LARGE => format!(
            "Il file supera il limite di {} MB.",
            web.0.limite / (1024 * 1024)
        ),
        _ => "Scegli un file .eml da verificare.".into(),
    };
    let p = VerificaPagina {
        c: web.cornice(None, "").await,
        esito: None,
        errore: Some(testo),
    };
    (stato, pagina(&p)).into_response()
}

#[derive(Template)]
#[template(path = "codice.html")]
struct CodicePagina {
    c: Cornice,
    errore: Option<String>,
}

#[derive(Deserialize)]
struct CampiCodice {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    codice: String,
}

async fn codice_pagina(State(web): State<Web>, InAttesa(u): InAttesa) -> Response {
    let mut c = web.cornice(None, "").await;
    c.csrf = u.sessione.csrf.clone();
    pagina(&CodicePagina { c, errore: None })
}

/// The second factor's code: right, and the session is complete under a new token (the
/// half-logged-in one is dropped); wrong, counted like a wrong password.
async fn codice(
    State(web): State<Web>,
    InAttesa(u): InAttesa,
    Form(f): Form<CampiCodice>,
) -> Response {
    if !uguali(&u.sessione.csrf, &f.csrf) {
        return vietato(&web, &u).await;
    }
    let caselle = web.0.gestore.caselle();
    let ora = web.0.gestore.clock().now();
    let (stato, errore) = match caselle
        .verifica_codice(&u.sessione.casella, &f.codice, u.conn.peer.ip(), ora)
        .await
    {
        Accesso::Consentito(casella) => {
            web.0.sessioni.chiudi(&u.token);
            web.annota_accesso(&casella, u.conn.peer.ip(), "password e codice");
            let (token, _) = web.0.sessioni.apri(&casella, true, Instant::now());
            let mut r = Redirect::to("/cartelle/INBOX").into_response();
            *r.status_mut() = StatusCode::SEE_OTHER;
            if let Ok(v) =
                HeaderValue::from_str(&cookie(sessione::COOKIE, &token, u.conn.https, None))
            {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            return r;
        }
        Accesso::Rifiutato => (StatusCode::UNAUTHORIZED, "Codice non valido o già usato."),
        Accesso::Bloccato(_) => (
            StatusCode::TOO_MANY_REQUESTS,
            "Troppi tentativi non riusciti: riprova più tardi.",
        ),
        Accesso::Indisponibile(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Servizio momentaneamente non disponibile: riprova tra poco.",
        ),
    };
    let mut c = web.cornice(None, "").await;
    c.csrf = u.sessione.csrf.clone();
    let p = CodicePagina {
        c,
        errore: Some(errore.into()),
    };
    (stato, pagina(&p)).into_response()
}

#[derive(Template)]
#[template(path = "sicurezza.html")]
struct SicurezzaPagina {
    c: Cornice,
    attivo: bool,
    /// Enrolment under way: the otpauth URI, the secret in groups of four, the QR code (SVG).
    iscrizione: Option<(String, String, String)>,
    accessi: Vec<(String, String, String)>,
    messaggio: Option<(bool, String)>,
}

impl Web {
    /// Records a completed login of `casella` for its "ultimi accessi" list.
    fn annota_accesso(&self, casella: &str, ip: std::net::IpAddr, come: &str) {
        let mut a = self.0.accessi.lock().unwrap_or_else(|e| e.into_inner());
        let voci = a.entry(casella.to_ascii_lowercase()).or_default();
        voci.push_front((self.0.gestore.clock().now(), ip, come.to_string()));
        voci.truncate(ULTIMI_ACCESSI);
    }

    async fn pagina_sicurezza(&self, u: &Utente, messaggio: Option<(bool, String)>) -> Response {
        let attivo = match self
            .0
            .gestore
            .caselle()
            .totp_attivo(&u.sessione.casella)
            .await
        {
            Ok(a) => a,
            Err(e) => return guasto(self, u, e).await,
        };
        let sessione = self.0.sessioni.trova(&u.token, Instant::now());
        let iscrizione = sessione.and_then(|s| s.nuovo_totp).map(|segreto| {
            let uri = pec_provider::totp::uri(&self.0.nome, &u.sessione.casella, &segreto);
            let gruppi = segreto
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            let qr = qrcode::QrCode::new(uri.as_bytes())
                .map(|q| {
                    q.render::<qrcode::render::svg::Color<'_>>()
                        .min_dimensions(200, 200)
                        .build()
                })
                .unwrap_or_default();
            (uri, gruppi, qr)
        });
        let accessi = self
            .0
            .accessi
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&u.sessione.casella)
            .map(|v| {
                v.iter()
                    .map(|(t, ip, come)| (vista::ora_italiana(*t), ip.to_string(), come.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let p = SicurezzaPagina {
            c: self.cornice(Some(u), "").await,
            attivo,
            iscrizione,
            accessi,
            messaggio,
        };
        pagina(&p)
    }
}

/// How many logins the "ultimi accessi" list keeps per box.
const ULTIMI_ACCESSI: usize = 10;

async fn sicurezza_pagina(State(web): State<Web>, u: Utente) -> Response {
    web.pagina_sicurezza(&u, None).await
}

async fn totp_nuovo(State(web): State<Web>, u: Utente, Form(f): Form<SoloCsrf>) -> Response {
    if !uguali(&u.sessione.csrf, &f.csrf) {
        return vietato(&web, &u).await;
    }
    match pec_provider::totp::nuovo_segreto() {
        Ok(s) => web.0.sessioni.nuovo_totp(&u.token, Some(s)),
        Err(e) => return guasto(&web, &u, e).await,
    }
    web.pagina_sicurezza(&u, None).await
}

/// Enrolment ends when the user types a code from the app: the secret is then stored.
async fn totp_conferma(State(web): State<Web>, u: Utente, Form(f): Form<CampiCodice>) -> Response {
    if !uguali(&u.sessione.csrf, &f.csrf) {
        return vietato(&web, &u).await;
    }
    let Some(segreto) = u.sessione.nuovo_totp.clone() else {
        return web
            .pagina_sicurezza(&u, Some((false, "Nessuna attivazione in corso.".into())))
            .await;
    };
    let ora = u64::try_from(web.0.gestore.clock().now().timestamp()).unwrap_or_default();
    if pec_provider::totp::verifica(&segreto, &f.codice, ora, None).is_none() {
        let m = "Il codice non corrisponde: controlla l'ora del telefono e riprova.";
        return web.pagina_sicurezza(&u, Some((false, m.into()))).await;
    }
    if let Err(e) = web
        .0
        .gestore
        .caselle()
        .imposta_totp(&u.sessione.casella, Some(segreto))
        .await
    {
        return guasto(&web, &u, e).await;
    }
    web.0.sessioni.nuovo_totp(&u.token, None);
    let m = "Verifica in due passaggi attiva: dal prossimo accesso la webmail chiederà il codice.";
    web.pagina_sicurezza(&u, Some((true, m.into()))).await
}

/// Turning it off takes a current code (a stolen session alone cannot).
async fn totp_disattiva(State(web): State<Web>, u: Utente, Form(f): Form<CampiCodice>) -> Response {
    if !uguali(&u.sessione.csrf, &f.csrf) {
        return vietato(&web, &u).await;
    }
    let caselle = web.0.gestore.caselle();
    let ora = web.0.gestore.clock().now();
    match caselle
        .verifica_codice(&u.sessione.casella, &f.codice, u.conn.peer.ip(), ora)
        .await
    {
        Accesso::Consentito(_) => {
            if let Err(e) = caselle.imposta_totp(&u.sessione.casella, None).await {
                return guasto(&web, &u, e).await;
            }
            web.pagina_sicurezza(
                &u,
                Some((true, "Verifica in due passaggi disattivata.".into())),
            )
            .await
        }
        _ => {
            let m = "Codice non valido: la verifica in due passaggi resta attiva.";
            web.pagina_sicurezza(&u, Some((false, m.into()))).await
        }
    }
}

async fn css() -> Response {
    let mut r = include_str!("../static/gestore.css").into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=3600"),
    );
    r
}
