//! A received envelope or receipt as we store it for our users: the outer headers rebuilt
//! from what the signature covers (issue 12, item 1).
//!
//! The outer header block of a `multipart/signed` message is outside the signature: whoever
//! relays or replays a genuine envelope can rewrite its `From:`, `Subject:`, `Reply-To:` or
//! `Date:` and the signature still verifies. Mail clients show those headers, so a user would
//! see a certified message under words its sender never wrote. We therefore keep only the
//! trace fields and the MIME structure of what arrived, and write every other header as the
//! builders would from the signed daticert and `postacert.eml` (PEC-SPEC §3.2–§3.5, §4.1).
//! The signed entity and the signature are copied byte for byte, so the result verifies
//! exactly as the received message did.

use super::grezzo::Blocco;
use super::intestazioni;
use super::{DatiMessaggio, Emissione};
use crate::consegna::BustaRicevuta;
use crate::daticert::Daticert;
use crate::kind::MessageKind;
use crate::message::Provider;

/// Outer fields kept as they arrived: trace fields, which every relay adds, and the MIME
/// structure the signature check read (only its first occurrence, as pec-smime reads it).
const TRACCIA: [&str; 2] = ["Return-Path", "Received"];
const STRUTTURA: [&str; 2] = ["MIME-Version", "Content-Type"];

/// Why a received message's outer block cannot be rebuilt: its structure is ambiguous.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RicomposizioneError {
    /// More than one `Content-Type:`: readers could disagree on which one holds the signature.
    #[error("intestazione Content-Type ripetuta")]
    ContentTypeRipetuto,
    /// No `Content-Type:`: there is no signed structure to keep.
    #[error("intestazione Content-Type assente")]
    ContentTypeAssente,
}

/// Checks that the outer block of `raw` can be rebuilt: exactly one `Content-Type:`.
pub fn controlla_struttura(raw: &[u8]) -> Result<(), RicomposizioneError> {
    match Blocco::leggi(raw).tutti("Content-Type").count() {
        0 => Err(RicomposizioneError::ContentTypeAssente),
        1 => Ok(()),
        _ => Err(RicomposizioneError::ContentTypeRipetuto),
    }
}

/// The received busta di trasporto `raw` with its outer headers written from `busta` (read
/// from the signed entity): `To`/`Cc`/`Reply-To` of the original as written there, `Date` of
/// the daticert, `From: "Per conto di: <daticert mittente>" <servizio>`, the subject of the
/// daticert with its prefix, `Message-ID` = identificativo, `X-Riferimento-Message-ID` = msgid,
/// `X-Trasporto`, `X-TipoRicevuta` (PEC-SPEC §4.1). `servizio` is the signing provider's
/// service address.
pub fn busta_ricomposta(raw: &[u8], busta: &BustaRicevuta, servizio: &str) -> Vec<u8> {
    let d = &busta.daticert;
    let mut dati = DatiMessaggio::da_daticert(d);
    dati.tipo_ricevuta = busta.tipo_ricevuta.clone();
    let provider = Provider {
        nome: d.dati.gestore_emittente.clone(),
        indirizzo_servizio: servizio.to_string(),
    };
    let e = Emissione {
        provider: &provider,
        data: d.dati.data,
        message_id: &d.dati.identificativo,
    };
    let h = intestazioni::busta(&e, &Blocco::leggi(&busta.postacert), &dati);
    ricomponi(raw, &h)
}

/// The received receipt or notice `raw` of `kind` with its outer headers written from its
/// signed `daticert`, as the builders write them (PEC-SPEC §4.3–§4.11): `Date` of the
/// daticert, `From: <servizio>`, `To: <to>` (the box it is stored in), the subject of the
/// daticert with the kind's prefix, `X-Riferimento-Message-ID` = msgid, the kind's
/// `X-Ricevuta`, `X-VerificaSicurezza` on virus notices, `X-Mittente` on a rilevazione virus.
/// The receipt's own `Message-ID` is nowhere signed: the received one is kept.
pub fn ricevuta_ricomposta(
    raw: &[u8],
    kind: MessageKind,
    daticert: &Daticert,
    servizio: &str,
    to: &str,
) -> Vec<u8> {
    let dati = DatiMessaggio::da_daticert(daticert);
    let provider = Provider {
        nome: daticert.dati.gestore_emittente.clone(),
        indirizzo_servizio: servizio.to_string(),
    };
    let message_id = Blocco::leggi(raw)
        .primo("Message-ID")
        .map(|c| c.valore_crlf())
        .unwrap_or_default();
    let e = Emissione {
        provider: &provider,
        data: daticert.dati.data,
        message_id: &message_id,
    };
    let mut h = intestazioni::ricevuta(kind, &e, &dati, to);
    if message_id.trim().is_empty() {
        h.retain(|(n, _)| n != "Message-ID");
    }
    if kind == MessageKind::RilevazioneVirus {
        h.push(("X-Mittente".into(), dati.mittente.clone())); // PEC-SPEC §3.4
    }
    ricomponi(raw, &h)
}

/// `raw` with every outer field dropped but the trace fields and the first MIME structure
/// fields, and `nuove` written in between; the body (the blank line on) is copied unchanged.
fn ricomponi(raw: &[u8], nuove: &[(String, String)]) -> Vec<u8> {
    let blocco = Blocco::leggi(raw);
    let eol = blocco.eol;
    let mut out = Vec::with_capacity(raw.len() + 512);
    for c in blocco
        .campi
        .iter()
        .filter(|c| TRACCIA.iter().any(|n| c.e(n)))
    {
        out.extend_from_slice(&raw[c.inizio..c.fine]);
    }
    for (nome, valore) in nuove {
        let valore = &piegature_sole(valore);
        out.extend_from_slice(nome.as_bytes());
        out.extend_from_slice(b": ");
        // Pre-folded values carry CRLF + blank: keep the block's own line ending.
        let valore = if eol == b"\r\n" {
            valore.clone()
        } else {
            valore.replace("\r\n", "\n")
        };
        out.extend_from_slice(valore.as_bytes());
        out.extend_from_slice(eol);
    }
    for nome in STRUTTURA {
        if let Some(c) = blocco.primo(nome) {
            out.extend_from_slice(&raw[c.inizio..c.fine]);
        }
    }
    out.extend_from_slice(&raw[blocco.fine..]);
    out
}

/// `valore` with every CR or LF that is not part of a fold (CRLF followed by a blank) turned
/// into a space: a value copied from another provider's data can never end the header block
/// or start a header of its own.
fn piegature_sole(valore: &str) -> String {
    let b = valore.as_bytes();
    let mut out = String::with_capacity(valore.len());
    let mut i = 0;
    for (at, c) in valore.char_indices() {
        if at < i {
            continue;
        }
        let fold = c == '\r'
            && b.get(at + 1) == Some(&b'\n')
            && matches!(b.get(at + 2), Some(b' ' | b'\t'));
        if fold {
            out.push_str("\r\n");
            i = at + 2;
        } else if c == '\r' || c == '\n' {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::piegature_sole;

    #[test]
    fn only_folds_survive_in_a_value() {
        assert_eq!(piegature_sole("a\r\n b"), "a\r\n b");
        assert_eq!(piegature_sole("a\r\n\r\nX: y"), "a    X: y");
        assert_eq!(piegature_sole("a\rb\nc"), "a b c");
        assert_eq!(piegature_sole("città\r\n\tè"), "città\r\n\tè");
    }
}
