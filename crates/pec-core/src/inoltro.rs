//! The relay's permanent failures as the sender reads them (PEC-SPEC §4.8): which daticert
//! `errore` an envelope that another provider's side refused for good gets, and the Italian
//! `<errore-esteso>` that explains it in the avviso di mancata consegna.
//!
//! The text follows the practice the samples show (`5.1.1 - FAKE Pec S.p.A. - indirizzo non
//! valido`, PEC-SPEC §4.8): the enhanced status code, the provider that writes the notice, and
//! a short reason in Italian. Whatever the remote server said is quoted after it, on one line
//! and shortened, for the sender's helpdesk: it is the peer's text, in whatever language.

use crate::builder::{
    avviso_mancata_consegna, BuildError, CausaMancataConsegna, DatiMessaggio, Emissione, Scadenza,
};
use crate::registro::{Evento, TipoEvento};
use crate::UnsignedMessage;
use chrono::{DateTime, Duration, Utc};

/// How long the relay keeps trying an envelope or a receipt after acceptance (PEC-SPEC §2.3:
/// 24 h maximum idleness; the 24 h notice tells the sender).
pub const TENTATIVI_PER: Duration = Duration::hours(24);

/// What the sender side does after a send failed for now (4xx, peer down, timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DopoErrore {
    /// Try again later (with backoff).
    Riprova,
    /// Stop: [`TENTATIVI_PER`] passed since acceptance.
    Abbandona,
}

/// Whether a temporary failure at `ora` of a message accepted at `accettato` is retried.
pub fn dopo_errore_temporaneo(accettato: DateTime<Utc>, ora: DateTime<Utc>) -> DopoErrore {
    if ora - accettato < TENTATIVI_PER {
        DopoErrore::Riprova
    } else {
        DopoErrore::Abbandona
    }
}

/// The sender side's answer to an envelope another provider's side refused for good.
#[derive(Debug)]
pub struct Rifiutata {
    /// The avviso di mancata consegna to the original sender (PEC-SPEC §4.8), to sign.
    pub avviso: UnsignedMessage,
    /// Its log event.
    pub evento: Evento,
    /// The recipient's 12 h / 24 h checks it cancels: the transaction is closed.
    pub annullate: &'static [Scadenza],
}

/// Decides [`Rifiutata`] for `rifiuto` of our envelope `dati` to `destinatario`, with the
/// notice's Message-ID and time in `e`.
pub fn rifiutata(
    rifiuto: &RifiutoRemoto,
    e: &Emissione<'_>,
    dati: &DatiMessaggio,
    destinatario: &str,
) -> Result<Rifiutata, BuildError> {
    let (causa, testo) = mancata_consegna(rifiuto, &e.provider.nome);
    let avviso = avviso_mancata_consegna(e, dati, destinatario, causa, &testo)?;
    let evento = Evento::di(
        TipoEvento::MancataConsegnaEmessa {
            errore: causa.errore(),
            errore_esteso: testo,
            destinatario: destinatario.to_string(),
        },
        e.data,
        dati,
        &e.provider.nome,
        vec![crate::builder::senza_parentesi(e.message_id).to_string()],
    );
    Ok(Rifiutata {
        avviso,
        evento,
        annullate: &[Scadenza::Ore12, Scadenza::Ore24],
    })
}

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
    fn temporary_failures_are_retried_for_24_hours_from_acceptance() {
        let t = crate::prova::adesso().utc();
        assert_eq!(dopo_errore_temporaneo(t, t), DopoErrore::Riprova);
        let quasi = t + Duration::hours(24) - Duration::milliseconds(1);
        assert_eq!(dopo_errore_temporaneo(t, quasi), DopoErrore::Riprova);
        let oltre = t + Duration::hours(24);
        assert_eq!(dopo_errore_temporaneo(t, oltre), DopoErrore::Abbandona);
    }

    #[test]
    fn a_refusal_for_good_is_a_signed_notice_its_event_and_both_checks_cancelled() {
        let provider = crate::prova::provider();
        let e = Emissione {
            provider: &provider,
            data: crate::prova::adesso(),
            message_id: "<avviso.1@pec.example.test>",
        };
        let dati = crate::builder::sample::dati("opec.1@pec.example.test");
        let r = RifiutoRemoto::Risposta {
            codice: 550,
            enhanced: Some("5.1.1".into()),
            testo: "unknown".into(),
        };
        let out = rifiutata(&r, &e, &dati, "x@pec.altro.test").unwrap();
        assert_eq!(out.annullate, &[Scadenza::Ore12, Scadenza::Ore24]);
        match &out.evento.evento {
            TipoEvento::MancataConsegnaEmessa {
                errore,
                destinatario,
                errore_esteso,
            } => {
                assert_eq!(*errore, crate::daticert::Errore::NoDest);
                assert_eq!(destinatario, "x@pec.altro.test");
                assert!(errore_esteso.starts_with("5.1.1 - "), "{errore_esteso}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            out.evento.generati,
            vec!["avviso.1@pec.example.test".to_string()]
        );
        let letto = crate::inspect::inspect(&crate::prova::firma_finta(&out.avviso)).unwrap();
        assert_eq!(letto.kind, crate::MessageKind::MancataConsegna);
    }

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
