//! Non accettazione (PEC-SPEC §4.4, §4.5), mancata consegna (§4.8), 12 h / 24 h (§4.9),
//! rilevazione virus (§4.10), mancata consegna per virus (§4.11).

use super::*;

const VIRUS: &str = "Eicar-Test-Signature";

/// Common checks of a notice: headers, no original, daticert exactly as expected.
fn assert_avviso(u: &UnsignedMessage, kind: MessageKind, to: &str, atteso: &Daticert) {
    assert_eq!(u.header("From"), Some(SERVIZIO));
    assert_eq!(u.header("To"), Some(to));
    assert_eq!(
        u.header("Message-ID"),
        Some(format!("<{PROPRIO}>").as_str())
    );
    assert_eq!(u.header("X-Riferimento-Message-ID"), Some(MSGID));
    assert_eq!(u.header("X-Ricevuta"), kind.pec_header().map(|(_, v)| v));
    let sicurezza = kind.verifica_sicurezza().then_some("errore");
    assert_eq!(u.header("X-VerificaSicurezza"), sicurezza);
    let w = wire(u);
    let m = parse(&w);
    assert_oggetto(&m, kind);
    assert_eq!(indirizzo(m.to()), Some(to.to_string()));
    assert_eq!(layout(&m), SENZA_POSTACERT);
    assert_eq!(parte(&m, "postacert.eml"), None);
    assert_daticert(&m, atteso);
}

#[test]
fn non_accettazione_is_errore_altro_with_the_reason() {
    let motivo = "destinatario in Bcc non ammesso";
    let u = con_emissione(PROPRIO, |e| avviso_non_accettazione(e, &dati(), motivo)).unwrap();
    assert_eq!(u.header("X-Ricevuta"), Some("non-accettazione"));
    let atteso = daticert_atteso(Tipo::NonAccettazione, Errore::Altro, |d| {
        d.errore_esteso = Some(motivo.into());
    });
    assert_avviso(&u, MessageKind::NonAccettazione, MITTENTE, &atteso);
    let w = wire(&u);
    let t = testo_plain(&parse(&w));
    assert!(t.contains(&format!("a causa di: {motivo}")), "{t}");
    assert!(t.contains("Il messaggio non \u{e8} stato accettato."));
}

#[test]
fn non_accettazione_virus_has_verifica_sicurezza() {
    let u = con_emissione(PROPRIO, |e| {
        avviso_non_accettazione_virus(e, &dati(), VIRUS)
    })
    .unwrap();
    assert_eq!(u.header("X-VerificaSicurezza"), Some("errore"));
    let atteso = daticert_atteso(Tipo::NonAccettazione, Errore::Virus, |d| {
        d.errore_esteso = Some(VIRUS.into());
    });
    assert_avviso(&u, MessageKind::NonAccettazioneVirus, MITTENTE, &atteso);
}

#[test]
fn mancata_consegna_carries_each_error_class() {
    for (causa, errore) in [
        (CausaMancataConsegna::NoDest, Errore::NoDest),
        (CausaMancataConsegna::NoDominio, Errore::NoDominio),
        (CausaMancataConsegna::Altro, Errore::Altro),
    ] {
        let esteso = "5.1.1 - indirizzo non valido";
        let u = con_emissione(PROPRIO, |e| {
            avviso_mancata_consegna(e, &dati(), DESTINATARIO_TO, causa, esteso)
        })
        .unwrap();
        assert_eq!(u.header("X-Ricevuta"), Some("errore-consegna"));
        assert_eq!(u.header("X-VerificaSicurezza"), None);
        let atteso = daticert_atteso(Tipo::ErroreConsegna, errore, |d| {
            d.consegna = Some(DESTINATARIO_TO.into());
            d.errore_esteso = Some(esteso.into());
        });
        assert_avviso(&u, MessageKind::MancataConsegna, MITTENTE, &atteso);
    }
}

fn scadenza(ore24: bool) -> UnsignedMessage {
    con_emissione(PROPRIO, |e| {
        if ore24 {
            avviso_mancata_consegna_24h(e, &dati(), DESTINATARIO_TO)
        } else {
            preavviso_mancata_consegna_12h(e, &dati(), DESTINATARIO_TO)
        }
    })
    .unwrap()
}

#[test]
fn preavviso_12h_goes_to_the_sender_and_says_preavviso() {
    let u = scadenza(false);
    assert_eq!(u.header("X-Ricevuta"), Some("preavviso-errore-consegna"));
    let atteso = daticert_atteso(Tipo::PreavvisoErroreConsegna, Errore::Altro, |d| {
        d.consegna = Some(DESTINATARIO_TO.into());
        d.errore_esteso = Some(Scadenza::Ore12.errore_esteso().into());
    });
    assert_avviso(&u, MessageKind::Preavviso12h, MITTENTE, &atteso);
    assert!(atteso
        .dati
        .errore_esteso
        .as_deref()
        .unwrap()
        .starts_with("Preavviso: "));
    let w = wire(&u);
    assert!(testo_plain(&parse(&w)).contains("nelle prime 12 ore"));
}

#[test]
fn avviso_24h_shares_the_headers_and_differs_in_errore_esteso() {
    let u24 = scadenza(true);
    let u12 = scadenza(false);
    let atteso = daticert_atteso(Tipo::PreavvisoErroreConsegna, Errore::Altro, |d| {
        d.consegna = Some(DESTINATARIO_TO.into());
        d.errore_esteso = Some(Scadenza::Ore24.errore_esteso().into());
    });
    assert_avviso(&u24, MessageKind::MancataConsegna24h, MITTENTE, &atteso);
    assert_eq!(
        u24.headers, u12.headers,
        "PEC-SPEC §4.9: one header set for both"
    );
    let esteso = |u: &UnsignedMessage| {
        let w = wire(u);
        let m = parse(&w);
        let xml = String::from_utf8_lossy(parte(&m, "daticert.xml").unwrap()).into_owned();
        let inizio = xml.find("<errore-esteso>").unwrap() + "<errore-esteso>".len();
        let fine = xml.find("</errore-esteso>").unwrap();
        xml[inizio..fine].to_string()
    };
    assert_eq!(
        Scadenza::da_errore_esteso(&esteso(&u24)),
        Some(Scadenza::Ore24)
    );
    assert_eq!(
        Scadenza::da_errore_esteso(&esteso(&u12)),
        Some(Scadenza::Ore12)
    );
    let w = wire(&u24);
    assert!(testo_plain(&parse(&w)).contains("conclusa con esito negativo"));
}

#[test]
fn rilevazione_virus_goes_to_mail_receipt_with_x_mittente() {
    let u = con_emissione(PROPRIO, |e| {
        avviso_rilevazione_virus(e, &dati(), DESTINATARIO_TO, VIRUS, sample::MAIL_RECEIPT)
    })
    .unwrap();
    assert_eq!(u.header("X-Ricevuta"), Some("rilevazione-virus"));
    assert_eq!(u.header("X-Mittente"), Some(MITTENTE));
    assert_eq!(u.header("X-VerificaSicurezza"), None);
    let atteso = daticert_atteso(Tipo::RilevazioneVirus, Errore::Virus, |d| {
        d.consegna = Some(DESTINATARIO_TO.into());
        d.errore_esteso = Some(VIRUS.into());
    });
    assert_avviso(
        &u,
        MessageKind::RilevazioneVirus,
        sample::MAIL_RECEIPT,
        &atteso,
    );
}

#[test]
fn mancata_consegna_virus_is_errore_consegna_virus() {
    let u = con_emissione(PROPRIO, |e| {
        avviso_mancata_consegna_virus(e, &dati(), DESTINATARIO_TO, VIRUS)
    })
    .unwrap();
    assert_eq!(u.header("X-Ricevuta"), Some("errore-consegna"));
    assert_eq!(u.header("X-VerificaSicurezza"), Some("errore"));
    assert_eq!(u.header("X-Mittente"), None);
    let atteso = daticert_atteso(Tipo::ErroreConsegna, Errore::Virus, |d| {
        d.consegna = Some(DESTINATARIO_TO.into());
        d.errore_esteso = Some(VIRUS.into());
    });
    assert_avviso(&u, MessageKind::MancataConsegnaVirus, MITTENTE, &atteso);
}

#[test]
fn a_daticert_without_recipients_is_refused() {
    let mut d = dati();
    d.destinatari.clear();
    let r = con_emissione(PROPRIO, |e| avviso_non_accettazione(e, &d, "x"));
    assert_eq!(
        r,
        Err(BuildError::Daticert(
            crate::daticert::WriteError::NoDestinatari
        ))
    );
}
