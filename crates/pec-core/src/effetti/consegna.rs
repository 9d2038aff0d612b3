//! Where the delivery point's outcome goes (PEC-SPEC §4.7, §4.8): the envelope into each
//! recipient's INBOX (presumed active, refused by the store if not), and the delivery
//! receipt or the non-delivery notice to the sender: into its box when it is ours, back over
//! SMTP to its provider otherwise.

use super::{Ammissione, Cartella, Contenuto, Decisione, EffettiError, Instradamento};
use crate::chiave::{Chiave, Cosa};
use crate::consegna::{punto_consegna, BustaRicevuta, EsitoConsegna, Recapito, StatoCasella};
use crate::{Emissione, Provider, RiferimentoTemporale};

/// One signed envelope, as the delivery point needs it.
#[derive(Clone)]
pub struct Busta<'a> {
    /// The envelope as read (daticert, original, receipt type).
    pub letta: &'a BustaRicevuta,
    /// Its bytes, stored as they are in each recipient's box.
    pub contenuto: Contenuto,
    /// Where receipts go.
    pub mittente: &'a str,
    /// Its PEC msgid.
    pub identificativo: &'a str,
}

/// Adds to `d`'s plan the delivery of `b` to local `recapiti`, each in the state its box is
/// presumed to be in; `nuovo_id` draws the Message-ID of each receipt or notice. Each is a
/// delivery step ([`super::Piano::consegne`]).
pub fn consegna(
    d: &mut Decisione,
    b: &Busta<'_>,
    recapiti: &[(String, StatoCasella)],
    nuovo_id: &mut dyn FnMut() -> String,
    provider: &Provider,
    r: &Instradamento<'_>,
) -> Result<(), EffettiError> {
    let data = RiferimentoTemporale::from_utc(r.ora);
    let mut eventi = Vec::new();
    for (destinatario, stato) in recapiti {
        let id = nuovo_id();
        let e = Emissione {
            provider,
            data,
            message_id: &id,
        };
        let recapito = Recapito {
            destinatario,
            stato: *stato,
        };
        let esito = punto_consegna(b.letta, &recapito, &e)?;
        eventi.extend_from_slice(esito.eventi());
        let destinatario = destinatario.to_ascii_lowercase();
        let (cosa, ricevuta) = match esito {
            EsitoConsegna::Consegnata { ricevuta, .. } => {
                let chiave = Chiave::Casella {
                    casella: destinatario.clone(),
                    identificativo: b.identificativo.to_string(),
                    cosa: Cosa::Busta,
                };
                d.piano.deposita(
                    &destinatario,
                    Cartella::Inbox,
                    chiave,
                    b.contenuto.clone(),
                    Ammissione::Consegna,
                );
                (Cosa::Consegna(destinatario), ricevuta)
            }
            EsitoConsegna::NonConsegnata { avviso, .. } => {
                (Cosa::MancataConsegna(destinatario), avviso)
            }
        };
        let c = d.firma(ricevuta);
        d.piano
            .ricevuta_verso(r, b.mittente, b.identificativo, cosa, c);
    }
    d.piano.registra(&eventi, b.mittente);
    d.piano.consegne += recapiti.len();
    Ok(())
}
