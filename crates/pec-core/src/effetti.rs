//! Effects as data: what a decision asks the provider to do (sign these messages, store that
//! in this box, queue this typed item, close that check, log these events), built here from
//! the points' outcomes and carried out by pec-provider in one transaction.
//!
//! The points decide *what* (`accesso`, `consegna`, `ricezione`, `inoltro`, `scadenze`,
//! `virus`); the builders below decide *where it goes*: which box and folder, which queue
//! item with which key, which checks close. Everything a rule needs besides the outcome comes
//! in as [`Instradamento`] (which addresses are ours, our service box, the time), so the
//! routing is unit-tested without a store.
//!
//! Signed content is referred to by position ([`Contenuto::Firmato`]): the executor signs
//! [`Decisione::da_firmare`] once, in one task, and hands each effect the bytes it names.
//! Keys ([`Chiave`]) make a replay store, queue and log nothing twice.

mod accesso;
mod consegna;
mod inoltro;
mod ricezione;
mod scadenze;

pub use accesso::{accettata, non_accettata, Accettata};
pub use consegna::{consegna, Busta};
pub use inoltro::{inoltro, EsitoInoltro};
pub use ricezione::{ricezione, Arrivato};
pub use scadenze::{avviso_scadenza, controlli};

use crate::chiave::{Chiave, Cosa};
use crate::lavoro::{Compito, Spedizione};
use crate::registro::Evento;
use crate::UnsignedMessage;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// Why effects could not be built from an outcome.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EffettiError {
    /// A delivery receipt or notice, or an envelope read again.
    #[error(transparent)]
    Consegna(#[from] crate::consegna::ConsegnaError),
    /// A notice could not be built.
    #[error(transparent)]
    Costruzione(#[from] crate::builder::BuildError),
    /// Our own daticert could not be written.
    #[error("daticert: {0}")]
    Scrittura(#[from] crate::daticert::WriteError),
    /// A kept daticert could not be read.
    #[error("daticert: {0}")]
    Lettura(#[from] crate::daticert::ReadError),
    /// The avviso di mancata consegna per virus.
    #[error(transparent)]
    Virus(#[from] crate::virus::VirusError),
    /// A receipt must be placed (is it about one of our envelopes?) before its effects.
    #[error("a receipt to place has no effects yet")]
    DaSmistare,
}

/// What the rules need to know about the provider to route an outcome.
#[derive(Clone, Copy)]
pub struct Instradamento<'a> {
    /// Whether an address is one of our domains' (a box here, or one that may not exist).
    pub locale: &'a dyn Fn(&str) -> bool,
    /// Our service box: the sender of our receipts to other providers, the quarantine's box.
    pub servizio: &'a str,
    /// The transaction's time.
    pub ora: DateTime<Utc>,
}

/// Bytes an effect stores or sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contenuto {
    /// The message at this position of [`Decisione::da_firmare`], once signed.
    Firmato(usize),
    /// Bytes as they are: an envelope as received, an original for the quarantine.
    Dati(Arc<[u8]>),
}

/// A folder the rules put messages in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cartella {
    /// Where mail and receipts arrive.
    Inbox,
    /// The sender's copy of what it sent.
    Inviata,
    /// The service box's folder of infected messages (DPR 68/2005 art. 12).
    Quarantena,
}

impl Cartella {
    /// The folder's name in the store (and over IMAP).
    pub const fn nome(self) -> &'static str {
        match self {
            Cartella::Inbox => "INBOX",
            Cartella::Inviata => "Sent",
            Cartella::Quarantena => "Quarantena",
        }
    }
}

/// When a box takes a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ammissione {
    /// Whatever its state and quota: receipts the rules require, the sender's own copy.
    Forzata,
    /// A delivery, presuming the box active: if it is unknown, disabled or full, the whole
    /// plan is refused (see [`Decisione::altrimenti`]).
    Consegna,
    /// Only if the box exists and is enabled, skipped otherwise: what is not a transport
    /// envelope gets no notice when it cannot be delivered (PEC-SPEC §2.3).
    SeAttiva,
}

/// One effect of a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effetto {
    /// Store a message in a box.
    Deposita {
        /// The box, lower case.
        casella: String,
        /// The folder.
        cartella: Cartella,
        /// Stored once under this key.
        chiave: Chiave,
        /// What.
        contenuto: Contenuto,
        /// Whether the box's state counts.
        ammissione: Ammissione,
    },
    /// Queue work for later, once under its key.
    Accoda {
        /// The item's key.
        chiave: Chiave,
        /// What to do.
        compito: Compito,
        /// The bytes it carries.
        contenuto: Contenuto,
        /// Not before.
        quando: DateTime<Utc>,
    },
    /// Close a queue item if it is still scheduled (a check a receipt answered).
    Chiudi {
        /// The item's key.
        chiave: Chiave,
    },
    /// Give a queue item up if it is still scheduled (the relay of an envelope after 24 h).
    Abbandona {
        /// The item's key.
        chiave: Chiave,
        /// Why, recorded on the item.
        motivo: String,
    },
    /// Append events to the legal log (PEC-SPEC §8).
    Registra {
        /// The events, in order.
        eventi: Vec<Evento>,
        /// The original sender to find them by.
        mittente: String,
    },
}

/// Effects applied together, all or nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Piano {
    /// Applied at most once: a replay changes nothing (for plans that log and may come again).
    pub una_volta: Option<Chiave>,
    /// In order.
    pub effetti: Vec<Effetto>,
    /// Delivery steps it completes (a receipt or notice per recipient): the bench's finish
    /// line.
    pub consegne: usize,
    /// Final receipts from other providers it files (their 24 h checks closed).
    pub chiusi_remoti: usize,
}

impl Piano {
    /// An empty plan, applied at most once under `una_volta` when given.
    pub fn new(una_volta: Option<Chiave>) -> Self {
        Self {
            una_volta,
            ..Self::default()
        }
    }

    /// Stores `contenuto` in a folder of `casella`.
    pub fn deposita(
        &mut self,
        casella: &str,
        cartella: Cartella,
        chiave: Chiave,
        contenuto: Contenuto,
        ammissione: Ammissione,
    ) {
        self.effetti.push(Effetto::Deposita {
            casella: casella.to_ascii_lowercase(),
            cartella,
            chiave,
            contenuto,
            ammissione,
        });
    }

    /// Queues `compito` under `chiave`.
    pub fn accoda(
        &mut self,
        chiave: Chiave,
        compito: Compito,
        contenuto: Contenuto,
        quando: DateTime<Utc>,
    ) {
        self.effetti.push(Effetto::Accoda {
            chiave,
            compito,
            contenuto,
            quando,
        });
    }

    /// Logs `eventi` (nothing when empty).
    pub fn registra(&mut self, eventi: &[Evento], mittente: &str) {
        if !eventi.is_empty() {
            self.effetti.push(Effetto::Registra {
                eventi: eventi.to_vec(),
                mittente: mittente.to_ascii_lowercase(),
            });
        }
    }

    /// The events it logs, in order.
    pub fn eventi(&self) -> impl Iterator<Item = &Evento> {
        self.effetti.iter().flat_map(|e| match e {
            Effetto::Registra { eventi, .. } => eventi.as_slice(),
            _ => &[],
        })
    }

    /// Whether it queues anything (the worker should look).
    pub fn accoda_lavoro(&self) -> bool {
        self.effetti
            .iter()
            .any(|e| matches!(e, Effetto::Accoda { .. }))
    }

    /// One of our receipts about `identificativo` to whoever must have it: into the box when
    /// the address is ours, else on its way to the other provider over SMTP (PEC-SPEC §4.7),
    /// from our service box. `cosa` keeps receipts about the same message apart.
    pub fn ricevuta_verso(
        &mut self,
        r: &Instradamento<'_>,
        destinatario: &str,
        identificativo: &str,
        cosa: Cosa,
        contenuto: Contenuto,
    ) {
        let destinatario = destinatario.to_ascii_lowercase();
        if (r.locale)(&destinatario) {
            let chiave = Chiave::Casella {
                casella: destinatario.clone(),
                identificativo: identificativo.to_string(),
                cosa,
            };
            self.deposita(
                &destinatario,
                Cartella::Inbox,
                chiave,
                contenuto,
                Ammissione::Forzata,
            );
            return;
        }
        let spedizione = Spedizione {
            destinatario,
            mail_from: r.servizio.to_string(),
            identificativo: identificativo.to_string(),
            busta: false,
            accepted_ms: r.ora.timestamp_millis(),
            modello: None,
        };
        self.inoltra(spedizione, Some(cosa), contenuto, r.ora);
    }

    /// Queues a send to another provider. `cosa` tells receipts about the same message apart;
    /// envelopes pass `None`. Keys do not depend on the bytes, so a replayed envelope, whose
    /// receipts are built anew, queues nothing twice.
    pub fn inoltra(
        &mut self,
        spedizione: Spedizione,
        cosa: Option<Cosa>,
        contenuto: Contenuto,
        quando: DateTime<Utc>,
    ) {
        let chiave = Chiave::Inoltro {
            identificativo: spedizione.identificativo.clone(),
            destinatario: spedizione.destinatario.clone(),
            cosa,
        };
        self.accoda(chiave, Compito::Inoltro(spedizione), contenuto, quando);
    }

    /// A message to one of our senders' INBOX, stored whatever the box's state (the rules
    /// require receipts to reach the sender).
    pub fn al_mittente(
        &mut self,
        mittente: &str,
        identificativo: &str,
        cosa: Cosa,
        contenuto: Contenuto,
    ) {
        let chiave = Chiave::Casella {
            casella: mittente.to_ascii_lowercase(),
            identificativo: identificativo.to_string(),
            cosa,
        };
        self.deposita(
            mittente,
            Cartella::Inbox,
            chiave,
            contenuto,
            Ammissione::Forzata,
        );
    }

    /// The quarantine copy of an infected message in our service box, kept once per content
    /// (PEC-SPEC §9.3).
    pub fn quarantena(&mut self, r: &Instradamento<'_>, originale: Arc<[u8]>) {
        let chiave = Chiave::Quarantena(crate::chiave::sha256(&originale));
        self.deposita(
            r.servizio,
            Cartella::Quarantena,
            chiave,
            Contenuto::Dati(originale),
            Ammissione::Forzata,
        );
    }
}

/// A decision's effects: the messages to sign, the plan, and what to do instead when a box
/// presumed active refuses a delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decisione {
    /// Signed once, before either plan; [`Contenuto::Firmato`] names them by position.
    pub da_firmare: Vec<UnsignedMessage>,
    /// Applied first.
    pub piano: Piano,
    /// Applied instead when [`Piano`]'s delivery to a box presumed active is refused (unknown,
    /// disabled, full): the same signed messages, the deliveries queued so each recipient
    /// gets its own answer. `None`: the refusal goes back to the caller, which decides again
    /// with the box's real state.
    pub altrimenti: Option<Piano>,
}

impl Decisione {
    /// A decision with an empty plan, applied at most once under `una_volta` when given.
    pub fn new(una_volta: Option<Chiave>) -> Self {
        Self {
            da_firmare: Vec::new(),
            piano: Piano::new(una_volta),
            altrimenti: None,
        }
    }

    /// Adds a message to sign; its future signed bytes.
    pub fn firma(&mut self, m: UnsignedMessage) -> Contenuto {
        self.da_firmare.push(m);
        Contenuto::Firmato(self.da_firmare.len() - 1)
    }
}

#[cfg(test)]
pub(crate) mod prova {
    //! Helpers for the builders' tests.
    use super::*;

    /// Our domain is `pec.a.test`, the service box `posta-certificata@pec.a.test`.
    pub fn locale(a: &str) -> bool {
        a.to_ascii_lowercase().ends_with("@pec.a.test")
    }

    /// Routing at a fixed time.
    pub fn instradamento() -> Instradamento<'static> {
        Instradamento {
            locale: &locale,
            servizio: "posta-certificata@pec.a.test",
            ora: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        }
    }

    /// The (box, folder, key) of each deposit, in order.
    pub fn depositi(p: &Piano) -> Vec<(String, &'static str, String)> {
        p.effetti
            .iter()
            .filter_map(|e| match e {
                Effetto::Deposita {
                    casella,
                    cartella,
                    chiave,
                    ..
                } => Some((casella.clone(), cartella.nome(), chiave.to_string())),
                _ => None,
            })
            .collect()
    }

    /// The key of each queued item, in order.
    pub fn accodati(p: &Piano) -> Vec<String> {
        p.effetti
            .iter()
            .filter_map(|e| match e {
                Effetto::Accoda { chiave, .. } => Some(chiave.to_string()),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::prova::*;
    use super::*;

    #[test]
    fn a_receipt_goes_into_a_local_box_or_back_over_smtp_from_the_service_box() {
        let r = instradamento();
        let mut p = Piano::new(None);
        let c = Contenuto::Firmato(0);
        p.ricevuta_verso(
            &r,
            "Alice@PEC.a.test",
            "id@x",
            Cosa::Consegna("b@pec.a.test".into()),
            c.clone(),
        );
        p.ricevuta_verso(
            &r,
            "bob@pec.b.test",
            "id@x",
            Cosa::Consegna("c@pec.a.test".into()),
            c,
        );
        assert_eq!(
            depositi(&p),
            vec![(
                "alice@pec.a.test".to_string(),
                "INBOX",
                "box:alice@pec.a.test:id@x:consegna:b@pec.a.test".to_string()
            )]
        );
        assert_eq!(
            accodati(&p),
            vec!["relay:id@x:consegna:c@pec.a.test:bob@pec.b.test".to_string()]
        );
        let Some(Effetto::Accoda {
            compito: Compito::Inoltro(s),
            quando,
            ..
        }) = p.effetti.last()
        else {
            panic!("{p:?}")
        };
        assert_eq!(s.mail_from, "posta-certificata@pec.a.test");
        assert!(!s.busta);
        assert_eq!(*quando, r.ora);
        assert!(p.accoda_lavoro());
    }

    #[test]
    fn signed_content_is_named_by_position_and_quarantine_by_hash() {
        let mut d = Decisione::new(None);
        let m = UnsignedMessage {
            headers: Vec::new(),
            content: b"x".to_vec(),
        };
        assert_eq!(d.firma(m.clone()), Contenuto::Firmato(0));
        assert_eq!(d.firma(m), Contenuto::Firmato(1));
        d.piano
            .quarantena(&instradamento(), Arc::from(&b"virus"[..]));
        let q = depositi(&d.piano);
        assert_eq!(q[0].0, "posta-certificata@pec.a.test");
        assert_eq!(q[0].1, "Quarantena");
        assert_eq!(
            q[0].2,
            Chiave::Quarantena(crate::chiave::sha256(b"virus")).to_string()
        );
        assert!(!d.piano.accoda_lavoro());
    }
}

#[cfg(test)]
mod tests_punti;
