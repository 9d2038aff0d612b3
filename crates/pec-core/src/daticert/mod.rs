//! `daticert.xml`, the certification data every PEC message but the anomaly envelope carries
//! (PEC-SPEC §5).
//!
//! The model is typed: enumerated attributes are enums. Values outside the DTD are kept as
//! `Unknown(String)` when *reading* another provider's file, so a reader reports them instead of
//! failing (PEC-SPEC §5.3 "Parser robustness"); the writer refuses to emit them.

mod examples;
mod read;
#[cfg(test)]
mod tests;
mod write;

#[doc(hidden)]
pub use examples::catalogue_examples;
pub use read::{ReadError, MAX_BYTES, MAX_DEPTH, MAX_ELEMENTS};
pub use write::WriteError;

use crate::tempo::RiferimentoTemporale;

/// The DTD of daticert.xml, shipped with the project (PEC-SPEC §5.1).
pub const DTD: &str = include_str!("../../daticert.dtd");

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// A value outside the DTD, kept as read.
            Unknown(String),
        }

        impl $name {
            /// Every value the DTD allows, in DTD order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as written in XML.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Unknown(s) => s,
                }
            }

            /// Parses a value; anything outside the DTD becomes `Unknown`.
            pub fn parse(s: &str) -> Self {
                match s {
                    $($text => $name::$variant,)+
                    other => $name::Unknown(other.to_string()),
                }
            }

            /// True when the value is one the DTD allows.
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Unknown(_))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// `postacert/@tipo`: the kind of message the daticert belongs to.
    Tipo {
        /// Ricevuta di accettazione.
        Accettazione => "accettazione",
        /// Avviso di non accettazione (formal or virus).
        NonAccettazione => "non-accettazione",
        /// Ricevuta di presa in carico.
        PresaInCarico => "presa-in-carico",
        /// Ricevuta di avvenuta consegna.
        AvvenutaConsegna => "avvenuta-consegna",
        /// Busta di trasporto.
        PostaCertificata => "posta-certificata",
        /// Avviso di mancata consegna (also for virus).
        ErroreConsegna => "errore-consegna",
        /// 12 h / 24 h notices.
        PreavvisoErroreConsegna => "preavviso-errore-consegna",
        /// Avviso di rilevazione virus.
        RilevazioneVirus => "rilevazione-virus",
    }
}

vocabulary! {
    /// `postacert/@errore`: the error class; `nessuno` by default.
    Errore {
        /// No error.
        Nessuno => "nessuno",
        /// Unknown recipient.
        NoDest => "no-dest",
        /// Unknown domain.
        NoDominio => "no-dominio",
        /// Virus found.
        Virus => "virus",
        /// Any other error.
        Altro => "altro",
    }
}

vocabulary! {
    /// `destinatari/@tipo`: whether the recipient's domain is a PEC domain.
    TipoDestinatario {
        /// Domain listed in the providers' index (`managedDomains`).
        Certificato => "certificato",
        /// Ordinary e-mail.
        Esterno => "esterno",
    }
}

vocabulary! {
    /// `ricevuta/@tipo` and the `X-TipoRicevuta` header: which delivery receipt is wanted.
    TipoRicevuta {
        /// Full receipt carrying the original.
        Completa => "completa",
        /// Receipt carrying the original with attachments replaced by hashes (PEC-SPEC §6).
        Breve => "breve",
        /// Receipt without the original.
        Sintetica => "sintetica",
    }
}

/// One `<destinatari>`: a To or Cc recipient and its class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destinatario {
    /// The address.
    pub indirizzo: String,
    /// certificato / esterno.
    pub tipo: TipoDestinatario,
}

/// `<intestazione>`: data taken from the original message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intestazione {
    /// Original sender (From = MAIL FROM).
    pub mittente: String,
    /// Every To and Cc recipient; the DTD wants at least one.
    pub destinatari: Vec<Destinatario>,
    /// Original Reply-To (the sender when absent, as real providers do).
    pub risposte: String,
    /// Original subject, when it had one.
    pub oggetto: Option<String>,
}

/// `<dati>`: data produced by the certifying provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dati {
    /// `<gestore-emittente>`: descriptive name of the provider that certifies.
    pub gestore_emittente: String,
    /// `<data>`: the time reference of the event.
    pub data: RiferimentoTemporale,
    /// `<identificativo>`: PEC msgid, without angle brackets.
    pub identificativo: String,
    /// `<msgid>`: the client's original Message-ID, with angle brackets.
    pub msgid: Option<String>,
    /// `<ricevuta tipo=…/>`: on envelopes and delivery receipts.
    pub ricevuta: Option<TipoRicevuta>,
    /// `<consegna>`: the recipient delivered to (or attempted).
    pub consegna: Option<String>,
    /// `<ricezione>`: recipients covered by a presa in carico.
    pub ricezione: Vec<String>,
    /// `<errore-esteso>`: short error description.
    pub errore_esteso: Option<String>,
}

/// A whole `daticert.xml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Daticert {
    /// `postacert/@tipo`.
    pub tipo: Tipo,
    /// `postacert/@errore`.
    pub errore: Errore,
    /// Data from the original message.
    pub intestazione: Intestazione,
    /// Data from the provider.
    pub dati: Dati,
}
