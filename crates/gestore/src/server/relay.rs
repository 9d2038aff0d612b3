//! Sending to other providers (PEC-SPEC §2.2, §9.2): our envelopes to their receiving points,
//! and the receipts we owe them (presa in carico, consegna) to their users and service boxes.
//!
//! One `relay` queue item per message and recipient. A step finds the route (`route.rs`),
//! reuses an open connection to that host or opens one (STARTTLS required towards PEC
//! domains, opportunistic towards ordinary mail), and sends. Then, in one transaction:
//! * accepted: the item is done (log `busta-inoltrata`);
//! * refused for good (5xx, unknown domain): for an envelope, our avviso di mancata
//!   consegna to the sender and the recipient's 12 h / 24 h checks cancelled;
//! * anything else (4xx, peer down, timeout, dropped connection): retried with backoff until
//!   24 h after acceptance (PEC-SPEC §2.3: 24 h maximum idleness), then given up; the 24 h
//!   notice tells the sender.
//!
//! Sends are not grouped: one SMTP transaction per recipient, so each gets its own outcome
//! (and its own presa in carico from the peer, which the rules allow: "one or more").

use super::route::{RouteError, Router};
use super::submit::{log_all, put, tracing_line};
use super::{address, Gestore};
use anyhow::{Context, Result};
use pec_core::builder::Scadenza;
use pec_core::builder::{avviso_mancata_consegna, CausaMancataConsegna, DatiMessaggio};
use pec_core::consegna::BustaRicevuta;
use pec_core::inoltro::{self, RifiutoRemoto};
use pec_core::registro::{Evento, TipoEvento};
use pec_core::scadenze;
use pec_core::{Emissione, RiferimentoTemporale};
use pec_smtp::relay::{self as client, Connection, RcptOutcome, Timeouts, TlsPolicy};
use pec_store::{Batch, NewQueueItem, Operation, QueueItem, Store};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Queue kind of a message waiting to be sent to another provider.
pub const RELAY: &str = "relay";
/// Queue kind of a 12 h / 24 h check (PEC-SPEC §4.9).
pub const SCADENZA: &str = "scadenza";

/// An open connection is reused for this long after its last message.
const IDLE_MAX: Duration = Duration::from_secs(20);
/// Idle connections kept per host.
const IDLE_PER_HOST: usize = 32;

/// The first line of a relay item's payload; the message's bytes follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inoltro {
    /// RCPT TO.
    pub recipient: String,
    /// MAIL FROM: the original sender for an envelope (PEC-SPEC §4.1: same routing data as
    /// the original), our service address for receipts.
    pub mail_from: String,
    /// The PEC msgid the message is about.
    pub identificativo: String,
    /// A busta di trasporto (a refusal becomes an avviso di mancata consegna) rather than a
    /// receipt (no PEC notice is ever sent about a receipt).
    pub busta: bool,
    /// When the message was accepted, in Unix milliseconds: retries stop 24 h later.
    pub accepted_ms: i64,
    /// For an envelope: the access point's `busta-emessa` event, the model of the relay's
    /// own log events (same message data), so a send is logged without parsing the envelope
    /// again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modello: Option<Evento>,
}

impl Inoltro {
    /// Queue payload: the JSON line, then the bytes as they are.
    pub fn payload(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        let mut out = serde_json::to_vec(self)?;
        out.reserve(bytes.len() + 1);
        out.push(b'\n');
        out.extend_from_slice(bytes);
        Ok(out)
    }

    /// The inverse of [`Inoltro::payload`].
    pub fn from_payload(payload: &[u8]) -> Result<(Self, &[u8])> {
        let nl = memchr(payload).context("relay payload without header line")?;
        Ok((serde_json::from_slice(&payload[..nl])?, &payload[nl + 1..]))
    }

    /// The queue item sending `bytes`. `what` tells receipts about the same message apart
    /// (`consegna:<recipient>`, `presa:<recipients>`); envelopes pass `None`. Keys do not
    /// depend on the bytes, so a replayed envelope, whose receipts are built anew, queues
    /// nothing twice.
    pub fn item(
        &self,
        bytes: &[u8],
        due: chrono::DateTime<chrono::Utc>,
        what: Option<&str>,
    ) -> Result<Operation> {
        let key = match what {
            None => format!("relay:{}:{}", self.identificativo, self.recipient),
            Some(w) => format!("relay:{}:{w}:{}", self.identificativo, self.recipient),
        };
        Ok(Operation::Enqueue(NewQueueItem {
            key,
            kind: RELAY.into(),
            payload: self.payload(bytes)?,
            due,
        }))
    }
}

/// A short stable digest of a list of addresses, for keys.
pub fn digest_of(items: &[String]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for i in items {
        h.update(i.to_ascii_lowercase().as_bytes());
        h.update(b"\n");
    }
    hex8(&h.finalize())
}

/// The first line of a 12 h / 24 h check's payload; the envelope's daticert.xml follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Controllo {
    /// The certified recipient the check is about.
    pub recipient: String,
    /// Where the notice goes: the original sender.
    pub sender: String,
    /// The envelope's PEC msgid.
    pub identificativo: String,
    /// Which check.
    pub scadenza: Scadenza,
}

impl Controllo {
    /// A check's payload: this header line, and the envelope's daticert.xml after it.
    pub fn from_payload(payload: &[u8]) -> Result<(Self, &[u8])> {
        let nl = memchr(payload).context("check payload without header line")?;
        let head = serde_json::from_slice(&payload[..nl]).context("check payload")?;
        Ok((head, &payload[nl + 1..]))
    }
}

/// Key of the check `s` for one recipient of one envelope.
pub fn scadenza_key(s: Scadenza, identificativo: &str, recipient: &str) -> String {
    let s = match s {
        Scadenza::Ore12 => "12h",
        Scadenza::Ore24 => "24h",
    };
    format!("scadenza:{s}:{identificativo}:{recipient}")
}

/// The two checks of a certified remote recipient, due from `inviato` (PEC-SPEC §4.9).
pub fn controlli(
    recipient: &str,
    sender: &str,
    identificativo: &str,
    daticert_xml: &[u8],
    inviato: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<Operation>> {
    let mut ops = Vec::with_capacity(2);
    for (scadenza, due) in scadenze::scadenze(inviato) {
        let head = Controllo {
            recipient: recipient.to_string(),
            sender: sender.to_string(),
            identificativo: identificativo.to_string(),
            scadenza,
        };
        let mut payload = serde_json::to_vec(&head)?;
        payload.push(b'\n');
        payload.extend_from_slice(daticert_xml);
        ops.push(Operation::Enqueue(NewQueueItem {
            key: scadenza_key(scadenza, identificativo, recipient),
            kind: SCADENZA.into(),
            payload,
            due,
        }));
    }
    Ok(ops)
}

fn memchr(b: &[u8]) -> Option<usize> {
    b.iter().position(|c| *c == b'\n')
}

/// A short stable tag of some bytes (the first 8 bytes of their SHA-256, hex), for keys.
pub(super) fn tag_of(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex8(&sha2::Sha256::digest(bytes))
}

fn hex8(h: &[u8]) -> String {
    h.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// What became of one send.
#[derive(Debug)]
enum Esito {
    Accettato,
    Permanente(RifiutoRemoto),
    Temporaneo(String),
}

/// The SMTP client side: routes, TLS trust and open connections.
pub struct Relay {
    router: Router,
    tls: Arc<rustls::ClientConfig>,
    timeouts: Timeouts,
    helo: String,
    idle: Mutex<HashMap<SocketAddr, Vec<(Connection, Instant)>>>,
}

impl Relay {
    /// From the configuration: static routes, MX, extra TLS roots, timeouts.
    pub fn new(config: &crate::config::Config) -> Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for path in &config.relay.tls_roots {
            use rustls_pki_types::pem::PemObject;
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read relay TLS root {}", path.display()))?;
            for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.with_context(|| format!("{}: not PEM", path.display()))?;
                roots
                    .add(cert)
                    .with_context(|| format!("{}: unusable certificate", path.display()))?;
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Relay {
            router: Router::new(config.relay.clone()),
            tls: Arc::new(tls),
            timeouts: Timeouts::uniform(config.relay.timeout),
            helo: config
                .tls_hostnames
                .first()
                .cloned()
                .unwrap_or_else(|| "localhost".into()),
            idle: Mutex::new(HashMap::new()),
        })
    }

    /// Sends `bytes` to one recipient: every host of the route in turn until one answers.
    async fn send(&self, certified: bool, mail_from: &str, rcpt: &str, bytes: &[u8]) -> Esito {
        let domain = rcpt.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
        let hops = match self.router.hops(domain).await {
            Ok(h) => h,
            Err(RouteError::Permanent(perche)) => {
                return Esito::Permanente(RifiutoRemoto::Dominio {
                    dominio: domain.to_ascii_lowercase(),
                    perche,
                })
            }
            Err(RouteError::Temporary(e)) => return Esito::Temporaneo(e),
        };
        let mut last = String::from("no host answered");
        let rcpts = [rcpt.to_string()];
        for hop in hops {
            let Ok(name) = rustls_pki_types::ServerName::try_from(hop.host.clone()) else {
                last = format!("{}: not a usable TLS server name", hop.host);
                continue;
            };
            for addr in hop.addrs {
                // A pooled connection may have been closed by the peer meanwhile: one more
                // try on a fresh connection does not count as an attempt.
                for pooled in [true, false] {
                    let mut conn = match pooled.then(|| self.take(addr)).flatten() {
                        Some(c) => c,
                        None if pooled => continue,
                        None => {
                            let policy = if certified {
                                TlsPolicy::Required(self.tls.clone(), name.clone())
                            } else {
                                TlsPolicy::Opportunistic(self.tls.clone(), name.clone())
                            };
                            match client::connect(addr, &self.helo, policy, self.timeouts.clone())
                                .await
                            {
                                Ok(c) => c,
                                Err(e) => {
                                    last = format!("{} ({addr}): {e}", hop.host);
                                    break;
                                }
                            }
                        }
                    };
                    match conn.send(mail_from, &rcpts, bytes).await {
                        Ok(outcomes) => {
                            self.give_back(addr, conn);
                            return match outcomes.into_iter().next() {
                                Some(RcptOutcome::Accepted) => Esito::Accettato,
                                Some(RcptOutcome::Permanent {
                                    code,
                                    enhanced,
                                    text,
                                }) => Esito::Permanente(RifiutoRemoto::Risposta {
                                    codice: code,
                                    enhanced,
                                    testo: text,
                                }),
                                Some(RcptOutcome::Temporary { code, text, .. }) => {
                                    Esito::Temporaneo(format!("{} said {code} {text}", hop.host))
                                }
                                None => Esito::Temporaneo("no outcome".into()),
                            };
                        }
                        Err(e) => last = format!("{} ({addr}): {e}", hop.host),
                    }
                }
            }
        }
        Esito::Temporaneo(last)
    }

    fn take(&self, addr: SocketAddr) -> Option<Connection> {
        let mut idle = self.idle.lock().ok()?;
        let list = idle.get_mut(&addr)?;
        while let Some((c, since)) = list.pop() {
            if since.elapsed() < IDLE_MAX {
                return Some(c);
            }
        }
        None
    }

    fn give_back(&self, addr: SocketAddr, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            let list = idle.entry(addr).or_default();
            list.retain(|(_, since)| since.elapsed() < IDLE_MAX);
            if list.len() < IDLE_PER_HOST {
                list.push((conn, Instant::now()));
            }
        }
    }
}

impl Gestore {
    /// One relay item: send, then commit what the outcome means. `Err` retries with backoff.
    pub(super) async fn inoltra(&self, item: &QueueItem) -> Result<()> {
        let (head, bytes) = Inoltro::from_payload(&item.payload).context("relay payload")?;
        let certified =
            self.classifica(&head.recipient) == pec_core::daticert::TipoDestinatario::Certificato;
        let esito = self
            .relay
            .send(certified, &head.mail_from, &head.recipient, bytes)
            .await;
        let now = self.clock.now();
        let mut batch = Batch::new();
        match esito {
            Esito::Accettato => {
                if head.busta {
                    let gestore = self
                        .directory
                        .indice()
                        .per_indirizzo(&head.recipient)
                        .map(|g| g.nome().to_string());
                    let evento = TipoEvento::BustaInoltrata {
                        destinatario: head.recipient.clone(),
                        gestore,
                    };
                    self.log_busta(&mut batch, &head, bytes, evento, now)?;
                }
            }
            Esito::Permanente(rifiuto) => {
                tracing_line(&format!("{}: refused for good: {rifiuto:?}", item.key));
                if head.busta {
                    self.rifiutata(&mut batch, &head, bytes, &rifiuto, now)
                        .await?;
                }
            }
            Esito::Temporaneo(reason) => {
                let accepted =
                    chrono::DateTime::from_timestamp_millis(head.accepted_ms).unwrap_or(now);
                if now - accepted < chrono::Duration::hours(24) {
                    anyhow::bail!("{reason}");
                }
                // PEC-SPEC §2.3: 24 h maximum idleness; the 24 h notice told the sender.
                tracing_line(&format!("{}: given up after 24 h: {reason}", item.key));
                if head.busta {
                    let evento = TipoEvento::InoltroFallito {
                        destinatario: head.recipient.clone(),
                        errore: reason.clone(),
                    };
                    self.log_busta(&mut batch, &head, bytes, evento, now)?;
                }
                batch.push(Operation::FailQueueItem {
                    key: item.key.clone(),
                    error: reason,
                });
                self.store.commit(batch).await?;
                return Ok(());
            }
        }
        batch.push(Operation::CompleteQueueItem {
            key: item.key.clone(),
        });
        self.store.commit(batch).await?;
        Ok(())
    }

    /// Logs an event about our own envelope `bytes`: from the item's model event when it has
    /// one, else from the envelope read again.
    fn log_busta(
        &self,
        batch: &mut Batch,
        head: &Inoltro,
        bytes: &[u8],
        evento: TipoEvento,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let data = RiferimentoTemporale::from_utc(now);
        let e = match &head.modello {
            Some(m) => Evento {
                data,
                evento,
                generati: Vec::new(),
                ..m.clone()
            },
            None => {
                let letta = BustaRicevuta::leggi(bytes).context("our own envelope")?;
                let dati = DatiMessaggio::da_daticert(&letta.daticert);
                Evento::di(evento, data, &dati, &self.provider.nome, Vec::new())
            }
        };
        log_all(batch, std::slice::from_ref(&e), &e.mittente);
        self.announce(std::slice::from_ref(&e));
        Ok(())
    }

    /// An envelope the recipient's side refused for good: our avviso di mancata consegna to
    /// the sender (PEC-SPEC §4.8), and no more 12 h / 24 h checks for that recipient.
    async fn rifiutata(
        &self,
        batch: &mut Batch,
        head: &Inoltro,
        bytes: &[u8],
        rifiuto: &RifiutoRemoto,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let letta = BustaRicevuta::leggi(bytes).context("our own envelope")?;
        let dati = DatiMessaggio::da_daticert(&letta.daticert);
        // PEC-SPEC §4.8: the cause and an Italian reason, in pec-core.
        let (causa, testo) = inoltro::mancata_consegna(rifiuto, &self.provider.nome);
        let text = testo.as_str();
        let id = self.ids.next(now);
        let e = Emissione {
            provider: &self.provider,
            data: RiferimentoTemporale::from_utc(now),
            message_id: &id,
        };
        let avviso = avviso_mancata_consegna(&e, &dati, &head.recipient, causa, text)
            .context("avviso di mancata consegna")?;
        let signed = self.sign_one(avviso).await?;
        if self.config.is_local(&dati.mittente) {
            let sender = address(&dati.mittente)?;
            batch.push(put(
                &sender,
                "INBOX",
                format!(
                    "box:{sender}:{}:mancata-consegna:{}",
                    head.identificativo, head.recipient
                ),
                signed,
                now,
            ));
        }
        self.annulla(
            batch,
            &head.identificativo,
            &head.recipient,
            &[Scadenza::Ore12, Scadenza::Ore24],
        )
        .await?;
        let evento = TipoEvento::MancataConsegnaEmessa {
            errore: match causa {
                CausaMancataConsegna::NoDest => pec_core::daticert::Errore::NoDest,
                CausaMancataConsegna::NoDominio => pec_core::daticert::Errore::NoDominio,
                CausaMancataConsegna::Altro => pec_core::daticert::Errore::Altro,
            },
            errore_esteso: text.to_string(),
            destinatario: head.recipient.clone(),
        };
        let ev = Evento::di(evento, e.data, &dati, &self.provider.nome, vec![id.clone()]);
        log_all(batch, std::slice::from_ref(&ev), &dati.mittente);
        self.announce(std::slice::from_ref(&ev));
        Ok(())
    }

    /// Cancels the checks `which` of one recipient of one of our envelopes, where they are
    /// still scheduled.
    pub(super) async fn annulla(
        &self,
        batch: &mut Batch,
        identificativo: &str,
        recipient: &str,
        which: &[Scadenza],
    ) -> Result<()> {
        for s in which {
            let key = scadenza_key(*s, identificativo, &recipient.to_ascii_lowercase());
            let Some(item) = self.store.queue_item(&key).await? else {
                continue;
            };
            if item.status == pec_store::QueueStatus::Scheduled {
                batch.push(Operation::CompleteQueueItem { key });
            }
        }
        Ok(())
    }

    /// A 12 h / 24 h check came due and was not cancelled: the notice to the sender
    /// (PEC-SPEC §4.9). After the 24 h one we stop trying to relay that envelope.
    pub(super) async fn controlla(&self, item: &QueueItem) -> Result<()> {
        let (head, xml) = Controllo::from_payload(&item.payload)?;
        let daticert =
            pec_core::daticert::Daticert::from_xml(xml).context("the envelope's daticert")?;
        let dati = DatiMessaggio::da_daticert(&daticert);
        let now = self.clock.now();
        let id = self.ids.next(now);
        let e = Emissione {
            provider: &self.provider,
            data: RiferimentoTemporale::from_utc(now),
            message_id: &id,
        };
        let avviso = scadenze::avviso(head.scadenza, &e, &dati, &head.recipient)
            .context("the 12 h / 24 h notice")?;
        let evento = scadenze::evento(head.scadenza, &e, &dati, &head.recipient);
        let signed = self.sign_one(avviso).await?;
        let sender = address(&head.sender)?;
        let mut batch = Batch::new();
        batch.push(put(
            &sender,
            "INBOX",
            format!("{}:{}", item.key.replacen("scadenza:", "box:", 1), sender),
            signed,
            now,
        ));
        if head.scadenza == Scadenza::Ore24 {
            let relay = format!("relay:{}:{}", head.identificativo, head.recipient);
            if let Some(r) = self.store.queue_item(&relay).await? {
                if r.status == pec_store::QueueStatus::Scheduled {
                    batch.push(Operation::FailQueueItem {
                        key: relay,
                        error: "24 h without delivery (PEC-SPEC §4.9)".into(),
                    });
                }
            }
        }
        batch.push(Operation::CompleteQueueItem {
            key: item.key.clone(),
        });
        log_all(&mut batch, std::slice::from_ref(&evento), &head.sender);
        self.commit_announcing(batch, &[std::slice::from_ref(&evento)])
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_payload_round_trips() {
        let h = Inoltro {
            recipient: "a@pec.b.test".into(),
            mail_from: "m@pec.a.test".into(),
            identificativo: "id@pec.a.test".into(),
            busta: true,
            accepted_ms: 1_700_000_000_000,
            modello: None,
        };
        let p = h.payload(b"X: y\r\n\r\nbody\n\x00").unwrap();
        let (back, bytes) = Inoltro::from_payload(&p).unwrap();
        assert_eq!(back, h);
        assert_eq!(bytes, b"X: y\r\n\r\nbody\n\x00");
        assert!(Inoltro::from_payload(b"nothing").is_err());
    }

    #[test]
    fn checks_are_due_at_12_and_23_30_hours() {
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let ops = controlli("r@pec.b.test", "s@pec.a.test", "id@a", b"<x/>", t).unwrap();
        let dues: Vec<_> = ops
            .iter()
            .map(|o| match o {
                Operation::Enqueue(q) => (q.key.clone(), (q.due - t).num_minutes()),
                _ => panic!("not an enqueue"),
            })
            .collect();
        assert_eq!(
            dues,
            vec![
                ("scadenza:12h:id@a:r@pec.b.test".to_string(), 12 * 60),
                ("scadenza:24h:id@a:r@pec.b.test".to_string(), 23 * 60 + 30),
            ]
        );
    }
}
