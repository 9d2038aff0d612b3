//! The message as the user submitted it, and its copy for `postacert.eml` (PEC-SPEC §3.3, §4.1).

use super::grezzo::Blocco;
use super::senza_parentesi;
use crate::daticert::{Destinatario, TipoDestinatario, TipoRicevuta};
use mail_parser::{Address, Message, MessageParser};

/// The original message: the facts PEC certifies, read once, plus the raw bytes.
///
/// Addresses are the bare `local@domain` of the headers; display names are dropped because
/// daticert certifies addresses only (PEC-SPEC §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Originale {
    /// The bytes as received; envelopes carry them unmodified but for the msgid (§3.3).
    pub raw: Vec<u8>,
    /// The single `From:` address (PEC-SPEC §9.4: From must equal MAIL FROM).
    pub mittente: String,
    /// `To:` addresses: primary recipients, who may get completa / breve receipts (§4.7).
    pub to: Vec<String>,
    /// `Cc:` addresses: copy recipients, who get sintetica receipts (§4.7).
    pub cc: Vec<String>,
    /// `Bcc:` addresses, kept so the access point can refuse them (§9.4: Bcc must be empty).
    pub bcc: Vec<String>,
    /// Whether any `Bcc:` header holds a non-blank value, address or not: PEC-SPEC §2.3
    /// wants it empty, and a value that is no address must not slip through.
    pub bcc_presente: bool,
    /// The decoded `Subject:`.
    pub oggetto: Option<String>,
    /// The client's `Message-ID:` with angle brackets; becomes `X-Riferimento-Message-ID` (§3.3).
    pub msgid: Option<String>,
    /// `Reply-To:` addresses; daticert `<risposte>` falls back to the sender without them.
    pub reply_to: Vec<String>,
    /// `X-TipoRicevuta:` (any case); completa when absent or not one of the three values.
    pub tipo_ricevuta: TipoRicevuta,
}

/// Why a submitted message cannot be read as an original. All are the user's fault, so the
/// access point answers with an avviso di non accettazione (PEC-SPEC §4.4).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum OriginaleError {
    /// Empty input or no header could be read.
    #[error("not an e-mail message")]
    NonAnalizzabile,
    /// No `From:` header.
    #[error("missing From header")]
    MittenteAssente,
    /// More than one `From:` header or address: PEC wants one author (§3.2).
    #[error("From must hold exactly one address, found {0}")]
    MittentiMultipli(usize),
    /// `From:` does not hold a usable `local@domain` address.
    #[error("From does not hold a valid address")]
    MittenteNonValido,
}

/// What a message's header block says of its recipients, read without parsing its body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Intestatari {
    /// `To:` addresses.
    pub to: Vec<String>,
    /// `Cc:` addresses.
    pub cc: Vec<String>,
    /// `X-TipoRicevuta:` when it holds one of the three values.
    pub tipo_ricevuta: Option<TipoRicevuta>,
}

impl Intestatari {
    /// Reads the header block of `raw` (a `postacert.eml`): only the block is parsed, so a
    /// 30 MB original costs no more than its headers.
    pub fn leggi(raw: &[u8]) -> Self {
        let blocco = Blocco::leggi(raw);
        let testa = super::grezzo::sola_testata(raw);
        let Some(msg) = MessageParser::default().parse(&testa) else {
            return Self::default();
        };
        Self {
            to: indirizzi(msg.all_to()),
            cc: indirizzi(msg.all_cc()),
            tipo_ricevuta: blocco
                .primo("X-TipoRicevuta")
                .map(|c| TipoRicevuta::parse(&c.valore_crlf().trim().to_ascii_lowercase()))
                .filter(TipoRicevuta::is_known),
        }
    }
}

impl Originale {
    /// Reads an original from its raw bytes.
    pub fn parse(raw: &[u8]) -> Result<Self, OriginaleError> {
        Self::leggi(raw, None)
    }

    /// Reads a message received from outside, which may lack a usable `From:`: then the SMTP
    /// reverse-path `mail_from` stands in as the sender, so a busta di anomalia can still say
    /// on whose behalf it wraps the message (PEC-SPEC §4.2). Only unreadable input fails.
    pub fn parse_ricevuto(raw: &[u8], mail_from: &str) -> Result<Self, OriginaleError> {
        Self::leggi(raw, Some(mail_from))
    }

    fn leggi(raw: &[u8], riserva: Option<&str>) -> Result<Self, OriginaleError> {
        let blocco = Blocco::leggi(raw);
        if blocco.campi.iter().all(|c| c.nome.is_empty()) {
            return Err(OriginaleError::NonAnalizzabile);
        }
        let msg = MessageParser::default()
            .parse(raw)
            .ok_or(OriginaleError::NonAnalizzabile)?;
        let mittente = match (mittente(&blocco, &msg), riserva) {
            (Ok(m), _) => m,
            (Err(_), Some(r)) => r.trim().trim_matches(['<', '>']).to_string(),
            (Err(e), None) => return Err(e),
        };
        let tipo_ricevuta = blocco
            .primo("X-TipoRicevuta")
            .map(|c| c.valore_crlf().trim().to_ascii_lowercase())
            .map(|v| match TipoRicevuta::parse(&v) {
                TipoRicevuta::Unknown(_) => TipoRicevuta::Completa,
                known => known,
            })
            .unwrap_or(TipoRicevuta::Completa); // PEC-SPEC §3.4: default completa
        let bcc_presente = blocco
            .tutti("Bcc")
            .any(|c| c.valore.iter().any(|b| !b.is_ascii_whitespace()));
        Ok(Self {
            raw: raw.to_vec(),
            mittente,
            to: indirizzi(msg.all_to()),
            cc: indirizzi(msg.all_cc()),
            bcc: indirizzi(msg.all_bcc()),
            bcc_presente,
            oggetto: msg.subject().map(str::to_string),
            msgid: msg
                .message_id()
                .filter(|id| !id.trim().is_empty())
                .map(|id| format!("<{}>", senza_parentesi(id))),
            reply_to: msg.reply_to().map(|a| indirizzi([a])).unwrap_or_default(),
            tipo_ricevuta,
        })
    }

    /// daticert `<risposte>`: the Reply-To addresses, or the sender when there is none
    /// (what real providers write, PEC-SPEC §5.2).
    pub fn risposte(&self) -> String {
        if self.reply_to.is_empty() {
            self.mittente.clone()
        } else {
            self.reply_to.join(", ")
        }
    }

    /// To then Cc, without repeats (case-insensitive): the daticert `<destinatari>` list,
    /// each tagged by `classifica` (certificato when the domain is in the providers' index).
    pub fn destinatari(&self, classifica: impl Fn(&str) -> TipoDestinatario) -> Vec<Destinatario> {
        let mut out: Vec<Destinatario> = Vec::new();
        for a in self.to.iter().chain(&self.cc) {
            if !out.iter().any(|d| d.indirizzo.eq_ignore_ascii_case(a)) {
                out.push(Destinatario {
                    indirizzo: a.clone(),
                    tipo: classifica(a),
                });
            }
        }
        out
    }

    /// The bytes of `postacert.eml` for the transport envelope: the original unmodified except
    /// that every `Message-ID:` is replaced by `<identificativo>` and, when the client had a
    /// msgid, `X-Riferimento-Message-ID: <msgid>` is added (PEC-SPEC §3.3). Any
    /// `X-Riferimento-Message-ID` the client wrote itself is dropped: only the provider sets it.
    /// Only the header block is touched; the body bytes are copied as they are.
    pub fn postacert(&self, identificativo: &str) -> Vec<u8> {
        let raw = self.raw.as_slice();
        let blocco = Blocco::leggi(raw);
        let mut out = Vec::with_capacity(raw.len() + 200);
        let mut pos = 0;
        for c in &blocco.campi {
            if c.e("Message-ID") || c.e("X-Riferimento-Message-ID") {
                out.extend_from_slice(&raw[pos..c.inizio]);
                pos = c.fine;
            }
        }
        let fine = blocco.fine;
        out.extend_from_slice(&raw[pos..fine]);
        if !out.is_empty() && !out.ends_with(b"\n") {
            out.extend_from_slice(blocco.eol); // header block without final line ending
        }
        let eol = blocco.eol;
        out.extend_from_slice(b"Message-ID: <"); // PEC-SPEC §3.3
        out.extend_from_slice(senza_parentesi(identificativo).as_bytes());
        out.extend_from_slice(b">");
        out.extend_from_slice(eol);
        if let Some(m) = &self.msgid {
            out.extend_from_slice(b"X-Riferimento-Message-ID: "); // PEC-SPEC §3.3
            out.extend_from_slice(m.as_bytes());
            out.extend_from_slice(eol);
        }
        if fine < raw.len() {
            out.extend_from_slice(&raw[fine..]);
        } else {
            out.extend_from_slice(eol); // headers only: still end the block
        }
        out
    }
}

/// The one `From:` address: one field, one mailbox, a valid address (PEC-SPEC §3.2, §9.4).
fn mittente(blocco: &Blocco<'_>, msg: &Message<'_>) -> Result<String, OriginaleError> {
    match blocco.tutti("From").count() {
        0 => return Err(OriginaleError::MittenteAssente),
        1 => {}
        n => return Err(OriginaleError::MittentiMultipli(n)),
    }
    let mittenti: Vec<&str> = msg
        .from()
        .map(|a| a.iter().filter_map(|a| a.address()).collect())
        .unwrap_or_default();
    match mittenti.as_slice() {
        [] => Err(OriginaleError::MittenteNonValido),
        [uno] => indirizzo_valido(uno).ok_or(OriginaleError::MittenteNonValido),
        molti => Err(OriginaleError::MittentiMultipli(molti.len())),
    }
}

/// `local@domain` with both sides non-empty and no blank inside, trimmed.
fn indirizzo_valido(a: &str) -> Option<String> {
    let a = a.trim();
    let (local, domain) = a.rsplit_once('@')?;
    let ok = !local.is_empty()
        && !domain.is_empty()
        && !a
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
    ok.then(|| a.to_string())
}

fn indirizzi<'a, 'x: 'a>(lists: impl IntoIterator<Item = &'a Address<'x>>) -> Vec<String> {
    lists
        .into_iter()
        .flat_map(|l| l.iter())
        .filter_map(|a| a.address())
        .filter_map(indirizzo_valido)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &[u8] = b"From: \"Mario\" <mario@pec.example.it>\r\n\
To: a@pec.example.it, b@ordinario.it\r\n\
Cc: c@pec.altro.it\r\n\
Subject: =?UTF-8?Q?citt=C3=A0?=\r\n\
Message-ID: <client-1@studio.example.it>\r\n\
x-tiporicevuta: Breve\r\n\
\r\n\
corpo\r\n";

    #[test]
    fn reads_the_certified_facts() {
        let o = Originale::parse(RAW).unwrap();
        assert_eq!(o.mittente, "mario@pec.example.it");
        assert_eq!(o.to, ["a@pec.example.it", "b@ordinario.it"]);
        assert_eq!(o.cc, ["c@pec.altro.it"]);
        assert!(o.bcc.is_empty());
        assert_eq!(o.oggetto.as_deref(), Some("città"));
        assert_eq!(o.msgid.as_deref(), Some("<client-1@studio.example.it>"));
        assert_eq!(o.tipo_ricevuta, TipoRicevuta::Breve);
        assert_eq!(o.risposte(), "mario@pec.example.it");
    }

    #[test]
    fn tipo_ricevuta_defaults_to_completa() {
        let o = Originale::parse(b"From: a@b.it\r\nTo: c@d.it\r\n\r\nx").unwrap();
        assert_eq!(o.tipo_ricevuta, TipoRicevuta::Completa);
        assert_eq!(o.msgid, None);
        let o = Originale::parse(b"From: a@b.it\r\nX-TipoRicevuta: boh\r\n\r\nx").unwrap();
        assert_eq!(o.tipo_ricevuta, TipoRicevuta::Completa);
    }

    #[test]
    fn sender_errors_are_named() {
        assert_eq!(Originale::parse(b""), Err(OriginaleError::NonAnalizzabile));
        assert_eq!(
            Originale::parse(b"To: a@b.it\r\n\r\nx"),
            Err(OriginaleError::MittenteAssente)
        );
        assert_eq!(
            Originale::parse(b"From: nobody\r\n\r\nx"),
            Err(OriginaleError::MittenteNonValido)
        );
        assert_eq!(
            Originale::parse(b"From: a@b.it, c@d.it\r\n\r\nx"),
            Err(OriginaleError::MittentiMultipli(2))
        );
        assert_eq!(
            Originale::parse(b"From: a@b.it\r\nFrom: c@d.it\r\n\r\nx"),
            Err(OriginaleError::MittentiMultipli(2))
        );
    }

    #[test]
    fn received_messages_fall_back_to_the_reverse_path() {
        let o =
            Originale::parse_ricevuto(b"To: a@b.it\r\nSubject: x\r\n\r\nbody", "<s@x.it>").unwrap();
        assert_eq!(o.mittente, "s@x.it");
        let o = Originale::parse_ricevuto(b"From: f@x.it\r\n\r\nbody", "s@x.it").unwrap();
        assert_eq!(o.mittente, "f@x.it");
        assert_eq!(
            Originale::parse_ricevuto(b"", "s@x.it"),
            Err(OriginaleError::NonAnalizzabile)
        );
    }

    #[test]
    fn postacert_substitutes_the_msgid_and_keeps_the_rest() {
        let o = Originale::parse(RAW).unwrap();
        let p = o.postacert("opec1.2@pec.example.it");
        let expected: &[u8] = b"From: \"Mario\" <mario@pec.example.it>\r\n\
To: a@pec.example.it, b@ordinario.it\r\n\
Cc: c@pec.altro.it\r\n\
Subject: =?UTF-8?Q?citt=C3=A0?=\r\n\
x-tiporicevuta: Breve\r\n\
Message-ID: <opec1.2@pec.example.it>\r\n\
X-Riferimento-Message-ID: <client-1@studio.example.it>\r\n\
\r\n\
corpo\r\n";
        assert_eq!(
            String::from_utf8_lossy(&p),
            String::from_utf8_lossy(expected)
        );
    }

    #[test]
    fn postacert_drops_folded_and_forged_reference_headers() {
        let raw =
            b"From: a@b.it\nMessage-ID:\n <x@y>\nX-Riferimento-Message-ID: <forged@z>\n\nbody\n";
        let p = Originale::parse(raw).unwrap().postacert("<id@p>");
        assert_eq!(
            p,
            b"From: a@b.it\nMessage-ID: <id@p>\nX-Riferimento-Message-ID: <x@y>\n\nbody\n"
        );
    }

    #[test]
    fn postacert_without_msgid_adds_no_reference() {
        let p = Originale::parse(b"From: a@b.it\r\n\r\nbody")
            .unwrap()
            .postacert("id@p");
        assert_eq!(p, b"From: a@b.it\r\nMessage-ID: <id@p>\r\n\r\nbody");
    }

    #[test]
    fn destinatari_are_to_then_cc_without_repeats() {
        let raw = b"From: a@b.it\r\nTo: x@pec.it, y@mail.it\r\nCc: X@PEC.IT, z@pec.it\r\n\r\n.";
        let o = Originale::parse(raw).unwrap();
        let d = o.destinatari(|a| {
            if a.to_ascii_lowercase().ends_with("@pec.it") {
                TipoDestinatario::Certificato
            } else {
                TipoDestinatario::Esterno
            }
        });
        let got: Vec<_> = d
            .iter()
            .map(|d| (d.indirizzo.as_str(), d.tipo.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("x@pec.it", "certificato"),
                ("y@mail.it", "esterno"),
                ("z@pec.it", "certificato")
            ]
        );
    }
}
