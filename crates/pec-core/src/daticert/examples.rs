//! One realistic daticert per tipo × errore combination of the message catalogue
//! (PEC-SPEC §4.12), shared by the unit tests, the DTD validation test and the fuzz seeds.

use super::{
    Dati, Daticert, Destinatario, Errore, Intestazione, Tipo, TipoDestinatario, TipoRicevuta,
};
use crate::tempo::RiferimentoTemporale;
use chrono::DateTime;

const MITTENTE: &str = "mario.rossi@pec.esempio.it";
const PROTOCOLLO: &str = "protocollo@pec.comune.esempio.it";
const SINDACO: &str = "sindaco@pec.comune.esempio.it";
const ESTERNO: &str = "anna.bianchi@esempio.it";
const GESTORE_MITTENTE: &str = "GESTORE ESEMPIO S.p.A.";
const GESTORE_DESTINATARIO: &str = "ALTRO GESTORE PEC S.p.A.";
const IDENTIFICATIVO: &str = "opec21010.20230818173714.75133.134.1.56@pec.esempio.it";
const MSGID: &str = "<RZLFE1$D00882600B2330420CAE7B3643F81CDD@pec.esempio.it>";

/// Every daticert the catalogue produces, named `kind` or `kind/errore` after
/// [`crate::MessageKind::name`].
///
/// For tests and fuzz seeds: values are realistic but invented. Hidden from the docs because
/// it is not part of the crate's contract.
#[doc(hidden)]
pub fn catalogue_examples() -> Vec<(&'static str, Daticert)> {
    let busta = |tipo, errore| base(tipo, errore, GESTORE_MITTENTE, 0);
    let ricevuta = |tipo, errore| base(tipo, errore, GESTORE_DESTINATARIO, 3);
    vec![
        ("busta", {
            let mut d = busta(Tipo::PostaCertificata, Errore::Nessuno);
            d.dati.ricevuta = Some(TipoRicevuta::Completa);
            d
        }),
        // The real Aruba sample has no <ricevuta> on the accettazione (PEC-SPEC §4.3).
        ("accettazione", busta(Tipo::Accettazione, Errore::Nessuno)),
        ("non-accettazione", {
            let mut d = busta(Tipo::NonAccettazione, Errore::Altro);
            d.dati.errore_esteso = Some(
                "Il destinatario nascosto (Bcc) non è ammesso: messaggio non accettato".into(),
            );
            d
        }),
        ("non-accettazione-virus", {
            let mut d = busta(Tipo::NonAccettazione, Errore::Virus);
            d.dati.errore_esteso = Some("Virus rilevato: Eicar-Test-Signature".into());
            d
        }),
        ("presa-in-carico", {
            let mut d = ricevuta(Tipo::PresaInCarico, Errore::Nessuno);
            d.dati.ricezione = vec![PROTOCOLLO.into(), SINDACO.into()];
            d
        }),
        (
            "consegna-completa",
            consegna(TipoRicevuta::Completa, PROTOCOLLO),
        ),
        ("consegna-breve", consegna(TipoRicevuta::Breve, PROTOCOLLO)),
        // A Cc recipient always gets the sintetica (PEC-SPEC §4.7).
        (
            "consegna-sintetica",
            consegna(TipoRicevuta::Sintetica, SINDACO),
        ),
        (
            "mancata-consegna/no-dest",
            errore_consegna(
                Errore::NoDest,
                "5.1.1 - ALTRO GESTORE PEC S.p.A. - indirizzo non valido",
            ),
        ),
        (
            "mancata-consegna/no-dominio",
            errore_consegna(
                Errore::NoDominio,
                "5.1.2 - ALTRO GESTORE PEC S.p.A. - dominio non valido",
            ),
        ),
        (
            "mancata-consegna/altro",
            errore_consegna(
                Errore::Altro,
                "5.2.2 - ALTRO GESTORE PEC S.p.A. - casella piena",
            ),
        ),
        ("preavviso-12h", {
            let mut d = busta(Tipo::PreavvisoErroreConsegna, Errore::Altro);
            d.dati.consegna = Some(PROTOCOLLO.into());
            d.dati.errore_esteso =
                Some("Il messaggio non è stato consegnato nelle prime 12 ore".into());
            d
        }),
        ("mancata-consegna-24h", {
            let mut d = busta(Tipo::PreavvisoErroreConsegna, Errore::Altro);
            d.dati.consegna = Some(PROTOCOLLO.into());
            d.dati.errore_esteso =
                Some("Il messaggio non è stato consegnato entro 24 ore: esito negativo".into());
            d
        }),
        ("rilevazione-virus", {
            let mut d = ricevuta(Tipo::RilevazioneVirus, Errore::Virus);
            d.dati.consegna = Some(PROTOCOLLO.into());
            d.dati.errore_esteso = Some("Virus rilevato: Eicar-Test-Signature".into());
            d
        }),
        ("mancata-consegna-virus", {
            let mut d = busta(Tipo::ErroreConsegna, Errore::Virus);
            d.dati.consegna = Some(PROTOCOLLO.into());
            d.dati.errore_esteso = Some("Virus rilevato: Eicar-Test-Signature".into());
            d
        }),
    ]
}

fn consegna(tipo: TipoRicevuta, destinatario: &str) -> Daticert {
    let mut d = base(
        Tipo::AvvenutaConsegna,
        Errore::Nessuno,
        GESTORE_DESTINATARIO,
        5,
    );
    d.dati.ricevuta = Some(tipo);
    d.dati.consegna = Some(destinatario.into());
    d
}

fn errore_consegna(errore: Errore, esteso: &str) -> Daticert {
    let mut d = base(Tipo::ErroreConsegna, errore, GESTORE_DESTINATARIO, 5);
    d.dati.consegna = Some(PROTOCOLLO.into());
    d.dati.errore_esteso = Some(esteso.into());
    d
}

/// The message of 18 August 2023 (summer time, +0200), seen `seconds` after acceptance.
fn base(tipo: Tipo, errore: Errore, gestore: &str, seconds: i64) -> Daticert {
    let accepted = 1_692_373_034; // 2023-08-18T15:37:14Z
    let data = RiferimentoTemporale::from_utc(
        DateTime::from_timestamp(accepted + seconds, 0).unwrap_or_default(),
    );
    Daticert {
        tipo,
        errore,
        intestazione: Intestazione {
            mittente: MITTENTE.into(),
            destinatari: vec![
                Destinatario {
                    indirizzo: PROTOCOLLO.into(),
                    tipo: TipoDestinatario::Certificato,
                },
                Destinatario {
                    indirizzo: SINDACO.into(),
                    tipo: TipoDestinatario::Certificato,
                },
                Destinatario {
                    indirizzo: ESTERNO.into(),
                    tipo: TipoDestinatario::Esterno,
                },
            ],
            risposte: MITTENTE.into(),
            oggetto: Some("Richiesta di accesso agli atti n. 42/2023".into()),
        },
        dati: Dati {
            gestore_emittente: gestore.into(),
            data,
            identificativo: IDENTIFICATIVO.into(),
            msgid: Some(MSGID.into()),
            ricevuta: None,
            consegna: None,
            ricezione: Vec::new(),
            errore_esteso: None,
        },
    }
}
