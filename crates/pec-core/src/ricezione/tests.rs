//! Incoming point: envelopes and receipts built by another provider's builders arrive here
//! with each signature fact, and each bad case gives the right outcome and reason
//! (PEC-SPEC §2.3, §4.2, §4.6).

use super::*;
use crate::builder::sample::{self, DESTINATARIO_TO};
use crate::builder::{busta_trasporto, ricevuta_consegna, Consegna, Originale};
use crate::daticert::Tipo;
use crate::daticert::TipoDestinatario;
use crate::inspect::inspect;
use crate::prova::{firma_finta, firmato, leggi, wire};
use chrono::{TimeZone, Utc};

/// The PEC msgid provider A gave its envelope.
const IDENTIFICATIVO: &str = "opec1.20240315103000.42@pec.mittente.example";
const MITTENTE: &str = "mario.rossi@pec.example.it";
const MAIL_RECEIPT_A: &str = "ricevute@pec.mittente.example";
const PRESA: &str = "opec7.20240315103005.1@pec.destinatario.example";
const ANOMALIA: &str = "opec7.20240315103005.2@pec.destinatario.example";

/// Provider A: the sender's, signs envelopes as posta-certificata@pec.mittente.example.
fn gestore_a() -> Provider {
    Provider {
        nome: "Gestore Mittente S.p.A.".into(),
        indirizzo_servizio: "posta-certificata@pec.mittente.example".into(),
    }
}

/// A's record in the providers' index.
fn indice_a() -> GestoreMittente {
    GestoreMittente {
        nome: "Gestore Mittente S.p.A.".into(),
        mail_receipt: MAIL_RECEIPT_A.into(),
        domini: vec!["PEC.Mittente.example".into(), "pec.example.it".into()],
        indirizzi: vec!["posta-certificata@pec.mittente.example".into()],
    }
}

/// Provider B: the recipients' (ours in most tests).
fn gestore_b() -> Provider {
    Provider {
        nome: "Gestore Destinatario S.p.A.".into(),
        indirizzo_servizio: "posta-certificata@pec.destinatario.example".into(),
    }
}

fn indice_b() -> GestoreMittente {
    GestoreMittente {
        nome: "Gestore Destinatario S.p.A.".into(),
        mail_receipt: "ricevute@pec.destinatario.example".into(),
        domini: vec![
            "pec.destinatario.example".into(),
            "pec.cliente.example".into(),
        ],
        indirizzi: vec!["posta-certificata@pec.destinatario.example".into()],
    }
}

fn quando(s: u32) -> RiferimentoTemporale {
    RiferimentoTemporale::from_utc(Utc.with_ymd_and_hms(2024, 3, 15, 9, 30, s).unwrap())
}

const IDS: IdRicezione<'static> = IdRicezione {
    presa_in_carico: PRESA,
    anomalia: ANOMALIA,
    rilevazioni: &[],
};

/// A's envelope (msgid [`IDENTIFICATIVO`]) of `o` for `destinatari`.
fn busta_di_a_con(o: &Originale, destinatari: &[crate::daticert::Destinatario]) -> UnsignedMessage {
    let a = gestore_a();
    let e = Emissione {
        provider: &a,
        data: quando(0),
        message_id: IDENTIFICATIVO,
    };
    busta_trasporto(&e, o, destinatari).unwrap()
}

fn busta_di_a() -> UnsignedMessage {
    busta_di_a_con(
        &sample::originale(),
        &sample::dati(IDENTIFICATIVO).destinatari,
    )
}

/// Another box of the recipients' provider that A's envelope also certifies (in `To:`).
const ALTRO: &str = "altro@pec.cliente.example";
/// A box of the recipients' provider that A's envelopes never name.
const ESTRANEO: &str = "estraneo@pec.cliente.example";

/// A's envelope for an original whose `To:` names [`DESTINATARIO_TO`] and [`ALTRO`].
fn busta_di_a_per_due() -> UnsignedMessage {
    let raw = String::from_utf8(sample::ORIGINALE.to_vec())
        .unwrap()
        .replacen(
            "<ufficio.acquisti@pec.cliente.example>\r\n",
            "<ufficio.acquisti@pec.cliente.example>, altro@pec.cliente.example\r\n",
            1,
        );
    let o = Originale::parse(raw.as_bytes()).unwrap();
    assert_eq!(o.to, [DESTINATARIO_TO, ALTRO]);
    busta_di_a_con(&o, &o.destinatari(|_| TipoDestinatario::Certificato))
}

/// A header replaced (or removed with `None`) in a built message.
fn con_intestazione(mut u: UnsignedMessage, nome: &str, valore: Option<&str>) -> UnsignedMessage {
    u.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(nome));
    if let Some(v) = valore {
        u.headers.push((nome.into(), v.into()));
    }
    u
}

/// What our provider B decides on `raw` for `destinatari`, clean.
fn ricevi(
    raw: &[u8],
    destinatari: &[&str],
    firma: Firma,
    politica: Politica,
) -> Result<EsitoRicezione, RicezioneError> {
    ricevi_scansionato(raw, destinatari, firma, politica, None, &IDS)
}

/// What our provider B decides on `raw` for `destinatari`, with the scanner's verdict.
fn ricevi_scansionato(
    raw: &[u8],
    destinatari: &[&str],
    firma: Firma,
    politica: Politica,
    virus: Option<&str>,
    ids: &IdRicezione<'_>,
) -> Result<EsitoRicezione, RicezioneError> {
    let destinatari: Vec<String> = destinatari.iter().map(|d| d.to_string()).collect();
    punto_ricezione(
        &Arrivo {
            raw,
            firmato: &firmato(raw),
            mail_from: MITTENTE,
            destinatari: &destinatari,
            firma,
            virus,
        },
        &Contesto {
            provider: &gestore_b(),
            data: quando(5),
            ids,
            politica,
        },
    )
}

/// The anomaly outcome's reason, envelope and recipients; panics on any other outcome.
/// The anomaly of the recipients a valid message does not certify.
fn anomalia_estranei(e: Estranei) -> (String, UnsignedMessage, Vec<String>, Vec<Evento>) {
    match e {
        Estranei::Anomalia {
            busta,
            motivo,
            destinatari,
            eventi,
        } => (motivo, busta, destinatari, eventi),
        altro => panic!("expected an anomaly, got {altro:?}"),
    }
}

fn anomalia_di(esito: EsitoRicezione) -> (String, UnsignedMessage, Vec<String>, Vec<Evento>) {
    match esito {
        EsitoRicezione::Anomalia {
            busta,
            motivo,
            destinatari,
            eventi,
        } => (motivo, busta, destinatari, eventi),
        altro => panic!("expected an anomaly, got {altro:?}"),
    }
}

#[test]
fn a_valid_envelope_gives_one_presa_in_carico_to_the_sender_providers_mail_receipt() {
    let raw = firma_finta(&busta_di_a_per_due());
    let esito = ricevi(
        &raw,
        &[
            "<ufficio.acquisti@pec.cliente.example>",
            "altro@pec.cliente.example",
            "UFFICIO.ACQUISTI@pec.cliente.example",
        ],
        Firma::Valida(indice_a()),
        Politica::Rifiuta,
    )
    .unwrap();
    let EsitoRicezione::Busta {
        presa_in_carico,
        mail_receipt,
        busta,
        destinatari,
        eventi,
        estranei,
        ..
    } = esito
    else {
        panic!("expected a busta: {esito:?}");
    };
    assert!(estranei.is_none());
    let locali = [DESTINATARIO_TO, ALTRO];
    assert_eq!(destinatari, locali, "bare, without repeats, in RCPT order");
    assert_eq!(mail_receipt, MAIL_RECEIPT_A);
    assert_eq!(busta.daticert.dati.identificativo, IDENTIFICATIVO);

    let (ins, d) = leggi(&presa_in_carico);
    assert_eq!(ins.kind, MessageKind::PresaInCarico);
    assert_eq!(ins.to, [MAIL_RECEIPT_A]); // PEC-SPEC §4.6
    assert_eq!(ins.message_id.as_deref(), Some(PRESA));
    assert_eq!(d.tipo, Tipo::PresaInCarico);
    assert_eq!(d.dati.ricezione, locali); // PEC-SPEC §4.6: every local recipient
    assert_eq!(d.dati.identificativo, IDENTIFICATIVO);
    assert_eq!(d.dati.gestore_emittente, gestore_b().nome);
    assert_eq!(d.dati.data, quando(5));
    assert_eq!(d.intestazione.mittente, MITTENTE);

    let nomi: Vec<_> = eventi.iter().map(|e| e.evento.nome()).collect();
    assert_eq!(nomi, ["busta-ricevuta", "presa-in-carico-emessa"]);
    assert!(eventi.iter().all(|e| e.identificativo == IDENTIFICATIVO));
    assert!(eventi.iter().all(|e| e.gestore == gestore_a().nome));
    assert_eq!(eventi[1].generati, [PRESA]);
}

#[test]
fn the_envelope_goes_on_to_the_delivery_point() {
    let raw = firma_finta(&busta_di_a());
    let esito = ricevi(
        &raw,
        &[DESTINATARIO_TO],
        Firma::Valida(indice_a()),
        Politica::Anomalia,
    )
    .unwrap();
    let EsitoRicezione::Busta { busta, .. } = esito else {
        panic!("expected a busta");
    };
    let b = gestore_b();
    let e = Emissione {
        provider: &b,
        data: quando(6),
        message_id: "opec7.3@pec.destinatario.example",
    };
    let r = crate::consegna::punto_consegna(
        &busta,
        &crate::consegna::Recapito {
            destinatario: DESTINATARIO_TO,
            stato: crate::consegna::StatoCasella::Attiva,
        },
        &e,
    )
    .unwrap();
    assert!(matches!(
        r,
        crate::consegna::EsitoConsegna::Consegnata { .. }
    ));
}

#[test]
fn an_envelope_signed_for_a_foreign_from_domain_is_an_anomaly() {
    // Provider B's certificate, but A's envelope: the sender it certifies is not B's
    // (PEC-SPEC §7.2).
    let raw = firma_finta(&busta_di_a());
    let esito = ricevi(
        &raw,
        &[DESTINATARIO_TO],
        Firma::Valida(indice_b()),
        Politica::Rifiuta,
    )
    .unwrap();
    let (motivo, busta, destinatari, _) = anomalia_di(esito);
    assert!(
        motivo.contains("firmato dal gestore Gestore Destinatario"),
        "{motivo}"
    );
    assert!(
        motivo.contains("mario.rossi@pec.example.it non appartiene"),
        "{motivo}"
    );
    assert_eq!(destinatari, [DESTINATARIO_TO]);
    assert_eq!(
        inspect(&wire(&busta)).unwrap().kind,
        MessageKind::BustaAnomalia
    );
}

#[test]
fn an_envelope_certifying_a_sender_of_another_provider_is_an_anomaly() {
    let mut indice = indice_a();
    indice.domini = vec!["pec.mittente.example".into()]; // not pec.example.it
    let raw = firma_finta(&busta_di_a());
    let esito = ricevi(
        &raw,
        &[DESTINATARIO_TO],
        Firma::Valida(indice),
        Politica::Anomalia,
    )
    .unwrap();
    let (motivo, ..) = anomalia_di(esito);
    assert!(
        motivo.contains(&format!("mittente certificato {MITTENTE} non appartiene")),
        "{motivo}"
    );
}

#[test]
fn an_envelope_whose_daticert_has_another_tipo_is_an_anomaly() {
    // X-Trasporto says envelope, the daticert says delivery receipt.
    let b = gestore_b();
    let e = Emissione {
        provider: &b,
        data: quando(1),
        message_id: "opec7.9@pec.destinatario.example",
    };
    let postacert = sample::originale().postacert(IDENTIFICATIVO);
    let r = ricevuta_consegna(
        &e,
        &sample::dati(IDENTIFICATIVO),
        &Consegna {
            destinatario: DESTINATARIO_TO,
            tipo: &TipoRicevuta::Completa,
            postacert: &postacert,
        },
    )
    .unwrap();
    let r = con_intestazione(r, "X-Ricevuta", None);
    let r = con_intestazione(r, "X-Trasporto", Some("posta-certificata"));
    let esito = ricevi(
        &firma_finta(&r),
        &[DESTINATARIO_TO],
        Firma::Valida(indice_b()),
        Politica::Anomalia,
    )
    .unwrap();
    let (motivo, ..) = anomalia_di(esito);
    assert!(
        motivo.contains("daticert di tipo avvenuta-consegna"),
        "{motivo}"
    );
}

#[test]
fn a_signed_message_without_pec_headers_is_an_anomaly() {
    let u = con_intestazione(busta_di_a(), "X-Trasporto", None);
    let esito = ricevi(
        &firma_finta(&u),
        &[DESTINATARIO_TO],
        Firma::Valida(indice_a()),
        Politica::Rifiuta, // the policy is for ordinary mail only
    )
    .unwrap();
    let (motivo, ..) = anomalia_di(esito);
    assert!(motivo.contains("X-Trasporto o X-Ricevuta"), "{motivo}");
}

#[test]
fn another_providers_anomaly_envelope_is_wrapped_in_ours() {
    let a = gestore_a();
    let e = Emissione {
        provider: &a,
        data: quando(0),
        message_id: "opec1.7@pec.mittente.example",
    };
    let loro = busta_anomalia(&e, &sample::originale(), "firma assente").unwrap();
    let raw = firma_finta(&loro);
    let esito = ricevi(
        &raw,
        &[DESTINATARIO_TO],
        Firma::Valida(indice_a()),
        Politica::Anomalia,
    )
    .unwrap();
    let (motivo, busta, ..) = anomalia_di(esito);
    assert!(motivo.contains("busta di anomalia"), "{motivo}");
    let ins = inspect(&wire(&busta)).unwrap();
    assert_eq!(ins.kind, MessageKind::BustaAnomalia);
    assert_eq!(ins.postacert.as_deref(), Some(raw.as_slice()));
}

/// Provider B's delivery receipt for A's envelope, as it arrives back at A.
fn consegna_di_b() -> UnsignedMessage {
    let b = gestore_b();
    let e = Emissione {
        provider: &b,
        data: quando(6),
        message_id: "opec7.3@pec.destinatario.example",
    };
    let postacert = sample::originale().postacert(IDENTIFICATIVO);
    ricevuta_consegna(
        &e,
        &sample::dati(IDENTIFICATIVO),
        &Consegna {
            destinatario: DESTINATARIO_TO,
            tipo: &TipoRicevuta::Breve,
            postacert: &postacert,
        },
    )
    .unwrap()
}

/// What provider A decides on `raw` for `destinatari`, knowing (or not) that it sent the
/// envelope the receipt answers on behalf of `nostra`.
fn smista_in_a(
    raw: &[u8],
    destinatari: &[&str],
    firma: Firma,
    nostra: Option<&str>,
    politica: Politica,
) -> EsitoRicezione {
    let destinatari: Vec<String> = destinatari.iter().map(|d| d.to_string()).collect();
    let a = Arrivo {
        raw,
        firmato: &firmato(raw),
        mail_from: "posta-certificata@pec.destinatario.example",
        destinatari: &destinatari,
        firma,
        virus: None,
    };
    let provider = gestore_a();
    let c = Contesto {
        provider: &provider,
        data: quando(7),
        ids: &IDS,
        politica,
    };
    match punto_ricezione(&a, &c).unwrap() {
        EsitoRicezione::RicevutaDaSmistare(r) => smista_ricevuta(&a, *r, nostra, &c).unwrap(),
        altro => altro,
    }
}

/// What provider A decides on `raw` for its user, who sent the envelope it answers.
fn ricevi_in_a(raw: &[u8], firma: Firma) -> EsitoRicezione {
    smista_in_a(raw, &[MITTENTE], firma, Some(MITTENTE), Politica::Rifiuta)
}

#[test]
fn a_valid_delivery_receipt_is_delivered_unchanged_and_names_our_envelope() {
    let esito = ricevi_in_a(&firma_finta(&consegna_di_b()), Firma::Valida(indice_b()));
    let EsitoRicezione::Ricevuta {
        kind,
        identificativo,
        daticert,
        riguarda,
        casella,
        eventi,
        estranei,
        ..
    } = esito
    else {
        panic!("expected a receipt: {esito:?}");
    };
    assert_eq!(kind, MessageKind::ConsegnaBreve);
    assert_eq!(identificativo, IDENTIFICATIVO);
    assert_eq!(daticert.tipo, Tipo::AvvenutaConsegna);
    assert_eq!(daticert.dati.identificativo, IDENTIFICATIVO);
    assert_eq!(riguarda, [DESTINATARIO_TO]);
    assert_eq!(casella, MITTENTE);
    assert!(estranei.is_none());
    assert_eq!(eventi.len(), 1);
    assert_eq!(
        eventi[0].evento,
        TipoEvento::RicevutaRicevuta {
            ricevuta: "consegna-breve".into(),
            riguarda: vec![DESTINATARIO_TO.into()],
            caselle: vec![MITTENTE.into()],
        }
    );
    assert_eq!(eventi[0].gestore, gestore_b().nome);
}

#[test]
fn a_valid_presa_in_carico_names_the_recipients_it_covers() {
    let b = gestore_b();
    let e = Emissione {
        provider: &b,
        data: quando(5),
        message_id: PRESA,
    };
    let ricezione = [DESTINATARIO_TO.to_string(), ALTRO.to_string()];
    let presa = ricevuta_presa_in_carico(
        &e,
        &sample::dati(IDENTIFICATIVO),
        &ricezione,
        MAIL_RECEIPT_A,
    )
    .unwrap();
    // A's service box is its mailReceipt: a presa in carico belongs there, not to the sender.
    let servizio = gestore_a().indirizzo_servizio;
    let esito = smista_in_a(
        &firma_finta(&presa),
        &[&servizio],
        Firma::Valida(indice_b()),
        Some(MITTENTE),
        Politica::Anomalia,
    );
    let EsitoRicezione::Ricevuta {
        kind,
        riguarda,
        casella,
        ..
    } = esito
    else {
        panic!("expected a receipt: {esito:?}");
    };
    assert_eq!(kind, MessageKind::PresaInCarico);
    assert_eq!(riguarda, ricezione);
    assert_eq!(casella, servizio);
}

#[test]
fn a_presa_in_carico_covering_nobody_is_an_anomaly() {
    let b = gestore_b();
    let e = Emissione {
        provider: &b,
        data: quando(5),
        message_id: PRESA,
    };
    let presa =
        ricevuta_presa_in_carico(&e, &sample::dati(IDENTIFICATIVO), &[], MAIL_RECEIPT_A).unwrap();
    let (motivo, ..) = anomalia_di(ricevi_in_a(&firma_finta(&presa), Firma::Valida(indice_b())));
    assert!(
        motivo.contains("presa-in-carico: daticert senza <ricezione>"),
        "{motivo}"
    );
}

#[test]
fn a_receipt_whose_header_and_daticert_disagree_is_an_anomaly() {
    let u = con_intestazione(consegna_di_b(), "X-Ricevuta", Some("presa-in-carico"));
    let (motivo, ..) = anomalia_di(ricevi_in_a(&firma_finta(&u), Firma::Valida(indice_b())));
    assert!(
        motivo.contains("X-Ricevuta di presa-in-carico ma daticert di tipo avvenuta-consegna"),
        "{motivo}"
    );
}

#[test]
fn a_receipt_without_daticert_is_an_anomaly() {
    // The canned original, signed by B, pretending to be a receipt.
    let mut raw = b"X-Ricevuta: avvenuta-consegna\r\n".to_vec();
    raw.extend_from_slice(
        &sample::ORIGINALE
            .split(|b| *b == b'\n')
            .filter(|l| !l.starts_with(b"From:"))
            .collect::<Vec<_>>()
            .join(&b'\n'),
    );
    raw.splice(
        0..0,
        *b"From: posta-certificata@pec.destinatario.example\r\n",
    );
    let (motivo, ..) = anomalia_di(ricevi_in_a(&raw, Firma::Valida(indice_b())));
    assert!(motivo.contains("senza daticert.xml"), "{motivo}");
}

#[test]
fn a_receipt_signed_by_a_provider_for_another_domain_is_an_anomaly() {
    let (motivo, ..) = anomalia_di(ricevi_in_a(
        &firma_finta(&consegna_di_b()),
        Firma::Valida(indice_a()),
    ));
    assert!(motivo.contains("non di un dominio del gestore"), "{motivo}");
}

#[test]
fn a_signing_certificate_without_an_address_on_the_signers_domains_is_an_anomaly() {
    let mut indice = indice_a();
    indice.indirizzi = vec!["posta-certificata@altrove.example".into()];
    let raw = firma_finta(&busta_di_a());
    let (motivo, ..) = anomalia_di(
        ricevi(
            &raw,
            &[DESTINATARIO_TO],
            Firma::Valida(indice),
            Politica::Anomalia,
        )
        .unwrap(),
    );
    assert!(motivo.contains("certificato di firma"), "{motivo}");
}

#[test]
fn the_outer_from_never_makes_the_rebuilt_from() {
    // Issue 12 review: a replayed receipt with a crafted From must not show it.
    let u = con_intestazione(
        consegna_di_b(),
        "From",
        Some("<attacker@evil.example, posta-certificata@pec.destinatario.example>"),
    );
    let EsitoRicezione::Ricevuta { consegnata, .. } =
        ricevi_in_a(&firma_finta(&u), Firma::Valida(indice_b()))
    else {
        panic!("expected a receipt");
    };
    let testo = String::from_utf8_lossy(&consegnata);
    assert!(!testo.contains("evil.example"), "{testo}");
    assert!(
        testo.contains("From: posta-certificata@pec.destinatario.example\r\n"),
        "{testo}"
    );
}

#[test]
fn an_outer_verifica_sicurezza_does_not_make_a_notice_about_a_virus() {
    let u = con_intestazione(consegna_di_b(), "X-VerificaSicurezza", Some("errore"));
    let EsitoRicezione::Ricevuta { kind, .. } =
        ricevi_in_a(&firma_finta(&u), Firma::Valida(indice_b()))
    else {
        panic!("expected a receipt");
    };
    assert_eq!(kind, MessageKind::ConsegnaBreve);
}

#[test]
fn control_characters_in_header_bound_daticert_values_are_an_anomaly() {
    let o = sample::originale();
    let mut destinatari = sample::dati(IDENTIFICATIVO).destinatari;
    destinatari[0].indirizzo = format!("{DESTINATARIO_TO}\r\n\r\nFinto corpo");
    let raw = firma_finta(&busta_di_a_con(&o, &destinatari));
    let (motivo, ..) = anomalia_di(
        ricevi(
            &raw,
            &[DESTINATARIO_TO],
            Firma::Valida(indice_a()),
            Politica::Anomalia,
        )
        .unwrap(),
    );
    assert!(motivo.contains("caratteri di controllo"), "{motivo}");
}

#[test]
fn a_recipient_the_sender_classed_esterno_is_not_certified() {
    let o = sample::originale();
    let mut destinatari = sample::dati(IDENTIFICATIVO).destinatari;
    destinatari[0].tipo = TipoDestinatario::Esterno;
    let raw = firma_finta(&busta_di_a_con(&o, &destinatari));
    let esito = ricevi(
        &raw,
        &[DESTINATARIO_TO],
        Firma::Valida(indice_a()),
        Politica::Rifiuta,
    )
    .unwrap();
    assert!(
        matches!(esito, EsitoRicezione::Rifiutata { .. }),
        "{esito:?}"
    );
}

#[test]
fn ordinary_mail_is_wrapped_in_an_anomaly_envelope_under_that_policy() {
    let esito = ricevi(
        sample::ORIGINALE,
        &[DESTINATARIO_TO],
        Firma::Assente,
        Politica::Anomalia,
    )
    .unwrap();
    let (motivo, busta, destinatari, eventi) = anomalia_di(esito);
    assert_eq!(motivo, Firma::Assente.problema().unwrap());
    assert_eq!(destinatari, [DESTINATARIO_TO]);
    let ins = inspect(&wire(&busta)).unwrap();
    assert_eq!(ins.kind, MessageKind::BustaAnomalia);
    assert!(ins.daticert.is_none(), "PEC-SPEC §4.2: no daticert");
    assert_eq!(ins.postacert.as_deref(), Some(sample::ORIGINALE));
    // PEC-SPEC §4.2: the received Message-ID is inherited.
    assert_eq!(
        ins.message_id.as_deref(),
        Some("fattura-12.20240315@studio.example.it")
    );
    assert_eq!(eventi.len(), 1);
    assert_eq!(eventi[0].evento.nome(), "anomalia-emessa");
    assert_eq!(
        eventi[0].identificativo,
        "fattura-12.20240315@studio.example.it"
    );
    assert_eq!(
        eventi[0].generati,
        ["fattura-12.20240315@studio.example.it"]
    );
}

#[test]
fn ordinary_mail_is_refused_under_that_policy() {
    let esito = ricevi(
        sample::ORIGINALE,
        &[DESTINATARIO_TO],
        Firma::Assente,
        Politica::Rifiuta,
    )
    .unwrap();
    let EsitoRicezione::Rifiutata {
        perche,
        motivo,
        eventi,
    } = esito
    else {
        panic!("expected a refusal: {esito:?}");
    };
    assert_eq!(perche, Rifiuto::Politica);
    assert!(motivo.contains("non firmato"), "{motivo}");
    assert_eq!(
        eventi[0].evento,
        TipoEvento::MessaggioRifiutato {
            motivo: motivo.clone()
        }
    );
}

#[test]
fn each_signature_problem_is_named_in_the_reason() {
    let casi = [
        (
            Firma::Illeggibile("PKCS7 troncato".into()),
            "firma illeggibile: PKCS7 troncato",
        ),
        (
            Firma::Alterata("digest diverso".into()),
            "il contenuto non corrisponde alla firma",
        ),
        (
            Firma::Sconosciuta {
                hash: "06B2539D".into(),
            },
            "firma non valida: certificato non presente nell'indice dei gestori (SHA-1 06B2539D)",
        ),
        (
            Firma::NonValida {
                gestore: "Gestore Mittente S.p.A.".into(),
                motivo: "certificato scaduto".into(),
            },
            "certificato del gestore Gestore Mittente S.p.A. non valido (certificato scaduto)",
        ),
    ];
    for (firma, atteso) in casi {
        // Even a perfect envelope is ordinary mail without a valid signature.
        let raw = firma_finta(&busta_di_a());
        let (motivo, ..) = anomalia_di(
            ricevi(&raw, &[DESTINATARIO_TO], firma.clone(), Politica::Anomalia).unwrap(),
        );
        assert!(motivo.contains(atteso), "{firma:?}: {motivo}");
        let r = ricevi(&raw, &[DESTINATARIO_TO], firma, Politica::Rifiuta).unwrap();
        assert!(matches!(r, EsitoRicezione::Rifiutata { .. }));
    }
}

#[test]
fn a_refusal_reason_is_one_ascii_line() {
    let firma = Firma::Illeggibile("rotta\r\n250 OK\r\ncittà".into());
    let r = ricevi(
        sample::ORIGINALE,
        &[DESTINATARIO_TO],
        firma,
        Politica::Rifiuta,
    )
    .unwrap();
    let EsitoRicezione::Rifiutata { motivo, .. } = r else {
        panic!("expected a refusal");
    };
    assert_eq!(motivo, "firma illeggibile: rotta 250 OK citt?");
}

#[test]
fn garbage_never_panics_and_is_still_wrapped() {
    for raw in [
        &b""[..],
        b"\x00\x01\x02 garbage",
        b"no header at all\r\n\r\nbody",
        b"From: <>\r\n\r\n",
        b"Subject: nessun mittente\r\n\r\ncorpo\r\n",
    ] {
        for firma in [Firma::Assente, Firma::Valida(indice_a())] {
            let esito = ricevi(raw, &[DESTINATARIO_TO], firma, Politica::Anomalia).unwrap();
            let (_, busta, ..) = anomalia_di(esito);
            let ins = inspect(&wire(&busta)).unwrap();
            assert_eq!(ins.kind, MessageKind::BustaAnomalia, "{raw:?}");
            assert!(busta.header("Message-ID").is_some());
        }
    }
}

#[test]
fn a_message_without_message_id_gets_the_anomaly_id() {
    let esito = ricevi(
        b"From: a@b.it\r\nTo: ufficio.acquisti@pec.cliente.example\r\n\r\nciao\r\n",
        &[DESTINATARIO_TO],
        Firma::Assente,
        Politica::Anomalia,
    )
    .unwrap();
    let (_, busta, _, eventi) = anomalia_di(esito);
    assert_eq!(
        busta.header("Message-ID"),
        Some(format!("<{ANOMALIA}>").as_str())
    );
    assert_eq!(eventi[0].generati, [ANOMALIA]);
    assert_eq!(eventi[0].mittente, "a@b.it");
}

#[test]
fn a_receipt_about_an_envelope_we_never_sent_is_an_anomaly_whatever_the_policy() {
    let raw = firma_finta(&consegna_di_b());
    for politica in [Politica::Anomalia, Politica::Rifiuta] {
        let esito = smista_in_a(&raw, &[MITTENTE], Firma::Valida(indice_b()), None, politica);
        let (motivo, busta, destinatari, eventi) = anomalia_di(esito);
        assert_eq!(
            motivo,
            "ricevuta relativa a un messaggio non inviato da questo gestore"
        );
        assert_eq!(destinatari, [MITTENTE]);
        assert_eq!(eventi[0].gestore, gestore_b().nome);
        assert_eq!(
            inspect(&wire(&busta)).unwrap().kind,
            MessageKind::BustaAnomalia
        );
    }
}

#[test]
fn no_local_recipient_is_the_callers_error() {
    let r = ricevi(sample::ORIGINALE, &[], Firma::Assente, Politica::Anomalia);
    assert_eq!(r.unwrap_err(), RicezioneError::NessunDestinatario);
    let r = ricevi(
        sample::ORIGINALE,
        &["<>"],
        Firma::Assente,
        Politica::Anomalia,
    );
    assert_eq!(r.unwrap_err(), RicezioneError::NessunDestinatario);
}

#[test]
fn managed_domains_match_without_case_or_trailing_dot() {
    let g = indice_a();
    assert!(g.gestisce("pec.mittente.EXAMPLE"));
    assert!(g.gestisce("pec.example.it."));
    assert!(!g.gestisce("sub.pec.example.it"));
    assert!(!g.gestisce(""));
}

const VIRUS: &str = "Gestore.Test.Virus";

#[test]
fn an_infected_envelope_is_taken_in_charge_and_answered_with_one_rilevazione_per_recipient() {
    let raw = firma_finta(&busta_di_a_per_due());
    let rilevazioni = vec![
        "opec7.20240315103005.3@pec.destinatario.example".to_string(),
        "opec7.20240315103005.4@pec.destinatario.example".to_string(),
        "opec7.20240315103005.5@pec.destinatario.example".to_string(),
    ];
    let ids = IdRicezione {
        rilevazioni: &rilevazioni,
        ..IDS
    };
    let esito = ricevi_scansionato(
        &raw,
        &[
            "ufficio.acquisti@pec.cliente.example",
            "altro@pec.cliente.example",
            "UFFICIO.ACQUISTI@pec.cliente.example",
        ],
        Firma::Valida(indice_a()),
        Politica::Anomalia,
        Some(VIRUS),
        &ids,
    )
    .unwrap();
    let EsitoRicezione::Infetta {
        presa_in_carico,
        mail_receipt,
        rilevazioni: avvisi,
        busta,
        destinatari,
        virus,
        eventi,
        estranei,
    } = esito
    else {
        panic!("expected an infected envelope: {esito:?}");
    };
    assert!(estranei.is_none());
    assert_eq!(virus, VIRUS);
    assert_eq!(mail_receipt, MAIL_RECEIPT_A);
    assert_eq!(busta.daticert.dati.identificativo, IDENTIFICATIVO);
    assert_eq!(
        destinatari,
        [
            "ufficio.acquisti@pec.cliente.example",
            "altro@pec.cliente.example"
        ]
    );
    // The presa in carico all the same (module docs, UNCONFIRMED).
    let (ins, d) = leggi(&presa_in_carico);
    assert_eq!(ins.kind, MessageKind::PresaInCarico);
    assert_eq!(d.dati.ricezione, destinatari);
    // PEC-SPEC §4.10: one per recipient, to the mailReceipt, with X-Mittente; not the original.
    assert_eq!(avvisi.len(), 2);
    for ((avviso, r), id) in avvisi.iter().zip(&destinatari).zip(&rilevazioni) {
        assert_eq!(avviso.header("To"), Some(MAIL_RECEIPT_A));
        assert_eq!(avviso.header("X-Ricevuta"), Some("rilevazione-virus"));
        assert_eq!(avviso.header("X-Mittente"), Some(MITTENTE));
        let (ins, d) = leggi(avviso);
        assert_eq!(ins.kind, MessageKind::RilevazioneVirus);
        assert_eq!(ins.message_id.as_deref(), Some(id.as_str()));
        assert!(ins.postacert.is_none(), "the original is not included");
        assert_eq!(d.tipo, Tipo::RilevazioneVirus);
        assert_eq!(d.errore, crate::daticert::Errore::Virus);
        assert_eq!(d.dati.consegna.as_deref(), Some(r.as_str()));
        assert_eq!(d.dati.errore_esteso.as_deref(), Some(VIRUS));
        assert_eq!(d.dati.identificativo, IDENTIFICATIVO);
        assert_eq!(d.dati.gestore_emittente, "Gestore Destinatario S.p.A.");
    }
    let tipi: Vec<_> = eventi.iter().map(|e| e.evento.nome()).collect();
    assert_eq!(
        tipi,
        [
            "busta-ricevuta",
            "presa-in-carico-emessa",
            "virus-rilevato",
            "rilevazione-virus-emessa",
            "rilevazione-virus-emessa"
        ]
    );
    assert_eq!(
        eventi[2].evento,
        TipoEvento::VirusRilevato {
            punto: "ricezione".into(),
            virus: VIRUS.into(),
            quarantena: true
        }
    );
    assert_eq!(
        eventi[4].evento,
        TipoEvento::RilevazioneVirusEmessa {
            destinatario: "altro@pec.cliente.example".into(),
            mail_receipt: MAIL_RECEIPT_A.into(),
        }
    );
    assert_eq!(eventi[4].generati, [rilevazioni[1].as_str()]);
    assert_eq!(eventi[4].gestore, "Gestore Mittente S.p.A.");
}

#[test]
fn an_infected_envelope_without_enough_ids_is_the_callers_error() {
    let raw = firma_finta(&busta_di_a_per_due());
    let uno = vec!["opec7.x@pec.destinatario.example".to_string()];
    let ids = IdRicezione {
        rilevazioni: &uno,
        ..IDS
    };
    let esito = ricevi_scansionato(
        &raw,
        &[DESTINATARIO_TO, ALTRO],
        Firma::Valida(indice_a()),
        Politica::Anomalia,
        Some(VIRUS),
        &ids,
    );
    assert_eq!(
        esito.unwrap_err(),
        RicezioneError::IdentificativiMancanti {
            servono: 2,
            dati: 1
        }
    );
}

#[test]
fn anything_infected_but_a_valid_envelope_is_refused_whatever_the_policy() {
    let ordinaria =
        b"From: x@example.com\r\nTo: a@pec.cliente.example\r\nSubject: ciao\r\n\r\ncorpo\r\n";
    let ricevuta = firma_finta(&consegna_di_b());
    let busta = firma_finta(&busta_di_a());
    let malformata = firma_finta(&con_intestazione(busta_di_a(), "X-Trasporto", None));
    let casi: [(&[u8], Firma, &str); 4] = [
        (ordinaria, Firma::Assente, "a@pec.cliente.example"),
        // A genuine envelope whose signature does not match is not a valid envelope.
        (
            &busta,
            Firma::Alterata("digest".into()),
            "a@pec.cliente.example",
        ),
        (&ricevuta, Firma::Valida(indice_b()), MITTENTE),
        (
            &malformata,
            Firma::Valida(indice_a()),
            "a@pec.cliente.example",
        ),
    ];
    for (raw, firma, dest) in casi {
        for politica in [Politica::Anomalia, Politica::Rifiuta] {
            let esito =
                ricevi_scansionato(raw, &[dest], firma.clone(), politica, Some(VIRUS), &IDS)
                    .unwrap();
            let EsitoRicezione::Rifiutata {
                perche,
                motivo,
                eventi,
            } = esito
            else {
                panic!("expected a refusal: {esito:?}");
            };
            assert_eq!(perche, Rifiuto::Virus(VIRUS.into()));
            assert_eq!(motivo, format!("virus found: {VIRUS}"));
            let tipi: Vec<_> = eventi.iter().map(|e| e.evento.nome()).collect();
            assert_eq!(tipi, ["virus-rilevato", "messaggio-rifiutato"]);
            assert!(matches!(
                &eventi[0].evento,
                TipoEvento::VirusRilevato { quarantena: false, virus, .. } if virus == VIRUS
            ));
        }
    }
}

// Issue 12, item 1: a genuine envelope replayed to boxes it never named.

/// The busta outcome's certified recipients, delivered bytes and strangers' outcome.
fn busta_di(esito: EsitoRicezione) -> (Vec<String>, Vec<u8>, UnsignedMessage, Option<Estranei>) {
    match esito {
        EsitoRicezione::Busta {
            destinatari,
            consegnata,
            presa_in_carico,
            estranei,
            ..
        } => (destinatari, consegnata, presa_in_carico, estranei),
        altro => panic!("expected a busta, got {altro:?}"),
    }
}

#[test]
fn an_envelope_replayed_to_other_boxes_reaches_only_those_it_certifies() {
    let raw = firma_finta(&busta_di_a());
    let esito = ricevi(
        &raw,
        &[DESTINATARIO_TO, ESTRANEO, ALTRO],
        Firma::Valida(indice_a()),
        Politica::Anomalia,
    )
    .unwrap();
    let (destinatari, _, presa, estranei) = busta_di(esito);
    assert_eq!(destinatari, [DESTINATARIO_TO]);
    // The presa in carico names only the certified recipient.
    let (_, d) = leggi(&presa);
    assert_eq!(d.dati.ricezione, [DESTINATARIO_TO]);
    // The others get what ordinary mail gets: an anomaly envelope, not a certified copy.
    let (motivo, busta, caselle, eventi) = anomalia_estranei(estranei.expect("strangers' outcome"));
    assert_eq!(caselle, [ESTRANEO, ALTRO]);
    assert!(
        motivo.contains("non presente nei dati di certificazione"),
        "{motivo}"
    );
    assert!(motivo.contains(ESTRANEO), "{motivo}");
    assert_eq!(
        inspect(&wire(&busta)).unwrap().kind,
        MessageKind::BustaAnomalia
    );
    assert_eq!(eventi[0].evento.nome(), "anomalia-emessa");
}

#[test]
fn an_envelope_replayed_only_to_other_boxes_is_an_anomaly_or_refused() {
    let raw = firma_finta(&busta_di_a());
    let esito = ricevi(
        &raw,
        &[ESTRANEO],
        Firma::Valida(indice_a()),
        Politica::Anomalia,
    )
    .unwrap();
    let (motivo, _, caselle, _) = anomalia_di(esito);
    assert_eq!(caselle, [ESTRANEO]);
    assert!(motivo.contains("daticert"), "{motivo}");
    let esito = ricevi(
        &raw,
        &[ESTRANEO],
        Firma::Valida(indice_a()),
        Politica::Rifiuta,
    )
    .unwrap();
    assert!(
        matches!(
            esito,
            EsitoRicezione::Rifiutata {
                perche: Rifiuto::Politica,
                ..
            }
        ),
        "{esito:?}"
    );
}

#[test]
fn a_recipient_only_in_the_daticert_or_only_in_the_original_is_not_certified() {
    // The daticert names altro@ but the signed original's To/Cc does not, and the reverse.
    let o = sample::originale();
    let mut destinatari = sample::dati(IDENTIFICATIVO).destinatari;
    destinatari.push(crate::daticert::Destinatario {
        indirizzo: ALTRO.into(),
        tipo: TipoDestinatario::Certificato,
    });
    let raw = firma_finta(&busta_di_a_con(&o, &destinatari));
    let esito = ricevi(&raw, &[ALTRO], Firma::Valida(indice_a()), Politica::Rifiuta).unwrap();
    assert!(
        matches!(esito, EsitoRicezione::Rifiutata { .. }),
        "{esito:?}"
    );
    // The reverse: the signed original's To names altro@, the daticert does not.
    let to = "\r\nTo: Ufficio Acquisti <ufficio.acquisti@pec.cliente.example>\r\n";
    let testo = String::from_utf8(sample::ORIGINALE.to_vec()).unwrap();
    assert!(testo.contains(to));
    let altro = testo.replacen(
        to,
        &format!("\r\nTo: {ALTRO}, ufficio.acquisti@pec.cliente.example\r\n"),
        1,
    );
    let o = Originale::parse(altro.as_bytes()).unwrap();
    assert!(o.to.iter().any(|t| t == ALTRO), "{:?}", o.to);
    let destinatari = sample::dati(IDENTIFICATIVO).destinatari;
    assert!(destinatari.iter().all(|d| d.indirizzo != ALTRO));
    let raw = firma_finta(&busta_di_a_con(&o, &destinatari));
    let esito = ricevi(&raw, &[ALTRO], Firma::Valida(indice_a()), Politica::Rifiuta).unwrap();
    assert!(
        matches!(esito, EsitoRicezione::Rifiutata { .. }),
        "{esito:?}"
    );
}

#[test]
fn the_delivered_envelope_shows_the_signed_headers_not_the_outer_ones() {
    let mut u = busta_di_a();
    for (nome, falso) in [
        ("Subject", "POSTA CERTIFICATA: Bonifico urgente"),
        (
            "From",
            "\"Per conto di: direttore@pec.example.it\" <posta-certificata@pec.mittente.example>",
        ),
        ("Reply-To", "truffatore@example.com"),
        ("To", "truffatore@example.com"),
        ("Cc", "complice@example.com"),
        ("Date", "Mon, 01 Jan 2024 00:00:00 +0000"),
        ("X-TipoRicevuta", "sintetica"),
        ("Disposition-Notification-To", "truffatore@example.com"),
    ] {
        u = con_intestazione(u, nome, Some(falso));
    }
    let raw = firma_finta(&u);
    let esito = ricevi(
        &raw,
        &[DESTINATARIO_TO],
        Firma::Valida(indice_a()),
        Politica::Anomalia,
    )
    .unwrap();
    let (_, consegnata, _, _) = busta_di(esito);
    let ins = inspect(&consegnata).unwrap();
    let o = sample::originale();
    assert_eq!(
        ins.subject.as_deref(),
        Some(format!("POSTA CERTIFICATA: {}", o.oggetto.clone().unwrap()).as_str())
    );
    assert_eq!(
        ins.from.as_deref(),
        Some(
            format!("\"Per conto di: {MITTENTE}\" <posta-certificata@pec.mittente.example>")
                .as_str()
        )
    );
    assert_eq!(ins.date.as_deref(), Some(quando(0).rfc5322().as_str()));
    assert_eq!(ins.message_id.as_deref(), Some(IDENTIFICATIVO));
    assert_eq!(ins.tipo_ricevuta.as_deref(), Some("completa"));
    // To and Cc as the signed original has them.
    assert_eq!(ins.to, o.to);
    assert_eq!(ins.cc, o.cc);
    let testo = String::from_utf8_lossy(&consegnata);
    assert!(!testo.contains("truffatore"), "{testo}");
    assert!(!testo.contains("complice"), "{testo}");
    assert!(!testo.contains("Bonifico"), "{testo}");
    // The signed entity is untouched: the same bytes follow the rebuilt header block.
    assert!(consegnata.ends_with(&raw[raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap()..]));
}

#[test]
fn a_daticert_outside_the_signed_entity_is_never_read() {
    // An attacker wraps a genuine envelope's signed entity with a forged daticert part in
    // front of it: a second MIME parse of the whole message would find the forged one first.
    let genuina = busta_di_a();
    let falsa = {
        let o = Originale::parse(
            &String::from_utf8(sample::ORIGINALE.to_vec())
                .unwrap()
                .replace("ufficio.acquisti@", "estraneo@")
                .into_bytes(),
        )
        .unwrap();
        busta_di_a_con(&o, &o.destinatari(|_| TipoDestinatario::Certificato))
    };
    let raw = firma_finta(&falsa);
    // The verifier vouches for the genuine entity only.
    let destinatari = vec![ESTRANEO.to_string()];
    let esito = punto_ricezione(
        &Arrivo {
            raw: &raw,
            firmato: &genuina.content,
            mail_from: MITTENTE,
            destinatari: &destinatari,
            firma: Firma::Valida(indice_a()),
            virus: None,
        },
        &Contesto {
            provider: &gestore_b(),
            data: quando(5),
            ids: &IDS,
            politica: Politica::Rifiuta,
        },
    )
    .unwrap();
    assert!(
        matches!(esito, EsitoRicezione::Rifiutata { .. }),
        "{esito:?}"
    );
}

#[test]
fn an_infected_envelope_replayed_to_other_boxes_answers_only_the_certified_ones() {
    let raw = firma_finta(&busta_di_a());
    let rilevazioni = vec![
        "opec7.r1@pec.destinatario.example".to_string(),
        "opec7.r2@pec.destinatario.example".to_string(),
    ];
    let ids = IdRicezione {
        rilevazioni: &rilevazioni,
        ..IDS
    };
    let esito = ricevi_scansionato(
        &raw,
        &[ESTRANEO, DESTINATARIO_TO],
        Firma::Valida(indice_a()),
        Politica::Anomalia,
        Some(VIRUS),
        &ids,
    )
    .unwrap();
    let EsitoRicezione::Infetta {
        destinatari,
        rilevazioni,
        estranei,
        ..
    } = esito
    else {
        panic!("expected an infected envelope: {esito:?}");
    };
    assert_eq!(destinatari, [DESTINATARIO_TO]);
    assert_eq!(rilevazioni.len(), 1);
    let estranei = estranei.expect("strangers' outcome");
    // Refused for them, logged once as such: the virus itself is logged with the quarantine.
    let Estranei::Rifiutati {
        destinatari,
        eventi,
        ..
    } = estranei
    else {
        panic!("expected a refusal for the strangers");
    };
    assert_eq!(destinatari, [ESTRANEO]);
    let nomi: Vec<_> = eventi.iter().map(|e| e.evento.nome()).collect();
    assert_eq!(nomi, ["messaggio-rifiutato"]);
}

// Issue 12, item 2: a genuine receipt stored only in the box it answers for.

#[test]
fn a_receipt_replayed_to_other_boxes_is_stored_only_in_the_senders() {
    // Its outer To rewritten too: the stored copy is addressed from the signed data.
    let raw = firma_finta(&con_intestazione(
        consegna_di_b(),
        "To",
        Some("truffatore@example.com"),
    ));
    let altro = "giulia@pec.example.it";
    let esito = smista_in_a(
        &raw,
        &[altro, MITTENTE],
        Firma::Valida(indice_b()),
        Some(MITTENTE),
        Politica::Anomalia,
    );
    let EsitoRicezione::Ricevuta {
        casella,
        consegnata,
        eventi,
        estranei,
        ..
    } = esito
    else {
        panic!("expected a receipt: {esito:?}");
    };
    assert_eq!(casella, MITTENTE);
    assert_eq!(
        eventi[0].evento,
        TipoEvento::RicevutaRicevuta {
            ricevuta: "consegna-breve".into(),
            riguarda: vec![DESTINATARIO_TO.into()],
            caselle: vec![MITTENTE.into()],
        }
    );
    let (_, _, caselle, _) = anomalia_estranei(estranei.expect("strangers' outcome"));
    assert_eq!(caselle, [altro]);
    // What the sender's box gets: the receipt, headers from its daticert.
    let ins = inspect(&consegnata).unwrap();
    assert_eq!(ins.kind, MessageKind::ConsegnaBreve);
    assert_eq!(ins.to, [MITTENTE]);
}

#[test]
fn a_receipt_sent_only_to_a_box_that_did_not_send_the_message_is_not_stored_as_valid() {
    let raw = firma_finta(&consegna_di_b());
    let altro = "giulia@pec.example.it";
    for politica in [Politica::Anomalia, Politica::Rifiuta] {
        let esito = smista_in_a(
            &raw,
            &[altro],
            Firma::Valida(indice_b()),
            Some(MITTENTE),
            politica,
        );
        match (politica, esito) {
            (
                Politica::Anomalia,
                EsitoRicezione::Anomalia {
                    destinatari,
                    motivo,
                    ..
                },
            ) => {
                assert_eq!(destinatari, [altro]);
                assert!(
                    motivo.contains("non destinata a questa casella"),
                    "{motivo}"
                );
            }
            (Politica::Rifiuta, EsitoRicezione::Rifiutata { .. }) => {}
            (_, altro) => panic!("{altro:?}"),
        }
    }
}

#[test]
fn a_presa_in_carico_belongs_in_the_service_box_not_the_senders() {
    let b = gestore_b();
    let e = Emissione {
        provider: &b,
        data: quando(5),
        message_id: PRESA,
    };
    let presa = ricevuta_presa_in_carico(
        &e,
        &sample::dati(IDENTIFICATIVO),
        &[DESTINATARIO_TO.to_string()],
        MAIL_RECEIPT_A,
    )
    .unwrap();
    // Sent to the user instead of the service box: not stored as valid.
    let esito = smista_in_a(
        &firma_finta(&presa),
        &[MITTENTE],
        Firma::Valida(indice_b()),
        Some(MITTENTE),
        Politica::Anomalia,
    );
    assert!(
        matches!(esito, EsitoRicezione::Anomalia { .. }),
        "{esito:?}"
    );
}

#[test]
fn a_receipts_outer_headers_are_rebuilt_from_its_daticert() {
    let u = con_intestazione(
        consegna_di_b(),
        "Subject",
        Some("CONSEGNA: Vinci un premio"),
    );
    let u = con_intestazione(
        u,
        "From",
        Some("\"Ufficio\" <posta-certificata@pec.destinatario.example>"),
    );
    let raw = firma_finta(&u);
    let EsitoRicezione::Ricevuta { consegnata, .. } = ricevi_in_a(&raw, Firma::Valida(indice_b()))
    else {
        panic!("expected a receipt");
    };
    let ins = inspect(&consegnata).unwrap();
    let oggetto = sample::originale().oggetto.unwrap();
    assert_eq!(
        ins.subject.as_deref(),
        Some(format!("CONSEGNA: {oggetto}").as_str())
    );
    assert_eq!(
        ins.from.as_deref(),
        Some("posta-certificata@pec.destinatario.example")
    );
    assert_eq!(
        ins.message_id.as_deref(),
        Some("opec7.3@pec.destinatario.example")
    );
    assert_eq!(ins.date.as_deref(), Some(quando(6).rfc5322().as_str()));
}
