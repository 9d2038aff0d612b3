//! The human text of every message (PEC-SPEC §3.1 and "Human text" of §4.x), in Italian.
//!
//! The wording follows the real Aruba messages (samples in PEC-SPEC §0, e.g. "Il giorno
//! 07/11/2014 alle ore 16:52:00 (+0100) il messaggio con Oggetto …"); kinds without a sample get
//! a text with the facts the spec lists. One template per kind, each a list of lines, rendered
//! twice: `text/plain` and an HTML page with the same facts, no external resource, no script.
//! Readers must never parse this text (PEC-SPEC §3.1): daticert.xml is the data.

use super::{DatiMessaggio, Emissione};
use crate::daticert::{TipoDestinatario, TipoRicevuta};

/// A title and lines; an empty line separates paragraphs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Testo {
    titolo: String,
    righe: Vec<String>,
}

const ALLEGATO_POSTACERT: &str = "Il messaggio originale \u{e8} incluso in allegato, per aprirlo \
cliccare sul file \"postacert.eml\" (nella webmail o in alcuni client di posta l'allegato \
potrebbe avere come nome l'oggetto del messaggio originale).";

const ALLEGATO_DATICERT: &str =
    "L'allegato daticert.xml contiene informazioni di servizio sulla trasmissione";

impl Testo {
    fn new(titolo: impl Into<String>) -> Self {
        Self {
            titolo: titolo.into(),
            righe: Vec::new(),
        }
    }

    fn riga(mut self, r: impl Into<String>) -> Self {
        self.righe.push(r.into());
        self
    }

    fn righe(mut self, rr: impl IntoIterator<Item = String>) -> Self {
        self.righe.extend(rr);
        self
    }

    /// `text/plain`, LF line ends (the encoder writes CRLF).
    pub fn plain(&self) -> String {
        let mut s = format!("-- {} --\n\n", self.titolo);
        for r in &self.righe {
            s.push_str(r);
            s.push('\n');
        }
        s
    }

    /// `text/html`: the same lines, escaped, paragraphs as `<p>`, declaring `charset`.
    pub fn html(&self, charset: &str) -> String {
        let titolo = escape(&self.titolo);
        let mut s = format!(
            "<!DOCTYPE html>\n<html lang=\"it\">\n<head>\n\
<meta http-equiv=\"Content-Type\" content=\"text/html; charset={charset}\">\n\
<title>{titolo}</title>\n</head>\n<body>\n<h3>{titolo}</h3>\n"
        );
        for paragrafo in self.righe.split(String::is_empty) {
            if paragrafo.is_empty() {
                continue;
            }
            let righe: Vec<String> = paragrafo.iter().map(|r| escape(r)).collect();
            s.push_str("<p>");
            s.push_str(&righe.join("<br>\n"));
            s.push_str("</p>\n");
        }
        s.push_str("</body>\n</html>\n");
        s
    }
}

/// HTML-escapes text (RFC 4.3.1: no active content can slip in through a subject).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn oggetto(d: &DatiMessaggio) -> &str {
    d.oggetto.as_deref().unwrap_or_default()
}

fn identificativo(d: &DatiMessaggio) -> String {
    format!("Identificativo del messaggio: {}", d.identificativo)
}

/// `a@b ("posta certificata")` / `("posta ordinaria")` (PEC-SPEC §4.3).
fn destinatari_con_tipo(d: &DatiMessaggio) -> Vec<String> {
    d.destinatari
        .iter()
        .map(|x| {
            let tipo = match x.tipo {
                TipoDestinatario::Esterno => "posta ordinaria",
                _ => "posta certificata",
            };
            format!("{} (\"{tipo}\")", x.indirizzo)
        })
        .collect()
}

/// "Il giorno … il messaggio con Oggetto" / "\"…\" inviato da \"…\"".
fn apertura(e: &Emissione<'_>, d: &DatiMessaggio) -> [String; 2] {
    [
        format!("Il giorno {} il messaggio con Oggetto", e.data.testo()),
        format!("\"{}\" inviato da \"{}\"", oggetto(d), d.mittente),
    ]
}

/// Busta di trasporto (§4.1), worded as Aruba's.
pub(crate) fn busta(e: &Emissione<'_>, d: &DatiMessaggio) -> Testo {
    Testo::new("Questo \u{e8} un Messaggio di Posta Certificata")
        .riga(format!(
            "Il giorno {} il messaggio con Oggetto",
            e.data.testo()
        ))
        .riga(format!(
            "\"{}\" \u{e8} stato inviato dal mittente \"{}\"",
            oggetto(d),
            d.mittente
        ))
        .riga("e indirizzato a:")
        .righe(d.destinatari.iter().map(|x| x.indirizzo.clone()))
        .riga(ALLEGATO_POSTACERT)
        .riga(ALLEGATO_DATICERT)
        .riga(format!(
            "L'identificativo univoco di questo messaggio \u{e8}: {}",
            d.identificativo
        ))
}

/// Busta di anomalia (§4.2): the data are not certified, and why.
pub(crate) fn anomalia(
    e: &Emissione<'_>,
    mittente: &str,
    oggetto: &str,
    destinatari: &[String],
    motivo: &str,
) -> Testo {
    Testo::new("Anomalia nel messaggio")
        .riga(format!(
            "Il giorno {} \u{e8} stato ricevuto",
            e.data.testo()
        ))
        .riga(format!(
            "il messaggio \"{oggetto}\" proveniente da \"{mittente}\""
        ))
        .riga("ed indirizzato a:")
        .righe(destinatari.iter().cloned())
        .riga("Tali dati non sono stati certificati per il seguente errore:")
        .riga(motivo)
        .riga("Il messaggio originale \u{e8} incluso in allegato.")
}

/// Ricevuta di accettazione (§4.3), worded as Aruba's.
pub(crate) fn accettazione(e: &Emissione<'_>, d: &DatiMessaggio) -> Testo {
    Testo::new("Ricevuta di accettazione")
        .righe(apertura(e, d))
        .riga("ed indirizzato a:")
        .righe(destinatari_con_tipo(d))
        .riga("\u{e8} stato accettato dal sistema ed inoltrato.")
        .riga(identificativo(d))
        .riga(ALLEGATO_DATICERT)
}

/// Avviso di non accettazione (§4.4) and its virus variant (§4.5).
pub(crate) fn non_accettazione(e: &Emissione<'_>, d: &DatiMessaggio, causa: Causa<'_>) -> Testo {
    let (titolo, problema) = match causa {
        Causa::Formale(m) => (
            "Avviso di non accettazione",
            format!(
                "\u{e8} stato rilevato un problema che ne impedisce l'accettazione a causa di: {m}"
            ),
        ),
        Causa::Virus(v) => (
            "Avviso di non accettazione per virus",
            format!("\u{e8} stato rilevato un problema di sicurezza nel contenuto: {v}"),
        ),
    };
    Testo::new(titolo)
        .riga("Errore nell'accettazione del messaggio")
        .riga(format!(
            "Il giorno {} nel messaggio con Oggetto",
            e.data.testo()
        ))
        .riga(format!("\"{}\" inviato da \"{}\"", oggetto(d), d.mittente))
        .riga("e indirizzato a:")
        .righe(d.destinatari.iter().map(|x| x.indirizzo.clone()))
        .riga(problema)
        .riga("Il messaggio non \u{e8} stato accettato.")
        .riga(identificativo(d))
        .riga(ALLEGATO_DATICERT)
}

/// Why a message was refused or not delivered, for the texts that share a template.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Causa<'a> {
    /// A formal or delivery error, described.
    Formale(&'a str),
    /// A virus, named.
    Virus(&'a str),
}

/// Ricevuta di presa in carico (§4.6): the recipients this provider took charge of.
pub(crate) fn presa_in_carico(e: &Emissione<'_>, d: &DatiMessaggio, ricezione: &[String]) -> Testo {
    Testo::new("Ricevuta di presa in carico")
        .righe(apertura(e, d))
        .riga("ed indirizzato a:")
        .righe(ricezione.iter().cloned())
        .riga("\u{e8} stato accettato dal sistema.")
        .riga(identificativo(d))
        .riga(ALLEGATO_DATICERT)
}

/// Ricevuta di avvenuta consegna (§4.7), one per recipient, titled by kind.
pub(crate) fn consegna(
    e: &Emissione<'_>,
    d: &DatiMessaggio,
    destinatario: &str,
    tipo: &TipoRicevuta,
) -> Testo {
    let (titolo, allegato) = match tipo {
        TipoRicevuta::Breve => (
            "Ricevuta breve di avvenuta consegna",
            "Il messaggio originale \u{e8} incluso in allegato (file \"postacert.eml\"); i suoi \
allegati sono sostituiti dai rispettivi hash SHA-1.",
        ),
        TipoRicevuta::Sintetica => (
            "Ricevuta sintetica di avvenuta consegna",
            "Il messaggio originale non \u{e8} allegato a questa ricevuta.",
        ),
        _ => ("Ricevuta di avvenuta consegna", ALLEGATO_POSTACERT),
    };
    Testo::new(format!(
        "{titolo} del messaggio indirizzato a {destinatario}"
    ))
    .righe(apertura(e, d))
    .riga(format!("ed indirizzato a \"{destinatario}\""))
    .riga("\u{e8} stato correttamente consegnato al destinatario.")
    .riga(identificativo(d))
    .riga(allegato)
    .riga(ALLEGATO_DATICERT)
    .riga("")
    .riga("NOTA: la presenza del messaggio originale (file postacert.eml) dipende dal tipo")
    .riga("di ricevuta di consegna richiesto dal mittente:")
    .riga(" - completa (predefinita): il messaggio originale completo \u{e8} allegato;")
    .riga(" - breve: il messaggio originale \u{e8} allegato ma i suoi allegati sono")
    .riga("   sostituiti dai rispettivi hash;")
    .riga(" - sintetica: il messaggio originale non \u{e8} allegato.")
}

/// Avviso di mancata consegna (§4.8) and its virus variant (§4.11).
pub(crate) fn mancata_consegna(
    e: &Emissione<'_>,
    d: &DatiMessaggio,
    destinatario: &str,
    causa: Causa<'_>,
) -> Testo {
    let (titolo, errore) = match causa {
        Causa::Formale(m) => (
            "Avviso di mancata consegna",
            format!("\u{e8} stato rilevato un errore: {m}"),
        ),
        Causa::Virus(v) => (
            "Avviso di mancata consegna per virus",
            format!("\u{e8} stato rilevato un problema di sicurezza: {v}"),
        ),
    };
    Testo::new(titolo)
        .riga(format!(
            "Il giorno {} nel messaggio con Oggetto",
            e.data.testo()
        ))
        .riga(format!("\"{}\" inviato da \"{}\"", oggetto(d), d.mittente))
        .riga(format!("ed indirizzato a \"{destinatario}\""))
        .riga(errore)
        .riga("Il messaggio non \u{e8} stato consegnato al destinatario.")
        .riga(identificativo(d))
        .riga(ALLEGATO_DATICERT)
}

/// The 12 h preavviso and the 24 h avviso (§4.9).
pub(crate) fn scadenza(
    e: &Emissione<'_>,
    d: &DatiMessaggio,
    destinatario: &str,
    ore24: bool,
) -> Testo {
    let t = if ore24 {
        Testo::new("Avviso di mancata consegna per superamento del tempo massimo")
    } else {
        Testo::new("Preavviso di mancata consegna")
    };
    let t = t
        .riga(format!(
            "Il giorno {} si comunica che il messaggio con Oggetto",
            e.data.testo()
        ))
        .riga(format!("\"{}\" inviato da \"{}\"", oggetto(d), d.mittente))
        .riga(format!("ed indirizzato a \"{destinatario}\""));
    let t = if ore24 {
        t.riga("non \u{e8} stato consegnato entro 24 ore dal suo invio.")
            .riga("La transazione \u{e8} da considerarsi conclusa con esito negativo.")
    } else {
        t.riga("non \u{e8} stato consegnato nelle prime 12 ore dal suo invio.")
            .riga("Il messaggio potrebbe ancora essere consegnato, ma si consiglia di")
            .riga("considerare un possibile mancato recapito. Se la consegna non avverr\u{e0}")
            .riga("nelle successive 12 ore, seguir\u{e0} un ulteriore avviso.")
    };
    t.riga(identificativo(d)).riga(ALLEGATO_DATICERT)
}

/// Avviso di rilevazione virus (§4.10), to the sender's provider.
pub(crate) fn rilevazione_virus(
    e: &Emissione<'_>,
    d: &DatiMessaggio,
    destinatario: &str,
    virus: &str,
) -> Testo {
    Testo::new("Problema di sicurezza")
        .riga(format!("Il giorno {} nel messaggio con Oggetto", e.data.testo()))
        .riga(format!("\"{}\" inviato da \"{}\"", oggetto(d), d.mittente))
        .riga(format!("ed indirizzato a \"{destinatario}\""))
        .riga(format!("\u{e8} stato rilevato un problema di sicurezza: {virus}"))
        .riga("La trasmissione non \u{e8} stata completata: il messaggio non \u{e8} stato consegnato.")
        .riga(identificativo(d))
        .riga(ALLEGATO_DATICERT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_everything_and_loads_nothing() {
        let t = Testo::new("T <b>")
            .riga("\"<script>alert(1)</script>\" & 'x'")
            .riga("")
            .riga("due");
        let h = t.html("iso-8859-1");
        assert!(!h.contains("<script"), "{h}");
        assert!(h.contains("&lt;script&gt;"));
        assert!(h.contains("&quot;") && h.contains("&amp;") && h.contains("&#39;"));
        assert_eq!(h.matches("<p>").count(), 2);
        for vietato in ["src=", "href=", "url(", "<img", "<link", "<style"] {
            assert!(!h.contains(vietato), "{vietato}");
        }
    }

    #[test]
    fn plain_has_title_then_lines() {
        let t = Testo::new("Titolo").riga("a").riga("b");
        assert_eq!(t.plain(), "-- Titolo --\n\na\nb\n");
    }
}
