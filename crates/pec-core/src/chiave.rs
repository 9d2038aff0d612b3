//! Idempotency keys: one type for every key a decision's effects carry.
//!
//! Every message put into a box, every queue item and every arrival handled once is keyed by
//! what it is about (the PEC msgid, the box, the recipient, the kind), never by when it was
//! made: a step replayed after a crash, or an envelope a peer sends twice, stores nothing
//! twice because the store refuses a key it holds already.
//!
//! The text of each key is the format the store has always held (a provider upgraded with
//! items in flight must recognise the keys it wrote before), so [`Chiave`]'s `Display` is the
//! only place those strings are written, and its tests pin them.

use crate::builder::Scadenza;
use crate::MessageKind;
use sha2::Digest;
use std::fmt;

/// What a message stored in a box, or a receipt on its way to another provider, is, besides
/// the envelope it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cosa {
    /// Our ricevuta di accettazione.
    Accettazione,
    /// Our avviso di non accettazione (formal exceptions).
    NonAccettazione,
    /// Our avviso di non accettazione per virus.
    NonAccettazioneVirus,
    /// The sender's own copy of the envelope (IMAP "Sent").
    Inviata,
    /// The envelope in a recipient's box.
    Busta,
    /// A delivery receipt about one recipient.
    Consegna(String),
    /// An avviso di mancata consegna about one recipient.
    MancataConsegna(String),
    /// An avviso di mancata consegna per virus about one recipient.
    MancataConsegnaVirus(String),
    /// Our presa in carico of an envelope for a set of recipients (see [`digest`]).
    Presa(String),
    /// Our avviso di rilevazione virus about one recipient.
    Virus(String),
    /// Another provider's receipt about recipients of one of our envelopes: its kind and the
    /// [`digest`] of the recipients it is about.
    Ricevuta(MessageKind, String),
}

impl fmt::Display for Cosa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cosa::Accettazione => f.write_str("accettazione"),
            Cosa::NonAccettazione => f.write_str("non-accettazione"),
            Cosa::NonAccettazioneVirus => f.write_str("non-accettazione-virus"),
            Cosa::Inviata => f.write_str("sent"),
            Cosa::Busta => f.write_str("busta"),
            Cosa::Consegna(r) => write!(f, "consegna:{r}"),
            Cosa::MancataConsegna(r) => write!(f, "mancata-consegna:{r}"),
            Cosa::MancataConsegnaVirus(r) => write!(f, "mancata-consegna-virus:{r}"),
            Cosa::Presa(d) => write!(f, "presa:{d}"),
            Cosa::Virus(r) => write!(f, "virus:{r}"),
            Cosa::Ricevuta(kind, d) => write!(f, "{}:{d}", kind.name()),
        }
    }
}

/// An arrival at the receiving point, handled once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrivo {
    /// A valid envelope, by its PEC msgid.
    Busta(String),
    /// A valid infected envelope, by its PEC msgid.
    Infetta(String),
    /// A receipt about one of our envelopes: the msgid and what it certifies.
    Ricevuta(String, Cosa),
}

impl fmt::Display for Arrivo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arrivo::Busta(id) => write!(f, "busta:{id}"),
            Arrivo::Infetta(id) => write!(f, "infetta:{id}"),
            Arrivo::Ricevuta(id, cosa) => write!(f, "ricevuta:{id}:{cosa}"),
        }
    }
}

/// The idempotency key of one effect (a message in a box, a queue item, an arrival).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chiave {
    /// A message about the envelope `identificativo` in `casella`.
    Casella {
        /// The box, lower case.
        casella: String,
        /// The envelope's PEC msgid.
        identificativo: String,
        /// Which message.
        cosa: Cosa,
    },
    /// A busta di anomalia in `casella`, by the [`tag`] of what it wraps.
    Anomalia {
        /// The box.
        casella: String,
        /// [`tag`] of the wrapped message (or of the arrival's key).
        tag: String,
    },
    /// The 12 h / 24 h notice to `mittente` about one recipient.
    Avviso {
        /// Which check.
        scadenza: Scadenza,
        /// The envelope's PEC msgid.
        identificativo: String,
        /// The recipient the notice is about.
        destinatario: String,
        /// The original sender, whose box receives it.
        mittente: String,
    },
    /// An infected message in the quarantine, by the SHA-256 (hex) of its bytes.
    Quarantena(String),
    /// The queue item delivering an envelope to one local recipient.
    Consegna {
        /// The envelope's PEC msgid.
        identificativo: String,
        /// The local recipient.
        destinatario: String,
    },
    /// The queue item sending a message to another provider: an envelope (`cosa` `None`)
    /// or one of our receipts about it.
    Inoltro {
        /// The envelope's PEC msgid.
        identificativo: String,
        /// RCPT TO.
        destinatario: String,
        /// Which receipt, for receipts.
        cosa: Option<Cosa>,
    },
    /// A 12 h / 24 h check of one recipient of one of our envelopes.
    Scadenza {
        /// Which check.
        scadenza: Scadenza,
        /// The envelope's PEC msgid.
        identificativo: String,
        /// The certified recipient.
        destinatario: String,
    },
    /// Another provider's receipt filed in `casella`, once.
    Ricevuta {
        /// The box it went to.
        casella: String,
        /// Our envelope's PEC msgid.
        identificativo: String,
        /// What it certifies.
        cosa: Cosa,
    },
    /// The receiving point's presa in carico of an envelope, once per set of recipients.
    Presa {
        /// The envelope's PEC msgid.
        identificativo: String,
        /// [`Cosa::Presa`] with the recipients' digest.
        cosa: Cosa,
    },
    /// An arrival wrapped in a busta di anomalia, once per content and boxes.
    ArrivoAnomalo {
        /// [`tag`] of the bytes that arrived.
        tag: String,
        /// [`digest`] of the boxes.
        destinatari: String,
    },
    /// What the recipients a valid message does not certify got, once per arrival and set.
    Estranei {
        /// The arrival.
        arrivo: Arrivo,
        /// [`digest`] of those recipients.
        destinatari: String,
    },
}

fn sigla(s: Scadenza) -> &'static str {
    match s {
        Scadenza::Ore12 => "12h",
        Scadenza::Ore24 => "24h",
    }
}

impl fmt::Display for Chiave {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Chiave::Casella {
                casella,
                identificativo,
                cosa,
            } => write!(f, "box:{casella}:{identificativo}:{cosa}"),
            Chiave::Anomalia { casella, tag } => write!(f, "box:{casella}:anomalia:{tag}"),
            Chiave::Avviso {
                scadenza,
                identificativo,
                destinatario,
                mittente,
            } => write!(
                f,
                "box:{}:{identificativo}:{destinatario}:{mittente}",
                sigla(*scadenza)
            ),
            Chiave::Quarantena(hash) => write!(f, "quarantena:{hash}"),
            Chiave::Consegna {
                identificativo,
                destinatario,
            } => write!(f, "deliver:{identificativo}:{destinatario}"),
            Chiave::Inoltro {
                identificativo,
                destinatario,
                cosa: None,
            } => write!(f, "relay:{identificativo}:{destinatario}"),
            Chiave::Inoltro {
                identificativo,
                destinatario,
                cosa: Some(cosa),
            } => write!(f, "relay:{identificativo}:{cosa}:{destinatario}"),
            Chiave::Scadenza {
                scadenza,
                identificativo,
                destinatario,
            } => write!(
                f,
                "scadenza:{}:{identificativo}:{destinatario}",
                sigla(*scadenza)
            ),
            Chiave::Ricevuta {
                casella,
                identificativo,
                cosa,
            } => write!(f, "ricevuta:{casella}:{identificativo}:{cosa}"),
            Chiave::Presa {
                identificativo,
                cosa,
            } => write!(f, "ricezione:{identificativo}:{cosa}"),
            Chiave::ArrivoAnomalo { tag, destinatari } => {
                write!(f, "anomalia:{tag}:{destinatari}")
            }
            Chiave::Estranei {
                arrivo,
                destinatari,
            } => write!(f, "estranei:{arrivo}:{destinatari}"),
        }
    }
}

impl From<Chiave> for String {
    fn from(c: Chiave) -> String {
        c.to_string()
    }
}

impl From<&Chiave> for String {
    fn from(c: &Chiave) -> String {
        c.to_string()
    }
}

/// A short stable digest of a set of addresses (case-insensitive, in the order given), for
/// keys: the first 8 bytes of a SHA-256, hex.
pub fn digest(indirizzi: &[String]) -> String {
    let mut h = sha2::Sha256::new();
    for i in indirizzi {
        h.update(i.to_ascii_lowercase().as_bytes());
        h.update(b"\n");
    }
    hex::encode(&h.finalize()[..8])
}

/// A short stable tag of some bytes (the first 8 bytes of their SHA-256, hex), for keys.
pub fn tag(bytes: &[u8]) -> String {
    hex::encode(&sha2::Sha256::digest(bytes)[..8])
}

/// The SHA-256 of some bytes, hex: the quarantine's key.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> String {
        x.to_string()
    }

    /// The strings the store holds from earlier versions: changing one would make a replay
    /// after an upgrade store a message twice.
    #[test]
    fn keys_keep_the_format_the_store_holds() {
        let id = s("opec.1@pec.a.test");
        let cases: Vec<(Chiave, &str)> = vec![
            (
                Chiave::Casella {
                    casella: s("m@pec.a.test"),
                    identificativo: id.clone(),
                    cosa: Cosa::Accettazione,
                },
                "box:m@pec.a.test:opec.1@pec.a.test:accettazione",
            ),
            (
                Chiave::Casella {
                    casella: s("m@pec.a.test"),
                    identificativo: id.clone(),
                    cosa: Cosa::MancataConsegna(s("r@pec.b.test")),
                },
                "box:m@pec.a.test:opec.1@pec.a.test:mancata-consegna:r@pec.b.test",
            ),
            (
                Chiave::Casella {
                    casella: s("m@pec.a.test"),
                    identificativo: id.clone(),
                    cosa: Cosa::Ricevuta(MessageKind::PresaInCarico, s("abcd")),
                },
                "box:m@pec.a.test:opec.1@pec.a.test:presa-in-carico:abcd",
            ),
            (
                Chiave::Anomalia {
                    casella: s("r@pec.a.test"),
                    tag: s("0011"),
                },
                "box:r@pec.a.test:anomalia:0011",
            ),
            (
                Chiave::Avviso {
                    scadenza: Scadenza::Ore12,
                    identificativo: id.clone(),
                    destinatario: s("r@pec.b.test"),
                    mittente: s("m@pec.a.test"),
                },
                "box:12h:opec.1@pec.a.test:r@pec.b.test:m@pec.a.test",
            ),
            (Chiave::Quarantena(s("ff")), "quarantena:ff"),
            (
                Chiave::Consegna {
                    identificativo: id.clone(),
                    destinatario: s("r@pec.a.test"),
                },
                "deliver:opec.1@pec.a.test:r@pec.a.test",
            ),
            (
                Chiave::Inoltro {
                    identificativo: id.clone(),
                    destinatario: s("r@pec.b.test"),
                    cosa: None,
                },
                "relay:opec.1@pec.a.test:r@pec.b.test",
            ),
            (
                Chiave::Inoltro {
                    identificativo: id.clone(),
                    destinatario: s("posta@pec.b.test"),
                    cosa: Some(Cosa::Consegna(s("r@pec.a.test"))),
                },
                "relay:opec.1@pec.a.test:consegna:r@pec.a.test:posta@pec.b.test",
            ),
            (
                Chiave::Scadenza {
                    scadenza: Scadenza::Ore24,
                    identificativo: id.clone(),
                    destinatario: s("r@pec.b.test"),
                },
                "scadenza:24h:opec.1@pec.a.test:r@pec.b.test",
            ),
            (
                Chiave::Ricevuta {
                    casella: s("m@pec.a.test"),
                    identificativo: id.clone(),
                    cosa: Cosa::Ricevuta(MessageKind::ConsegnaCompleta, s("12")),
                },
                "ricevuta:m@pec.a.test:opec.1@pec.a.test:consegna-completa:12",
            ),
            (
                Chiave::Presa {
                    identificativo: id.clone(),
                    cosa: Cosa::Presa(s("34")),
                },
                "ricezione:opec.1@pec.a.test:presa:34",
            ),
            (
                Chiave::ArrivoAnomalo {
                    tag: s("56"),
                    destinatari: s("78"),
                },
                "anomalia:56:78",
            ),
            (
                Chiave::Estranei {
                    arrivo: Arrivo::Ricevuta(id.clone(), Cosa::Virus(s("r@pec.a.test"))),
                    destinatari: s("9a"),
                },
                "estranei:ricevuta:opec.1@pec.a.test:virus:r@pec.a.test:9a",
            ),
            (
                Chiave::Estranei {
                    arrivo: Arrivo::Busta(id.clone()),
                    destinatari: s("9a"),
                },
                "estranei:busta:opec.1@pec.a.test:9a",
            ),
        ];
        for (chiave, atteso) in cases {
            assert_eq!(String::from(&chiave), atteso, "{chiave:?}");
        }
    }

    #[test]
    fn digests_ignore_case_and_tags_differ_by_content() {
        assert_eq!(
            digest(&[s("A@B.test"), s("c@d.test")]),
            digest(&[s("a@b.test"), s("C@D.TEST")])
        );
        assert_ne!(digest(&[s("a@b.test")]), digest(&[s("c@d.test")]));
        assert_eq!(digest(&[s("a")]).len(), 16);
        assert_ne!(tag(b"x"), tag(b"y"));
        assert_eq!(sha256(b"").len(), 64);
    }
}
