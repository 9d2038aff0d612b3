//! The signature of a message as the webmail states it: intact and from a provider in the
//! providers' index, intact but from a signer the index does not list, altered, or not
//! signed. The same facts `gestore verify` reports, in Italian.

use pec_smime::{Verification, VerifyError};

/// What the page says about a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firma {
    /// The verdict, in words.
    pub esito: &'static str,
    /// `ok`, `avviso` or `ko`, for the page's colour.
    pub classe: &'static str,
    /// The signer's certificate subject, when there is one.
    pub firmatario: Option<String>,
    /// The signer's address(es) in the certificate.
    pub indirizzi: String,
    /// When it was signed (the signer's claim), Europe/Rome.
    pub firmato: Option<String>,
    /// Why it is not intact or not trusted, in openssl's words.
    pub dettaglio: Option<String>,
}

/// The statement for a verification result.
pub fn firma(v: &Result<Verification, VerifyError>) -> Firma {
    let v = match v {
        Ok(v) => v,
        Err(e) => {
            return Firma {
                esito: "Non firmato: non è un messaggio PEC firmato da un gestore",
                classe: "ko",
                firmatario: None,
                indirizzi: String::new(),
                firmato: None,
                dettaglio: Some(e.to_string()),
            }
        }
    };
    let (esito, classe, dettaglio) = match (v.intact, v.trusted && v.chain_valid) {
        (false, _) => (
            "Firma non valida: il messaggio è stato alterato dopo la firma",
            "ko",
            v.integrity_error.clone(),
        ),
        (true, true) => (
            "Firma integra di un gestore presente nell'indice dei gestori PEC",
            "ok",
            None,
        ),
        (true, false) => (
            "Firma integra, ma il firmatario non è un gestore dell'indice dei gestori PEC",
            "avviso",
            v.chain_error.clone(),
        ),
    };
    Firma {
        esito,
        classe,
        firmatario: v.signer.as_ref().map(|s| s.subject.clone()),
        indirizzi: v
            .signer
            .as_ref()
            .map(|s| s.emails.join(", "))
            .unwrap_or_default(),
        firmato: v.signing_time.map(crate::vista::ora_italiana),
        dettaglio,
    }
}
