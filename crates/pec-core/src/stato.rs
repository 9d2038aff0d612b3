//! "Stato dell'invio": what happened to a sent message at each recipient, read from the
//! sender's provider's legal log (PEC-SPEC §8). One rule for the webmail's tracking view and
//! the API: the events of one PEC msgid in, a status and a timeline per recipient out.
//!
//! The status is the furthest step reached: delivered (or not delivered, or a virus found)
//! ends the story; a 24 h notice outranks a 12 h one; a presa in carico says the other
//! provider has it; otherwise the message is waiting. A delivery receipt that arrives after a
//! 12 h notice makes the recipient delivered, as the rules say (PEC-SPEC §4.9).

use crate::builder::Scadenza;
use crate::registro::{Evento, TipoEvento};
use crate::tempo::RiferimentoTemporale;

/// Where a recipient's delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stato {
    /// Accepted by us; nothing heard yet.
    InAttesa,
    /// The recipient's provider took the envelope in charge (presa in carico).
    PresoInCarico,
    /// No delivery receipt within 12 h: the sender was warned.
    Avviso12h,
    /// No delivery receipt within 24 h: the sender was told it is not delivered.
    Avviso24h,
    /// A virus was found at the recipient's provider: not delivered.
    Virus,
    /// Not delivered (avviso di mancata consegna).
    NonConsegnato,
    /// Delivered (ricevuta di avvenuta consegna).
    Consegnato,
}

impl Stato {
    /// The label the user reads.
    pub fn etichetta(self) -> &'static str {
        match self {
            Stato::InAttesa => "in attesa",
            Stato::PresoInCarico => "preso in carico",
            Stato::Avviso12h => "avviso 12 ore",
            Stato::Avviso24h => "avviso 24 ore: non consegnato",
            Stato::Virus => "virus: non consegnato",
            Stato::NonConsegnato => "non consegnato",
            Stato::Consegnato => "consegnato",
        }
    }

    /// Whether nothing more will happen.
    pub fn finale(self) -> bool {
        matches!(
            self,
            Stato::Avviso24h | Stato::Virus | Stato::NonConsegnato | Stato::Consegnato
        )
    }
}

/// One step of a recipient's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passo {
    /// When.
    pub data: RiferimentoTemporale,
    /// What it means for the recipient.
    pub stato: Stato,
    /// What happened, in words.
    pub descrizione: String,
}

/// One recipient of a sent message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destinatario {
    /// The address, lower case.
    pub indirizzo: String,
    /// The furthest step.
    pub stato: Stato,
    /// Every step, in log order.
    pub passi: Vec<Passo>,
}

/// The whole story of one sent message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invio {
    /// When it was accepted, if it was.
    pub accettato: Option<RiferimentoTemporale>,
    /// Not accepted (avviso di non accettazione): why.
    pub non_accettato: Option<String>,
    /// Each recipient, in the order the message names them.
    pub destinatari: Vec<Destinatario>,
}

/// The story of the message whose events are `eventi` (all about one PEC msgid, in log
/// order).
pub fn stato_invio(eventi: &[Evento]) -> Invio {
    let mut out = Invio {
        accettato: None,
        non_accettato: None,
        destinatari: Vec::new(),
    };
    // The recipients: those of the envelope's events, in their order.
    for e in eventi {
        for d in &e.destinatari {
            let d = d.to_ascii_lowercase();
            if !out.destinatari.iter().any(|x| x.indirizzo == d) {
                out.destinatari.push(Destinatario {
                    indirizzo: d,
                    stato: Stato::InAttesa,
                    passi: Vec::new(),
                });
            }
        }
    }
    for e in eventi {
        let per = |destinatari: &[String], stato: Stato, descrizione: String| {
            destinatari
                .iter()
                .map(|d| (d.to_ascii_lowercase(), stato, descrizione.clone()))
                .collect::<Vec<_>>()
        };
        let passi = match &e.evento {
            TipoEvento::AccettazioneEmessa => {
                out.accettato.get_or_insert(e.data);
                Vec::new()
            }
            TipoEvento::NonAccettazioneEmessa { descrizione, .. } => {
                out.non_accettato = Some(descrizione.clone());
                Vec::new()
            }
            TipoEvento::BustaInoltrata {
                destinatario,
                gestore,
            } => per(
                std::slice::from_ref(destinatario),
                Stato::InAttesa,
                match gestore {
                    Some(g) => format!("inoltrato al gestore {g}"),
                    None => "inoltrato al server del destinatario".into(),
                },
            ),
            TipoEvento::ConsegnaEmessa { destinatario, .. } => per(
                std::slice::from_ref(destinatario),
                Stato::Consegnato,
                "consegnato nella casella del destinatario".into(),
            ),
            TipoEvento::MancataConsegnaEmessa {
                destinatario,
                errore_esteso,
                ..
            } => per(
                std::slice::from_ref(destinatario),
                Stato::NonConsegnato,
                format!("non consegnato: {errore_esteso}"),
            ),
            TipoEvento::InoltroFallito {
                destinatario,
                errore,
            } => per(
                std::slice::from_ref(destinatario),
                Stato::InAttesa,
                format!("inoltro non riuscito: {errore}"),
            ),
            TipoEvento::ScadenzaEmessa {
                scadenza,
                destinatario,
            } => {
                let (stato, testo) = match scadenza {
                    Scadenza::Ore12 => (
                        Stato::Avviso12h,
                        "nessuna ricevuta di consegna entro 12 ore",
                    ),
                    Scadenza::Ore24 => (
                        Stato::Avviso24h,
                        "nessuna ricevuta di consegna entro 24 ore",
                    ),
                };
                per(std::slice::from_ref(destinatario), stato, testo.into())
            }
            TipoEvento::RicevutaRicevuta {
                ricevuta, riguarda, ..
            } => {
                let (stato, testo) = match ricevuta.as_str() {
                    "presa-in-carico" => (
                        Stato::PresoInCarico,
                        "preso in carico dal gestore del destinatario",
                    ),
                    "consegna-completa" | "consegna-breve" | "consegna-sintetica" => (
                        Stato::Consegnato,
                        "consegnato: ricevuta di avvenuta consegna",
                    ),
                    "rilevazione-virus" | "mancata-consegna-virus" => {
                        (Stato::Virus, "virus rilevato dal gestore del destinatario")
                    }
                    k if k.starts_with("mancata-consegna") => (
                        Stato::NonConsegnato,
                        "non consegnato: avviso di mancata consegna",
                    ),
                    _ => continue,
                };
                per(riguarda, stato, testo.into())
            }
            _ => Vec::new(),
        };
        for (indirizzo, stato, descrizione) in passi {
            let Some(d) = out
                .destinatari
                .iter_mut()
                .find(|d| d.indirizzo == indirizzo)
            else {
                continue;
            };
            d.passi.push(Passo {
                data: e.data,
                stato,
                descrizione,
            });
            d.stato = avanza(d.stato, stato);
        }
    }
    out
}

/// The status after a step: a final status stays, except that a delivery receipt after a
/// 24 h notice still means delivered; otherwise the furthest step counts.
fn avanza(ora: Stato, passo: Stato) -> Stato {
    match (ora, passo) {
        (_, Stato::Consegnato) => Stato::Consegnato,
        (Stato::Consegnato, _) => Stato::Consegnato,
        (a, b) if a.finale() && !b.finale() => a,
        (a, b) => a.max(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::DatiMessaggio;
    use crate::daticert::{Destinatario as D, TipoDestinatario, TipoRicevuta};
    use crate::prova::adesso;

    fn evento(tipo: TipoEvento, minuti: i64) -> Evento {
        let dati = DatiMessaggio {
            mittente: "mario@pec.a.it".into(),
            risposte: "mario@pec.a.it".into(),
            destinatari: ["anna@pec.b.it", "Giulia@pec.a.it"]
                .iter()
                .map(|a| D {
                    indirizzo: a.to_string(),
                    tipo: TipoDestinatario::Certificato,
                })
                .collect(),
            oggetto: Some("prova".into()),
            identificativo: "id@pec.a.it".into(),
            msgid: None,
            tipo_ricevuta: TipoRicevuta::Completa,
        };
        let t = RiferimentoTemporale::from_utc(adesso().utc() + chrono::Duration::minutes(minuti));
        Evento::di(tipo, t, &dati, "A", Vec::new())
    }

    fn ricevuta(kind: &str, chi: &str, minuti: i64) -> Evento {
        evento(
            TipoEvento::RicevutaRicevuta {
                ricevuta: kind.into(),
                riguarda: vec![chi.into()],
                caselle: vec!["mario@pec.a.it".into()],
            },
            minuti,
        )
    }

    #[test]
    fn each_recipient_has_its_own_status_and_timeline() {
        let eventi = vec![
            evento(TipoEvento::AccettazioneEmessa, 0),
            evento(TipoEvento::BustaEmessa, 0),
            evento(
                TipoEvento::ConsegnaEmessa {
                    ricevuta: TipoRicevuta::Completa,
                    destinatario: "giulia@pec.a.it".into(),
                },
                0,
            ),
            evento(
                TipoEvento::BustaInoltrata {
                    destinatario: "anna@pec.b.it".into(),
                    gestore: Some("B".into()),
                },
                1,
            ),
            ricevuta("presa-in-carico", "anna@pec.b.it", 2),
        ];
        let s = stato_invio(&eventi);
        assert!(s.accettato.is_some() && s.non_accettato.is_none());
        let stati: Vec<_> = s
            .destinatari
            .iter()
            .map(|d| (d.indirizzo.as_str(), d.stato))
            .collect();
        assert_eq!(
            stati,
            vec![
                ("anna@pec.b.it", Stato::PresoInCarico),
                ("giulia@pec.a.it", Stato::Consegnato)
            ]
        );
        assert_eq!(s.destinatari[0].passi.len(), 2);
        assert!(s.destinatari[0].passi[0].descrizione.contains("gestore B"));
    }

    #[test]
    fn notices_advance_and_a_late_delivery_still_counts() {
        let anna = "anna@pec.b.it";
        let base = vec![evento(TipoEvento::AccettazioneEmessa, 0)];
        let con = |extra: Vec<Evento>| {
            let mut e = base.clone();
            e.extend(extra);
            stato_invio(&e).destinatari[0].stato
        };
        let scad = |s: Scadenza, m| {
            evento(
                TipoEvento::ScadenzaEmessa {
                    scadenza: s,
                    destinatario: anna.into(),
                },
                m,
            )
        };
        assert_eq!(con(vec![]), Stato::InAttesa);
        assert_eq!(con(vec![scad(Scadenza::Ore12, 720)]), Stato::Avviso12h);
        assert_eq!(
            con(vec![
                scad(Scadenza::Ore12, 720),
                scad(Scadenza::Ore24, 1410)
            ]),
            Stato::Avviso24h
        );
        assert_eq!(
            con(vec![
                scad(Scadenza::Ore12, 720),
                ricevuta("consegna-breve", anna, 800)
            ]),
            Stato::Consegnato
        );
        assert_eq!(
            con(vec![ricevuta("rilevazione-virus", anna, 5)]),
            Stato::Virus
        );
        assert_eq!(
            con(vec![
                ricevuta("mancata-consegna", anna, 5),
                ricevuta("presa-in-carico", anna, 6)
            ]),
            Stato::NonConsegnato
        );
    }

    #[test]
    fn a_refused_message_says_why() {
        let s = stato_invio(&[evento(
            TipoEvento::NonAccettazioneEmessa {
                motivo: "virus".into(),
                descrizione: "virus rilevato".into(),
            },
            0,
        )]);
        assert_eq!(s.non_accettato.as_deref(), Some("virus rilevato"));
        assert!(s.accettato.is_none());
    }
}
