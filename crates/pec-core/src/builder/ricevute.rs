//! Receipts: accettazione (PEC-SPEC §4.3), presa in carico (§4.6) and avvenuta consegna in
//! its three kinds (§4.7), with the choice of the delivery receipt kind.

use super::intestazioni;
use super::{componi, daticert_base, testo, BuildError, DatiMessaggio, Emissione};
use crate::breve;
use crate::daticert::{Errore, Tipo, TipoRicevuta};
use crate::kind::MessageKind;
use crate::message::UnsignedMessage;

/// The ricevuta di accettazione, to the sender: one per submitted message, every recipient
/// tagged certificato / esterno, no original attached (PEC-SPEC §4.3, §9.7).
/// `dati.identificativo` is the PEC msgid of the envelope.
pub fn ricevuta_accettazione(
    e: &Emissione<'_>,
    dati: &DatiMessaggio,
) -> Result<UnsignedMessage, BuildError> {
    let kind = MessageKind::Accettazione;
    let h = intestazioni::ricevuta(kind, e, dati, &dati.mittente); // PEC-SPEC §4.3: To = sender
                                                                   // PEC-SPEC §4.3: the real sample has no <ricevuta> element.
    let d = daticert_base(Tipo::Accettazione, Errore::Nessuno, e, dati);
    componi(kind, e, h, &testo::accettazione(e, dati), Some(&d), None)
}

/// The ricevuta di presa in carico, from the recipients' provider to the sender provider's
/// `mailReceipt` (found in the providers' index): one `<ricezione>` per recipient of ours
/// this envelope covers (PEC-SPEC §4.6). No original attached (§11.14).
pub fn ricevuta_presa_in_carico(
    e: &Emissione<'_>,
    dati: &DatiMessaggio,
    ricezione: &[String],
    mail_receipt: &str,
) -> Result<UnsignedMessage, BuildError> {
    let kind = MessageKind::PresaInCarico;
    let h = intestazioni::ricevuta(kind, e, dati, mail_receipt); // PEC-SPEC §4.6
    let mut d = daticert_base(Tipo::PresaInCarico, Errore::Nessuno, e, dati);
    d.dati.ricezione = ricezione.to_vec(); // PEC-SPEC §4.6
    let t = testo::presa_in_carico(e, dati, ricezione);
    componi(kind, e, h, &t, Some(&d), None)
}

/// Where a recipient stands in the envelope's headers: what decides its receipt kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Posizione {
    /// In `To:` only: a primary recipient.
    To,
    /// In `Cc:` only: a copy recipient.
    Cc,
    /// In both or in neither: the table says to treat it as primary (PEC-SPEC §4.7).
    Ambigua,
}

impl Posizione {
    /// The position of `destinatario` given the envelope's To and Cc addresses
    /// (case-insensitive comparison).
    pub fn di(destinatario: &str, to: &[String], cc: &[String]) -> Self {
        let in_to = to.iter().any(|a| a.eq_ignore_ascii_case(destinatario));
        let in_cc = cc.iter().any(|a| a.eq_ignore_ascii_case(destinatario));
        match (in_to, in_cc) {
            (true, false) => Posizione::To,
            (false, true) => Posizione::Cc,
            _ => Posizione::Ambigua,
        }
    }
}

/// The kind of delivery receipt for one recipient (table of PEC-SPEC §4.7): Cc recipients get
/// sintetica; primary and ambiguous ones get what `X-TipoRicevuta` asked (completa when the
/// value is unknown, as when absent).
pub fn tipo_ricevuta_consegna(richiesta: &TipoRicevuta, posizione: Posizione) -> TipoRicevuta {
    match (posizione, richiesta) {
        (Posizione::Cc, _) => TipoRicevuta::Sintetica, // PEC-SPEC §4.7
        (_, TipoRicevuta::Breve) => TipoRicevuta::Breve,
        (_, TipoRicevuta::Sintetica) => TipoRicevuta::Sintetica,
        _ => TipoRicevuta::Completa,
    }
}

/// One delivery: to whom, which receipt kind, and the original as found in the envelope.
#[derive(Debug, Clone, Copy)]
pub struct Consegna<'a> {
    /// The recipient the envelope was stored for (daticert `<consegna>`).
    pub destinatario: &'a str,
    /// The receipt kind, from [`tipo_ricevuta_consegna`].
    pub tipo: &'a TipoRicevuta,
    /// The envelope's `postacert.eml` bytes: attached as is for completa, hashed (PEC-SPEC §6)
    /// for breve, ignored for sintetica.
    pub postacert: &'a [u8],
}

/// The ricevuta di avvenuta consegna for one recipient, to the original sender
/// (PEC-SPEC §4.7). Its `<ricevuta tipo>` is the kind of this receipt.
pub fn ricevuta_consegna(
    e: &Emissione<'_>,
    dati: &DatiMessaggio,
    consegna: &Consegna<'_>,
) -> Result<UnsignedMessage, BuildError> {
    let kind = match consegna.tipo {
        TipoRicevuta::Breve => MessageKind::ConsegnaBreve,
        TipoRicevuta::Sintetica => MessageKind::ConsegnaSintetica,
        _ => MessageKind::ConsegnaCompleta,
    };
    let tipo = match kind {
        MessageKind::ConsegnaBreve => TipoRicevuta::Breve,
        MessageKind::ConsegnaSintetica => TipoRicevuta::Sintetica,
        _ => TipoRicevuta::Completa,
    };
    // PEC-SPEC §4.7: To = original sender; no X-TipoRicevuta on the receipt itself.
    let h = intestazioni::ricevuta(kind, e, dati, &dati.mittente);
    let mut d = daticert_base(Tipo::AvvenutaConsegna, Errore::Nessuno, e, dati);
    d.dati.ricevuta = Some(tipo.clone()); // PEC-SPEC §4.7
    d.dati.consegna = Some(consegna.destinatario.to_string());
    let copia = match tipo {
        TipoRicevuta::Breve => Some(breve::copia_breve(consegna.postacert)?), // PEC-SPEC §6
        TipoRicevuta::Sintetica => None, // PEC-SPEC §4.7: no original
        _ => Some(consegna.postacert.to_vec()),
    };
    let t = testo::consegna(e, dati, consegna.destinatario, &tipo);
    componi(kind, e, h, &t, Some(&d), copia.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_kind_table_of_spec_4_7() {
        use Posizione::*;
        use TipoRicevuta::*;
        let casi = [
            (Completa, To, Completa),
            (Completa, Cc, Sintetica),
            (Completa, Ambigua, Completa),
            (Breve, To, Breve),
            (Breve, Cc, Sintetica),
            (Breve, Ambigua, Breve),
            (Sintetica, To, Sintetica),
            (Sintetica, Cc, Sintetica),
            (Sintetica, Ambigua, Sintetica),
            (Unknown("boh".into()), To, Completa),
        ];
        for (richiesta, posizione, attesa) in casi {
            assert_eq!(
                tipo_ricevuta_consegna(&richiesta, posizione),
                attesa,
                "{richiesta} {posizione:?}"
            );
        }
    }

    #[test]
    fn position_is_read_case_insensitively() {
        let to = vec!["A@pec.it".to_string()];
        let cc = vec!["b@pec.it".to_string(), "a@PEC.it".to_string()];
        assert_eq!(Posizione::di("b@PEC.IT", &to, &cc), Posizione::Cc);
        assert_eq!(Posizione::di("a@pec.it", &to, &cc), Posizione::Ambigua);
        assert_eq!(Posizione::di("a@pec.it", &to, &[]), Posizione::To);
        assert_eq!(Posizione::di("z@pec.it", &to, &cc), Posizione::Ambigua);
    }
}
