//! What the signature of an arrival says, against the providers' index in force (PEC-SPEC
//! §2.3, §7.3), as the plain data pec-core decides on.

use crate::indice::Directory;
use pec_core::ricezione::{Firma, GestoreMittente};

/// The verdict on the signature of `raw`, and the entity it covers (empty unless the
/// signature is valid): pec-core reads the certified data from there only. Blocking: openssl.
pub(super) fn verifica(
    indice: &Directory,
    raw: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> (Firma, Vec<u8>) {
    let verifier = indice.verifier();
    let indice = indice.indice();
    let v = match verifier.verify(raw, now) {
        Ok(v) => v,
        Err(pec_smime::VerifyError::Unsigned) => return (Firma::Assente, Vec::new()),
        Err(e) => return (Firma::Illeggibile(e.to_string()), Vec::new()),
    };
    let firma = 'firma: {
        if !v.intact {
            break 'firma Firma::Alterata(
                v.integrity_error
                    .clone()
                    .unwrap_or_else(|| "la firma non corrisponde al contenuto".into()),
            );
        }
        let Some(signer) = &v.signer else {
            break 'firma Firma::Illeggibile(
                "la firma non contiene il certificato del firmatario".into(),
            );
        };
        let Some(g) = indice.per_hash(&signer.sha1_fingerprint) else {
            break 'firma Firma::Sconosciuta {
                hash: signer.sha1_fingerprint.to_ascii_lowercase(),
            };
        };
        let nome = g.nome().to_string();
        let Some(g) = indice.per_certificato(&signer.der) else {
            break 'firma Firma::NonValida {
                gestore: nome,
                motivo: "non è il certificato registrato nell'indice dei gestori".into(),
            };
        };
        if !v.valid_now {
            break 'firma Firma::NonValida {
                gestore: nome,
                motivo: "certificato scaduto o non ancora valido".into(),
            };
        }
        if !v.chain_valid {
            break 'firma Firma::NonValida {
                gestore: nome,
                motivo: format!(
                    "catena di certificazione non valida: {}",
                    v.chain_error.clone().unwrap_or_default()
                ),
            };
        }
        Firma::Valida(GestoreMittente {
            nome,
            mail_receipt: g.mail_receipt().to_string(),
            domini: g.domini().to_vec(),
            indirizzi: signer.emails.clone(),
        })
    };
    match firma {
        Firma::Valida(_) => (firma, v.content),
        _ => (firma, Vec::new()),
    }
}
