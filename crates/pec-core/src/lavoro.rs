//! Queue items, typed: the work a decision leaves for later (a delivery to one local box, a
//! send to another provider, a 12 h / 24 h check), serialised here and nowhere else.
//!
//! A payload is one JSON line (the item's data, [`Compito::testa`]). The bytes it carries
//! (the envelope, the receipt, the daticert.xml) are stored apart by their hash, once however
//! many items and boxes hold them; items queued by earlier versions carry them after the JSON
//! line instead ([`Lavoro::payload`]), and [`Lavoro::leggi`] reads both, borrowing the bytes.
//! The JSON field names and the queue kinds are the ones earlier versions wrote, so items
//! queued before an upgrade are read after it.

use crate::builder::Scadenza;
use crate::chiave::Chiave;
use crate::registro::Evento;
use serde::{Deserialize, Serialize};

/// Why a queue payload could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LavoroIlleggibile {
    /// A queue kind this version does not know.
    #[error("unknown queue item kind {0:?}")]
    Tipo(String),
    /// No header line.
    #[error("{0} payload without header line")]
    SenzaTesta(&'static str),
    /// The header line is not what the kind needs.
    #[error("{0} payload: {1}")]
    Testa(&'static str, serde_json::Error),
}

/// A delivery to one local recipient: the envelope's addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recapito {
    /// The recipient, one of our boxes (or an address of our domains that may not exist).
    #[serde(rename = "recipient")]
    pub destinatario: String,
    /// Where receipts go: the reverse-path of the original (PEC-SPEC §3.2).
    #[serde(rename = "sender")]
    pub mittente: String,
    /// The envelope's PEC msgid.
    pub identificativo: String,
}

/// A send to another provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spedizione {
    /// RCPT TO.
    #[serde(rename = "recipient")]
    pub destinatario: String,
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
    pub modello: Option<Box<Evento>>,
}

/// A 12 h / 24 h check of one certified recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Controllo {
    /// The certified recipient the check is about.
    #[serde(rename = "recipient")]
    pub destinatario: String,
    /// Where the notice goes: the original sender.
    #[serde(rename = "sender")]
    pub mittente: String,
    /// The envelope's PEC msgid.
    pub identificativo: String,
    /// Which check.
    pub scadenza: Scadenza,
}

/// What a queue item asks, without the bytes it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compito {
    /// Deliver the signed busta di trasporto it carries to one local box.
    Consegna(Recapito),
    /// Send the signed message it carries (an envelope or one of our receipts) to another
    /// provider.
    Inoltro(Spedizione),
    /// A 12 h / 24 h check; it carries the envelope's daticert.xml, to build the notice.
    Controllo(Controllo),
}

/// One queue item: what it asks and the bytes it carries, borrowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lavoro<'a> {
    /// What to do.
    pub compito: Compito,
    /// The envelope, the message to send or the daticert.xml.
    pub corpo: &'a [u8],
}

/// The queue kind of a [`Compito::Consegna`].
pub const CONSEGNA: &str = "deliver";
/// The queue kind of a [`Compito::Inoltro`].
pub const INOLTRO: &str = "relay";
/// The queue kind of a [`Compito::Controllo`].
pub const CONTROLLO: &str = "scadenza";

impl Compito {
    /// The queue kind, as the store keeps it.
    pub fn tipo(&self) -> &'static str {
        match self {
            Compito::Consegna(_) => CONSEGNA,
            Compito::Inoltro(_) => INOLTRO,
            Compito::Controllo(_) => CONTROLLO,
        }
    }

    /// The PEC msgid the item is about.
    pub fn identificativo(&self) -> &str {
        match self {
            Compito::Consegna(r) => &r.identificativo,
            Compito::Inoltro(s) => &s.identificativo,
            Compito::Controllo(c) => &c.identificativo,
        }
    }

    /// The payload's head: the JSON line and its newline. The bytes the item carries follow
    /// it in the payload, or are stored apart and named by their hash.
    pub fn testa(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut out = match self {
            Compito::Consegna(r) => serde_json::to_vec(r),
            Compito::Inoltro(s) => serde_json::to_vec(s),
            Compito::Controllo(c) => serde_json::to_vec(c),
        }?;
        out.push(b'\n');
        Ok(out)
    }
}

impl<'a> Lavoro<'a> {
    /// The queue kind, as the store keeps it.
    pub fn tipo(&self) -> &'static str {
        self.compito.tipo()
    }

    /// The payload: the JSON line, a newline, the bytes as they are.
    pub fn payload(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut out = self.compito.testa()?;
        out.extend_from_slice(self.corpo);
        Ok(out)
    }

    /// Reads a payload of kind `tipo`, borrowing its bytes: `corpo` when the item's bytes
    /// are stored apart, else those after the JSON line.
    pub fn leggi(
        tipo: &str,
        payload: &'a [u8],
        corpo: Option<&'a [u8]>,
    ) -> Result<Self, LavoroIlleggibile> {
        let tipo: &'static str = match tipo {
            CONSEGNA => CONSEGNA,
            INOLTRO => INOLTRO,
            CONTROLLO => CONTROLLO,
            altro => return Err(LavoroIlleggibile::Tipo(altro.to_string())),
        };
        let nl = memchr::memchr(b'\n', payload).ok_or(LavoroIlleggibile::SenzaTesta(tipo))?;
        let testa = &payload[..nl];
        let corpo = corpo.unwrap_or(&payload[nl + 1..]);
        let e = |e| LavoroIlleggibile::Testa(tipo, e);
        let compito = match tipo {
            CONSEGNA => Compito::Consegna(serde_json::from_slice(testa).map_err(e)?),
            INOLTRO => Compito::Inoltro(serde_json::from_slice(testa).map_err(e)?),
            _ => Compito::Controllo(serde_json::from_slice(testa).map_err(e)?),
        };
        Ok(Lavoro { compito, corpo })
    }
}

impl Recapito {
    /// The key of its delivery item.
    pub fn chiave(&self) -> Chiave {
        Chiave::Consegna {
            identificativo: self.identificativo.clone(),
            destinatario: self.destinatario.clone(),
        }
    }
}

impl Controllo {
    /// The key of its check item.
    pub fn chiave(&self) -> Chiave {
        Chiave::Scadenza {
            scadenza: self.scadenza,
            identificativo: self.identificativo.clone(),
            destinatario: self.destinatario.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Payloads exactly as the previous version wrote them (hand-made JSON line + bytes) are
    /// read, and written back byte for byte.
    #[test]
    fn payloads_of_the_previous_version_are_read_and_written_the_same() {
        let consegna =
            b"{\"recipient\":\"a@pec.x\",\"sender\":\"\\\"b\\\\c\\\"@pec.x\",\"identificativo\":\"id@pec.x\"}\nHeader: v\r\n\r\nbody\n\x00\xff";
        let l = Lavoro::leggi("deliver", consegna, None).unwrap();
        let (Compito::Consegna(recapito), busta) = (&l.compito, &l.corpo) else {
            panic!("{l:?}")
        };
        assert_eq!(recapito.mittente, "\"b\\c\"@pec.x");
        assert_eq!(*busta, b"Header: v\r\n\r\nbody\n\x00\xff");
        assert_eq!(l.payload().unwrap(), consegna);
        assert_eq!(String::from(recapito.chiave()), "deliver:id@pec.x:a@pec.x");

        let inoltro = b"{\"recipient\":\"a@pec.b.test\",\"mail_from\":\"m@pec.a.test\",\"identificativo\":\"id@pec.a.test\",\"busta\":true,\"accepted_ms\":1700000000000}\nX: y\r\n\r\nbody\n\x00";
        let l = Lavoro::leggi("relay", inoltro, None).unwrap();
        let (Compito::Inoltro(spedizione), messaggio) = (&l.compito, &l.corpo) else {
            panic!("{l:?}")
        };
        assert!(spedizione.busta && spedizione.modello.is_none());
        assert_eq!(spedizione.accepted_ms, 1_700_000_000_000);
        assert_eq!(*messaggio, b"X: y\r\n\r\nbody\n\x00");
        assert_eq!(l.payload().unwrap(), inoltro);

        let controllo = b"{\"recipient\":\"r@pec.b.test\",\"sender\":\"s@pec.a.test\",\"identificativo\":\"id@a\",\"scadenza\":\"24h\"}\n<x/>";
        let l = Lavoro::leggi("scadenza", controllo, None).unwrap();
        let (Compito::Controllo(c), daticert) = (&l.compito, &l.corpo) else {
            panic!("{l:?}")
        };
        assert_eq!(c.scadenza, Scadenza::Ore24);
        assert_eq!(*daticert, b"<x/>");
        assert_eq!(String::from(c.chiave()), "scadenza:24h:id@a:r@pec.b.test");
        assert_eq!(l.payload().unwrap(), controllo);
    }

    #[test]
    fn unreadable_payloads_say_why() {
        assert!(matches!(
            Lavoro::leggi("nope", b"{}\n", None),
            Err(LavoroIlleggibile::Tipo(_))
        ));
        assert!(matches!(
            Lavoro::leggi("deliver", b"no header", None),
            Err(LavoroIlleggibile::SenzaTesta("deliver"))
        ));
        assert!(matches!(
            Lavoro::leggi("relay", b"{\"recipient\":1}\n", None),
            Err(LavoroIlleggibile::Testa("relay", _))
        ));
    }
}
