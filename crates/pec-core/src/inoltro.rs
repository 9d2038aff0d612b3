//! The relay's permanent failures as the sender reads them (PEC-SPEC §4.8): which daticert
//! `errore` an envelope that another provider's side refused for good gets, and the Italian
//! `<errore-esteso>` that explains it in the avviso di mancata consegna.
//!
//! The text follows the practice the samples show (`5.1.1 - FAKE Pec S.p.A. - indirizzo non
//! valido`, PEC-SPEC §4.8): the enhanced status code, the provider that writes the notice, and
//! a short reason in Italian. Whatever the remote server said is quoted after it, on one line
//! and shortened, for the sender's helpdesk: it is the peer's text, in whatever language.

use crate::builder::CausaMancataConsegna;

/// Why a domain cannot be reached at all (no route, before any SMTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DominioIrraggiungibile {
    /// The domain does not exist (NXDOMAIN).
    Inesistente,
    /// The domain says it accepts no mail (null MX, RFC 7505).
    NessunaPosta,
    /// We have no route to it and do not look MX records up.
    NessunPercorso,
}

/// A permanent refusal of one of our envelopes for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RifiutoRemoto {
    /// The recipient's domain cannot be reached.
    Dominio {
        /// The domain.
        dominio: String,
        /// Why.
        perche: DominioIrraggiungibile,
    },
    /// The recipient's server answered 5xx.
    Risposta {
        /// The reply code.
        codice: u16,
        /// Its enhanced status code, when it gave one (`5.1.1`).
        enhanced: Option<String>,
        /// Its text.
        testo: String,
    },
}

/// Longest quote of a remote reply in a notice.
const CITAZIONE_MAX: usize = 200;

/// The daticert cause and the `<errore-esteso>` of the avviso di mancata consegna for
/// `rifiuto`; `gestore` is the name of the provider writing the notice (ours).
///
/// Cause: an unknown domain, or a server answering `5.1.2`, is `no-dominio`; `5.1.1` (bad
/// destination mailbox) is `no-dest`; anything else `altro` (PEC-SPEC §4.8).
pub fn mancata_consegna(rifiuto: &RifiutoRemoto, gestore: &str) -> (CausaMancataConsegna, String) {
    match rifiuto {
        RifiutoRemoto::Dominio { dominio, perche } => {
            let motivo = match perche {
                DominioIrraggiungibile::Inesistente => {
                    format!("il dominio {dominio} non esiste")
                }
                DominioIrraggiungibile::NessunaPosta => {
                    format!("il dominio {dominio} non accetta posta")
                }
                DominioIrraggiungibile::NessunPercorso => {
                    format!("nessun percorso di consegna verso il dominio {dominio}")
                }
            };
            (
                CausaMancataConsegna::NoDominio,
                format!("5.1.2 - {gestore} - {motivo}"),
            )
        }
        RifiutoRemoto::Risposta {
            codice,
            enhanced,
            testo,
        } => {
            let (causa, motivo) = match enhanced.as_deref() {
                Some("5.1.1") => (
                    CausaMancataConsegna::NoDest,
                    "indirizzo non valido presso il gestore del destinatario",
                ),
                Some("5.1.2") => (
                    CausaMancataConsegna::NoDominio,
                    "dominio non valido presso il gestore del destinatario",
                ),
                Some(e) if e.starts_with("5.2.") => (
                    CausaMancataConsegna::Altro,
                    "casella del destinatario non disponibile o piena",
                ),
                _ => (
                    CausaMancataConsegna::Altro,
                    "messaggio rifiutato dal server del destinatario",
                ),
            };
            let codice_esteso = enhanced.clone().unwrap_or_else(|| "5.0.0".into());
            let risposta = citazione(&format!("{codice} {testo}"));
            (
                causa,
                format!("{codice_esteso} - {gestore} - {motivo} (risposta: \"{risposta}\")"),
            )
        }
    }
}

/// A remote text fit to quote: one line, no quotes or controls, at most [`CITAZIONE_MAX`].
fn citazione(testo: &str) -> String {
    let pulito: String = testo
        .chars()
        .map(|c| if c.is_control() || c == '"' { ' ' } else { c })
        .collect();
    let mut out = pulito.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some((i, _)) = out.char_indices().nth(CITAZIONE_MAX) {
        out.truncate(i);
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: &str = "Gestore di Prova S.p.A.";

    #[test]
    fn unreachable_domains_are_no_dominio_in_italian() {
        for (perche, atteso) in [
            (
                DominioIrraggiungibile::Inesistente,
                "il dominio x.it non esiste",
            ),
            (
                DominioIrraggiungibile::NessunaPosta,
                "il dominio x.it non accetta posta",
            ),
            (
                DominioIrraggiungibile::NessunPercorso,
                "nessun percorso di consegna verso il dominio x.it",
            ),
        ] {
            let r = RifiutoRemoto::Dominio {
                dominio: "x.it".into(),
                perche,
            };
            let (causa, testo) = mancata_consegna(&r, G);
            assert_eq!(causa, CausaMancataConsegna::NoDominio);
            assert_eq!(testo, format!("5.1.2 - {G} - {atteso}"));
        }
    }

    #[test]
    fn remote_replies_map_to_the_cause_and_are_quoted_on_one_line() {
        let r = RifiutoRemoto::Risposta {
            codice: 550,
            enhanced: Some("5.1.1".into()),
            testo: "No such user \"anna\"\r\nbye".into(),
        };
        let (causa, testo) = mancata_consegna(&r, G);
        assert_eq!(causa, CausaMancataConsegna::NoDest);
        assert_eq!(
            testo,
            format!(
                "5.1.1 - {G} - indirizzo non valido presso il gestore del destinatario \
                 (risposta: \"550 No such user anna bye\")"
            )
        );
        let r = RifiutoRemoto::Risposta {
            codice: 554,
            enhanced: None,
            testo: "x".repeat(500),
        };
        let (causa, testo) = mancata_consegna(&r, G);
        assert_eq!(causa, CausaMancataConsegna::Altro);
        assert!(testo.starts_with("5.0.0 - "), "{testo}");
        assert!(testo.chars().count() < 320, "{testo}");
        let r = RifiutoRemoto::Risposta {
            codice: 552,
            enhanced: Some("5.2.2".into()),
            testo: "mailbox full".into(),
        };
        assert!(mancata_consegna(&r, G).1.contains("piena"));
    }
}
