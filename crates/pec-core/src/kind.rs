//! The catalogue of PEC message kinds (PEC-SPEC §4, summary matrix §4.12).

use crate::daticert::{Errore, Tipo};

/// Every kind of message a PEC provider emits, plus ordinary mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// Busta di trasporto (§4.1).
    BustaTrasporto,
    /// Busta di anomalia (§4.2).
    BustaAnomalia,
    /// Ricevuta di accettazione (§4.3).
    Accettazione,
    /// Avviso di non accettazione, formal exceptions (§4.4).
    NonAccettazione,
    /// Avviso di non accettazione per virus (§4.5).
    NonAccettazioneVirus,
    /// Ricevuta di presa in carico (§4.6).
    PresaInCarico,
    /// Ricevuta di avvenuta consegna completa (§4.7).
    ConsegnaCompleta,
    /// Ricevuta di avvenuta consegna breve (§4.7, §6).
    ConsegnaBreve,
    /// Ricevuta di avvenuta consegna sintetica (§4.7).
    ConsegnaSintetica,
    /// Avviso di mancata consegna (§4.8).
    MancataConsegna,
    /// Preavviso di mancata consegna after 12 h (§4.9).
    Preavviso12h,
    /// Avviso di mancata consegna for exceeding 24 h (§4.9).
    MancataConsegna24h,
    /// Avviso di rilevazione virus (§4.10).
    RilevazioneVirus,
    /// Avviso di mancata consegna per virus (§4.11).
    MancataConsegnaVirus,
    /// Ordinary mail: no PEC header.
    Ordinaria,
}

impl MessageKind {
    /// Every PEC kind a provider emits (ordinary mail excluded), in catalogue order.
    pub const PEC: [MessageKind; 14] = [
        MessageKind::BustaTrasporto,
        MessageKind::BustaAnomalia,
        MessageKind::Accettazione,
        MessageKind::NonAccettazione,
        MessageKind::NonAccettazioneVirus,
        MessageKind::PresaInCarico,
        MessageKind::ConsegnaCompleta,
        MessageKind::ConsegnaBreve,
        MessageKind::ConsegnaSintetica,
        MessageKind::MancataConsegna,
        MessageKind::Preavviso12h,
        MessageKind::MancataConsegna24h,
        MessageKind::RilevazioneVirus,
        MessageKind::MancataConsegnaVirus,
    ];

    /// The short name used on the command line and in JSON (`gestore sample KIND`).
    pub fn name(self) -> &'static str {
        use MessageKind::*;
        match self {
            BustaTrasporto => "busta",
            BustaAnomalia => "anomalia",
            Accettazione => "accettazione",
            NonAccettazione => "non-accettazione",
            NonAccettazioneVirus => "non-accettazione-virus",
            PresaInCarico => "presa-in-carico",
            ConsegnaCompleta => "consegna-completa",
            ConsegnaBreve => "consegna-breve",
            ConsegnaSintetica => "consegna-sintetica",
            MancataConsegna => "mancata-consegna",
            Preavviso12h => "preavviso-12h",
            MancataConsegna24h => "mancata-consegna-24h",
            RilevazioneVirus => "rilevazione-virus",
            MancataConsegnaVirus => "mancata-consegna-virus",
            Ordinaria => "ordinaria",
        }
    }

    /// The inverse of [`MessageKind::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::PEC
            .into_iter()
            .chain([MessageKind::Ordinaria])
            .find(|k| k.name() == name)
    }

    /// A human description in Italian, for summaries.
    pub fn descrizione(self) -> &'static str {
        use MessageKind::*;
        match self {
            BustaTrasporto => "busta di trasporto",
            BustaAnomalia => "busta di anomalia",
            Accettazione => "ricevuta di accettazione",
            NonAccettazione => "avviso di non accettazione",
            NonAccettazioneVirus => "avviso di non accettazione per virus",
            PresaInCarico => "ricevuta di presa in carico",
            ConsegnaCompleta => "ricevuta di avvenuta consegna completa",
            ConsegnaBreve => "ricevuta di avvenuta consegna breve",
            ConsegnaSintetica => "ricevuta di avvenuta consegna sintetica",
            MancataConsegna => "avviso di mancata consegna",
            Preavviso12h => "preavviso di mancata consegna (12 ore)",
            MancataConsegna24h => {
                "avviso di mancata consegna per superamento tempo massimo (24 ore)"
            }
            RilevazioneVirus => "avviso di rilevazione virus",
            MancataConsegnaVirus => "avviso di mancata consegna per virus",
            Ordinaria => "posta ordinaria",
        }
    }

    /// The PEC header that marks the kind: (`X-Trasporto` | `X-Ricevuta`, value) (§3.4).
    pub fn pec_header(self) -> Option<(&'static str, &'static str)> {
        use MessageKind::*;
        Some(match self {
            BustaTrasporto => ("X-Trasporto", "posta-certificata"),
            BustaAnomalia => ("X-Trasporto", "errore"),
            Accettazione => ("X-Ricevuta", "accettazione"),
            NonAccettazione | NonAccettazioneVirus => ("X-Ricevuta", "non-accettazione"),
            PresaInCarico => ("X-Ricevuta", "presa-in-carico"),
            ConsegnaCompleta | ConsegnaBreve | ConsegnaSintetica => {
                ("X-Ricevuta", "avvenuta-consegna")
            }
            MancataConsegna | MancataConsegnaVirus => ("X-Ricevuta", "errore-consegna"),
            Preavviso12h | MancataConsegna24h => ("X-Ricevuta", "preavviso-errore-consegna"),
            RilevazioneVirus => ("X-Ricevuta", "rilevazione-virus"),
            Ordinaria => return None,
        })
    }

    /// The subject prefix, without the `": "` that joins it to the original subject (§3.5).
    pub fn subject_prefix(self) -> Option<&'static str> {
        use MessageKind::*;
        Some(match self {
            BustaTrasporto => "POSTA CERTIFICATA",
            BustaAnomalia => "ANOMALIA MESSAGGIO",
            Accettazione => "ACCETTAZIONE",
            NonAccettazione => "AVVISO DI NON ACCETTAZIONE",
            NonAccettazioneVirus => "AVVISO DI NON ACCETTAZIONE PER VIRUS",
            PresaInCarico => "PRESA IN CARICO",
            ConsegnaCompleta | ConsegnaBreve | ConsegnaSintetica => "CONSEGNA",
            MancataConsegna => "AVVISO DI MANCATA CONSEGNA",
            Preavviso12h | MancataConsegna24h => {
                "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO"
            }
            RilevazioneVirus => "PROBLEMA DI SICUREZZA",
            MancataConsegnaVirus => "AVVISO DI MANCATA CONSEGNA PER VIRUS",
            Ordinaria => return None,
        })
    }

    /// daticert `tipo` for the kind (`None` for the anomaly envelope and ordinary mail, which
    /// carry no daticert).
    pub fn daticert_tipo(self) -> Option<Tipo> {
        use MessageKind::*;
        Some(match self {
            BustaTrasporto => Tipo::PostaCertificata,
            Accettazione => Tipo::Accettazione,
            NonAccettazione | NonAccettazioneVirus => Tipo::NonAccettazione,
            PresaInCarico => Tipo::PresaInCarico,
            ConsegnaCompleta | ConsegnaBreve | ConsegnaSintetica => Tipo::AvvenutaConsegna,
            MancataConsegna | MancataConsegnaVirus => Tipo::ErroreConsegna,
            Preavviso12h | MancataConsegna24h => Tipo::PreavvisoErroreConsegna,
            RilevazioneVirus => Tipo::RilevazioneVirus,
            BustaAnomalia | Ordinaria => return None,
        })
    }

    /// Whether the message carries the original as `postacert.eml` (§4.12).
    pub fn carries_postacert(self) -> bool {
        use MessageKind::*;
        matches!(
            self,
            BustaTrasporto | BustaAnomalia | ConsegnaCompleta | ConsegnaBreve
        )
    }

    /// Whether the kind carries `X-VerificaSicurezza: errore` (§3.4, §11.20).
    pub fn verifica_sicurezza(self) -> bool {
        matches!(
            self,
            MessageKind::NonAccettazioneVirus | MessageKind::MancataConsegnaVirus
        )
    }

    /// The default daticert `errore` of the kind; the builder may choose another
    /// (e.g. `no-dest` vs `altro` for mancata consegna).
    pub fn default_errore(self) -> Errore {
        use MessageKind::*;
        match self {
            NonAccettazioneVirus | MancataConsegnaVirus | RilevazioneVirus => Errore::Virus,
            // PEC-SPEC §11.6: not pinned by the DTD; we use `altro` (UNCONFIRMED).
            NonAccettazione | MancataConsegna | Preavviso12h | MancataConsegna24h => Errore::Altro,
            _ => Errore::Nessuno,
        }
    }
}

impl std::fmt::Display for MessageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in MessageKind::PEC {
            assert_eq!(MessageKind::from_name(k.name()), Some(k));
        }
        assert_eq!(MessageKind::from_name("nope"), None);
    }

    #[test]
    fn only_anomaly_lacks_daticert_among_pec_kinds() {
        let without: Vec<_> = MessageKind::PEC
            .into_iter()
            .filter(|k| k.daticert_tipo().is_none())
            .collect();
        assert_eq!(without, vec![MessageKind::BustaAnomalia]);
    }
}
