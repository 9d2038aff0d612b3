//! daticert writer and reader: catalogue round trips, escaping, tolerance, and hostile input.

use super::*;
use crate::kind::MessageKind;
use chrono::{DateTime, FixedOffset};

/// An Aruba-style daticert (PEC-SPEC §5.3) with `dati_extra` inserted at the end of `<dati>`.
fn aruba(tipo_errore: &str, dati_extra: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<postacert {tipo_errore}>
    <intestazione>
        <mittente>sviluppo@pec.esempio.it</mittente>
        <destinatari tipo="certificato">protocollo@pec.esempio.it</destinatari>
        <risposte>sviluppo@pec.esempio.it</risposte>
        <oggetto>[XDCR] xdcr_2022_02_00583.txt</oggetto>
    </intestazione>
    <dati>
        <gestore-emittente>ARUBA PEC S.p.A.</gestore-emittente>
        <data zona="+0200">
            <giorno>18/08/2023</giorno>
            <ora>17:37:14</ora>
        </data>
        <identificativo>opec21010.20230818173714.75133.134.1.56@pec.aruba.it</identificativo>
        <msgid>&lt;RZLFE1$D00882600B2330420CAE7B3643F81CDD@pec.esempio.it&gt;</msgid>
        {dati_extra}
    </dati>
</postacert>
"#
    )
}

fn busta_xml() -> String {
    aruba(
        r#"tipo="posta-certificata" errore="nessuno""#,
        r#"<ricevuta tipo="completa" />"#,
    )
}

fn read(xml: &str) -> Result<Daticert, ReadError> {
    Daticert::from_xml(xml.as_bytes())
}

fn example(name: &str) -> Daticert {
    catalogue_examples()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, d)| d)
        .unwrap()
}

fn at(rfc3339: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap()
}

// --- catalogue -----------------------------------------------------------------------------

#[test]
fn every_catalogue_example_round_trips() {
    for (name, d) in catalogue_examples() {
        let xml = d.to_xml().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(read(&xml).as_ref(), Ok(&d), "{name}:\n{xml}");
    }
}

#[test]
fn catalogue_covers_every_kind_with_daticert_with_its_tipo() {
    let examples = catalogue_examples();
    for kind in MessageKind::PEC {
        let matching: Vec<_> = examples
            .iter()
            .filter(|(name, _)| name.split('/').next() == Some(kind.name()))
            .collect();
        match kind.daticert_tipo() {
            None => assert!(matching.is_empty(), "{kind} has no daticert"),
            Some(tipo) => {
                assert!(!matching.is_empty(), "no example for {kind}");
                for (name, d) in matching {
                    assert_eq!(d.tipo, tipo, "{name}");
                }
            }
        }
    }
    for (name, _) in &examples {
        let kind = name.split('/').next().unwrap();
        assert!(MessageKind::from_name(kind).is_some(), "{name} is no kind");
    }
}

#[test]
fn catalogue_has_every_tipo_errore_pair_of_the_summary_matrix() {
    use Errore::*;
    use Tipo::*;
    let expected = [
        (PostaCertificata, Nessuno),
        (Accettazione, Nessuno),
        (NonAccettazione, Altro),
        (NonAccettazione, Virus),
        (PresaInCarico, Nessuno),
        (AvvenutaConsegna, Nessuno),
        (ErroreConsegna, NoDest),
        (ErroreConsegna, NoDominio),
        (ErroreConsegna, Altro),
        (ErroreConsegna, Virus),
        (PreavvisoErroreConsegna, Altro),
        (RilevazioneVirus, Virus),
    ];
    let pairs: Vec<_> = catalogue_examples()
        .into_iter()
        .map(|(_, d)| (d.tipo, d.errore))
        .collect();
    for pair in expected {
        assert!(pairs.contains(&pair), "missing {pair:?}");
    }
    let receipts: Vec<_> = catalogue_examples()
        .into_iter()
        .filter_map(|(_, d)| d.dati.ricevuta)
        .collect();
    for tipo in TipoRicevuta::ALL {
        assert!(receipts.contains(tipo), "no example with ricevuta {tipo}");
    }
}

#[test]
fn presa_in_carico_keeps_every_ricezione_in_order() {
    let d = example("presa-in-carico");
    assert!(d.dati.ricezione.len() > 1);
    let back = read(&d.to_xml().unwrap()).unwrap();
    assert_eq!(back.dati.ricezione, d.dati.ricezione);
}

// --- escaping --------------------------------------------------------------------------------

#[test]
fn special_characters_are_escaped_and_come_back_equal() {
    let mut d = example("mancata-consegna/no-dest");
    let tricky = r#"<b>Tom & "Jerry"</b> l'ànatra è già più così — ñ ü ß € 😀 ]]> &amp;"#;
    d.intestazione.oggetto = Some(tricky.into());
    d.intestazione.mittente = r#""o'brien&co"@pec.esempio.it"#.into();
    d.intestazione.destinatari[0].indirizzo = "<àè@pec.esempio.it>".into();
    d.intestazione.risposte = "risposte+'x'@esempio.it".into();
    d.dati.consegna = Some("a&b@pec.esempio.it".into());
    d.dati.errore_esteso =
        Some(r#"5.1.1 - <Gestore "Test"> & co. - 'indirizzo' non valido 🚫"#.into());
    d.dati.gestore_emittente = "Gestore & Figli <S.p.A.>".into();
    let xml = d.to_xml().unwrap();
    assert!(!xml.contains("<b>"), "markup leaked:\n{xml}");
    assert!(!xml.contains("Tom & "), "bare ampersand:\n{xml}");
    assert_eq!(read(&xml), Ok(d));
}

#[test]
fn msgid_keeps_its_angle_brackets() {
    let d = read(&busta_xml()).unwrap();
    assert_eq!(
        d.dati.msgid.as_deref(),
        Some("<RZLFE1$D00882600B2330420CAE7B3643F81CDD@pec.esempio.it>")
    );
    let xml = d.to_xml().unwrap();
    assert!(xml.contains("<msgid>&lt;RZLFE1$"), "{xml}");
}

// --- writer refusals -------------------------------------------------------------------------

#[test]
fn writer_rejects_unknown_tipo() {
    let mut d = example("busta");
    d.tipo = Tipo::Unknown("non-pec".into());
    assert_eq!(
        d.to_xml(),
        Err(WriteError::UnknownValue {
            attribute: "postacert/@tipo",
            value: "non-pec".into()
        })
    );
}

#[test]
fn writer_rejects_unknown_errore() {
    let mut d = example("busta");
    d.errore = Errore::Unknown("boh".into());
    assert!(matches!(
        d.to_xml(),
        Err(WriteError::UnknownValue {
            attribute: "postacert/@errore",
            ..
        })
    ));
}

#[test]
fn writer_rejects_unknown_destinatari_tipo() {
    let mut d = example("busta");
    d.intestazione.destinatari[1].tipo = TipoDestinatario::Unknown("pec".into());
    assert!(matches!(
        d.to_xml(),
        Err(WriteError::UnknownValue {
            attribute: "destinatari/@tipo",
            ..
        })
    ));
}

#[test]
fn writer_rejects_unknown_ricevuta_tipo() {
    let mut d = example("busta");
    d.dati.ricevuta = Some(TipoRicevuta::Unknown("lunga".into()));
    assert!(matches!(
        d.to_xml(),
        Err(WriteError::UnknownValue {
            attribute: "ricevuta/@tipo",
            ..
        })
    ));
}

#[test]
fn writer_rejects_empty_destinatari() {
    let mut d = example("accettazione");
    d.intestazione.destinatari.clear();
    assert_eq!(d.to_xml(), Err(WriteError::NoDestinatari));
}

// --- reading real and tolerated files --------------------------------------------------------

#[test]
fn reads_the_aruba_envelope_of_the_spec() {
    let d = read(&busta_xml()).unwrap();
    assert_eq!(d.tipo, Tipo::PostaCertificata);
    assert_eq!(d.errore, Errore::Nessuno);
    assert_eq!(d.intestazione.mittente, "sviluppo@pec.esempio.it");
    assert_eq!(
        d.intestazione.destinatari,
        vec![Destinatario {
            indirizzo: "protocollo@pec.esempio.it".into(),
            tipo: TipoDestinatario::Certificato
        }]
    );
    assert_eq!(
        d.intestazione.oggetto.as_deref(),
        Some("[XDCR] xdcr_2022_02_00583.txt")
    );
    assert_eq!(d.dati.gestore_emittente, "ARUBA PEC S.p.A.");
    assert_eq!(d.dati.data.local(), at("2023-08-18T17:37:14+02:00"));
    assert_eq!(d.dati.data.zona(), "+0200");
    assert_eq!(
        d.dati.identificativo,
        "opec21010.20230818173714.75133.134.1.56@pec.aruba.it"
    );
    assert_eq!(d.dati.ricevuta, Some(TipoRicevuta::Completa));
    assert_eq!(d.dati.consegna, None);
    assert!(d.dati.ricezione.is_empty());
}

#[test]
fn whitespace_around_values_is_trimmed() {
    let xml = r#"<postacert tipo=" accettazione " errore="nessuno">
  <intestazione>
    <mittente>
        a@pec.esempio.it
    </mittente>
    <destinatari tipo="esterno">	b@esempio.it	</destinatari>
    <risposte> a@pec.esempio.it </risposte>
  </intestazione>
  <dati>
    <gestore-emittente>  GESTORE  </gestore-emittente>
    <data zona=" +0100 "><giorno> 07/11/2014 </giorno><ora>
      16:52:00
    </ora></data>
    <identificativo> id@pec.esempio.it </identificativo>
  </dati>
</postacert>"#;
    let d = read(xml).unwrap();
    assert_eq!(d.tipo, Tipo::Accettazione);
    assert_eq!(d.intestazione.mittente, "a@pec.esempio.it");
    assert_eq!(d.intestazione.destinatari[0].indirizzo, "b@esempio.it");
    assert_eq!(
        d.intestazione.destinatari[0].tipo,
        TipoDestinatario::Esterno
    );
    assert_eq!(d.dati.gestore_emittente, "GESTORE");
    assert_eq!(d.dati.identificativo, "id@pec.esempio.it");
    assert_eq!(d.dati.data.local(), at("2014-11-07T16:52:00+01:00"));
}

#[test]
fn zona_with_colon_is_accepted() {
    let xml = busta_xml().replace(r#"zona="+0200""#, r#"zona="+02:00""#);
    let d = read(&xml).unwrap();
    assert_eq!(d.dati.data.local(), at("2023-08-18T17:37:14+02:00"));
    assert_eq!(d.dati.data.zona(), "+0200");
}

#[test]
fn negative_zona_is_accepted() {
    let xml = busta_xml().replace(r#"zona="+0200""#, r#"zona="-0530""#);
    let d = read(&xml).unwrap();
    assert_eq!(d.dati.data.local(), at("2023-08-18T17:37:14-05:30"));
}

#[test]
fn missing_errore_defaults_to_nessuno() {
    let d = read(&aruba(r#"tipo="accettazione""#, "")).unwrap();
    assert_eq!(d.errore, Errore::Nessuno);
}

#[test]
fn missing_destinatari_tipo_defaults_to_certificato() {
    let xml = busta_xml().replace(r#"<destinatari tipo="certificato">"#, "<destinatari>");
    let d = read(&xml).unwrap();
    assert_eq!(
        d.intestazione.destinatari[0].tipo,
        TipoDestinatario::Certificato
    );
}

#[test]
fn unknown_enumerated_values_are_reported_as_unknown() {
    let xml = aruba(
        r#"tipo="non-pec" errore="sconosciuto""#,
        r#"<ricevuta tipo="lunghissima" />"#,
    )
    .replace(r#"tipo="certificato""#, r#"tipo="forse""#);
    let d = read(&xml).unwrap();
    assert_eq!(d.tipo, Tipo::Unknown("non-pec".into()));
    assert_eq!(d.errore, Errore::Unknown("sconosciuto".into()));
    assert_eq!(
        d.intestazione.destinatari[0].tipo,
        TipoDestinatario::Unknown("forse".into())
    );
    assert_eq!(
        d.dati.ricevuta,
        Some(TipoRicevuta::Unknown("lunghissima".into()))
    );
    assert!(
        d.to_xml().is_err(),
        "the writer must not echo unknown values"
    );
}

#[test]
fn unknown_elements_are_skipped() {
    let xml = aruba(
        r#"tipo="avvenuta-consegna""#,
        r#"<consegna>protocollo@pec.esempio.it</consegna>
        <estensione versione="2"><annidata>x</annidata></estensione>"#,
    )
    .replace(
        "<intestazione>",
        "<intestazione><nota>ignorata</nota><mittente-extra/>",
    );
    let d = read(&xml).unwrap();
    assert_eq!(
        d.dati.consegna.as_deref(),
        Some("protocollo@pec.esempio.it")
    );
    assert_eq!(d.intestazione.mittente, "sviluppo@pec.esempio.it");
}

#[test]
fn comments_cdata_and_processing_instructions_are_handled() {
    let xml = busta_xml()
        .replace(
            "<oggetto>[XDCR] xdcr_2022_02_00583.txt</oggetto>",
            "<oggetto><!-- c --><![CDATA[a <b> & c]]><?pi x?> d</oggetto>",
        )
        .replace("<dati>", "<dati><!-- commento -->");
    let d = read(&xml).unwrap();
    assert_eq!(d.intestazione.oggetto.as_deref(), Some("a <b> & c d"));
}

#[test]
fn element_order_is_not_enforced() {
    let xml = r#"<postacert tipo="accettazione"><dati>
        <identificativo>id</identificativo>
        <data zona="+0100"><ora>10:00:00</ora><giorno>01/02/2020</giorno></data>
        <gestore-emittente>G</gestore-emittente>
      </dati><intestazione><risposte>r@x.it</risposte><mittente>m@x.it</mittente>
        <destinatari>d@x.it</destinatari></intestazione></postacert>"#;
    let d = read(xml).unwrap();
    assert_eq!(d.intestazione.mittente, "m@x.it");
    assert_eq!(d.dati.data.local(), at("2020-02-01T10:00:00+01:00"));
}

#[test]
fn optional_parts_may_be_absent() {
    let xml = r#"<postacert tipo="accettazione"><intestazione><mittente>m@x.it</mittente>
        </intestazione><dati><gestore-emittente>G</gestore-emittente>
        <data zona="+0100"><giorno>1/2/2020</giorno><ora>9:05:00</ora></data>
        <identificativo>id</identificativo></dati></postacert>"#;
    let d = read(xml).unwrap();
    assert!(d.intestazione.destinatari.is_empty());
    assert_eq!(d.intestazione.risposte, "");
    assert_eq!(d.intestazione.oggetto, None);
    assert_eq!(d.dati.msgid, None);
    assert_eq!(d.dati.ricevuta, None);
    assert_eq!(d.dati.errore_esteso, None);
    assert_eq!(d.dati.data.local(), at("2020-02-01T09:05:00+01:00"));
}

#[test]
fn empty_optional_element_reads_as_empty_string() {
    let mut d = example("accettazione");
    d.intestazione.oggetto = Some(String::new());
    assert_eq!(read(&d.to_xml().unwrap()), Ok(d));
    let xml = busta_xml().replace(
        "<oggetto>[XDCR] xdcr_2022_02_00583.txt</oggetto>",
        "<oggetto/>",
    );
    assert_eq!(
        read(&xml).unwrap().intestazione.oggetto.as_deref(),
        Some("")
    );
}

#[test]
fn bom_and_plain_doctype_are_accepted_and_ignored() {
    let xml = busta_xml().replace(
        "<postacert",
        "<!DOCTYPE postacert SYSTEM \"http://example.invalid/daticert[1].dtd\">\n<postacert",
    );
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(xml.as_bytes());
    assert_eq!(Daticert::from_xml(&bytes), read(&busta_xml()));
}

#[test]
fn character_references_are_expanded() {
    let xml = busta_xml().replace(
        "<oggetto>[XDCR] xdcr_2022_02_00583.txt</oggetto>",
        "<oggetto>&#224;&#xE8; &quot;&apos;&amp;</oggetto>",
    );
    assert_eq!(
        read(&xml).unwrap().intestazione.oggetto.as_deref(),
        Some("àè \"'&")
    );
}

#[test]
fn crlf_files_are_read() {
    let xml = busta_xml().replace('\n', "\r\n");
    assert_eq!(read(&xml), read(&busta_xml()));
}

// --- strictness on certified data ----------------------------------------------------------

#[test]
fn missing_mandatory_elements_are_named() {
    for (element, from, to) in [
        (
            "mittente",
            "<mittente>sviluppo@pec.esempio.it</mittente>",
            "",
        ),
        (
            "gestore-emittente",
            "<gestore-emittente>ARUBA PEC S.p.A.</gestore-emittente>",
            "",
        ),
        (
            "identificativo",
            "<identificativo>opec21010.20230818173714.75133.134.1.56@pec.aruba.it</identificativo>",
            "",
        ),
        ("giorno", "<giorno>18/08/2023</giorno>", ""),
        ("ora", "<ora>17:37:14</ora>", ""),
    ] {
        let xml = busta_xml().replace(from, to);
        assert_eq!(
            read(&xml),
            Err(ReadError::MissingElement { element }),
            "{element}"
        );
    }
    let without_data = r#"<postacert tipo="accettazione"><intestazione><mittente>m</mittente>
        </intestazione><dati><gestore-emittente>G</gestore-emittente>
        <identificativo>id</identificativo></dati></postacert>"#;
    assert_eq!(
        read(without_data),
        Err(ReadError::MissingElement { element: "data" })
    );
    let without_dati = r#"<postacert tipo="accettazione"><intestazione><mittente>m</mittente>
        </intestazione></postacert>"#;
    assert_eq!(
        read(without_dati),
        Err(ReadError::MissingElement { element: "dati" })
    );
    let without_intestazione = r#"<postacert tipo="accettazione"><dati/></postacert>"#;
    assert_eq!(
        read(without_intestazione),
        Err(ReadError::MissingElement {
            element: "intestazione"
        })
    );
}

#[test]
fn missing_mandatory_attributes_are_named() {
    assert_eq!(
        read(&aruba("", "")),
        Err(ReadError::MissingAttribute {
            element: "postacert",
            attribute: "tipo"
        })
    );
    assert_eq!(
        read(&busta_xml().replace(r#" zona="+0200""#, "")),
        Err(ReadError::MissingAttribute {
            element: "data",
            attribute: "zona"
        })
    );
    assert_eq!(
        read(&busta_xml().replace(r#"<ricevuta tipo="completa" />"#, "<ricevuta/>")),
        Err(ReadError::MissingAttribute {
            element: "ricevuta",
            attribute: "tipo"
        })
    );
}

#[test]
fn bad_dates_are_named() {
    for (element, from, to) in [
        ("giorno", "18/08/2023", "31/02/2023"),
        ("giorno", "18/08/2023", "2023-08-18"),
        ("giorno", "18/08/2023", "18/08/23"),
        ("giorno", "18/08/2023", "18/08/+2023"),
        ("ora", "17:37:14", "24:00:00"),
        ("ora", "17:37:14", "17:37"),
        ("ora", "17:37:14", "17:37:60"),
        ("zona", "+0200", "CEST"),
        ("zona", "+0200", "+2400"),
        ("zona", "+0200", "0200"),
        ("zona", "+0200", "+a€"),
    ] {
        let xml = busta_xml().replace(from, to);
        match read(&xml) {
            Err(ReadError::InvalidDate {
                element: e, value, ..
            }) => {
                assert_eq!((e, value.as_str()), (element, to), "{to}")
            }
            other => panic!("{to}: {other:?}"),
        }
    }
}

#[test]
fn repeated_mandatory_element_is_refused() {
    let xml = busta_xml().replace(
        "<mittente>sviluppo@pec.esempio.it</mittente>",
        "<mittente>a@x.it</mittente><mittente>b@x.it</mittente>",
    );
    assert_eq!(
        read(&xml),
        Err(ReadError::Duplicate {
            element: "mittente"
        })
    );
    let xml = aruba(
        r#"tipo="avvenuta-consegna""#,
        "<consegna>a@x.it</consegna><consegna>b@x.it</consegna>",
    );
    assert_eq!(
        read(&xml),
        Err(ReadError::Duplicate {
            element: "consegna"
        })
    );
}

#[test]
fn wrong_root_is_named() {
    assert_eq!(
        read("<postacertificata tipo=\"accettazione\"/>"),
        Err(ReadError::WrongRoot {
            found: "postacertificata".into()
        })
    );
}

#[test]
fn empty_input_has_no_root() {
    assert_eq!(read(""), Err(ReadError::NoRoot));
    assert_eq!(
        read("<?xml version=\"1.0\"?>\n<!-- nulla -->\n"),
        Err(ReadError::NoRoot)
    );
}

#[test]
fn non_utf8_encoding_declaration_is_refused() {
    let xml = busta_xml().replace("UTF-8", "ISO-8859-1");
    assert_eq!(
        read(&xml),
        Err(ReadError::UnsupportedEncoding {
            encoding: "ISO-8859-1".into()
        })
    );
}

// --- hostile input ---------------------------------------------------------------------------

#[test]
fn xxe_is_refused() {
    let xml = r#"<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<postacert tipo="accettazione"><intestazione><mittente>&e;</mittente></intestazione></postacert>"#;
    assert_eq!(read(xml), Err(ReadError::DoctypeInternalSubset));
}

#[test]
fn billion_laughs_is_refused() {
    let mut xml =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        xml.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    xml.push_str("]>\n<postacert tipo=\"accettazione\"><intestazione><mittente>&lol9;</mittente></intestazione></postacert>");
    assert_eq!(read(&xml), Err(ReadError::DoctypeInternalSubset));
}

#[test]
fn undefined_entity_is_refused() {
    let xml = busta_xml().replace("sviluppo@pec.esempio.it</mittente>", "&xxe;</mittente>");
    assert_eq!(
        read(&xml),
        Err(ReadError::UndefinedEntity { name: "xxe".into() })
    );
    let xml = busta_xml().replace(r#"tipo="completa""#, r#"tipo="&nbsp;""#);
    assert_eq!(
        read(&xml),
        Err(ReadError::UndefinedEntity {
            name: "nbsp".into()
        })
    );
}

#[test]
fn invalid_character_references_are_refused() {
    for (reference, expected) in [
        ("&#0;", None),
        ("&#x110000;", None),
        ("&#xD800;", None),
        ("&#-1;", None),
        ("&#x1;", Some(1)),
        ("&#x85;", Some(0x85)),
        ("&#xFFFF;", Some(0xFFFF)),
        ("& ", None),
    ] {
        let xml = busta_xml().replace("[XDCR]", reference);
        match (read(&xml), expected) {
            (Err(ReadError::InvalidCharacter { codepoint }), Some(c)) => assert_eq!(codepoint, c),
            (Err(ReadError::InvalidReference { .. }), None) => {}
            (other, _) => panic!("{reference}: {other:?}"),
        }
    }
}

#[test]
fn oversize_input_is_refused() {
    let mut xml = busta_xml();
    xml.push_str(&" ".repeat(MAX_BYTES + 1 - xml.len()));
    assert_eq!(
        read(&xml),
        Err(ReadError::TooLarge {
            size: MAX_BYTES + 1,
            limit: MAX_BYTES
        })
    );
    xml.pop();
    assert!(read(&xml).is_ok(), "exactly MAX_BYTES is accepted");
}

#[test]
fn deep_nesting_is_refused() {
    let deep = "<x>".repeat(MAX_DEPTH) + &"</x>".repeat(MAX_DEPTH);
    let xml = busta_xml().replace("<ricevuta", &format!("{deep}<ricevuta"));
    assert_eq!(read(&xml), Err(ReadError::TooDeep { limit: MAX_DEPTH }));
    // A stack-overflow attempt stops at the limit, unclosed and all.
    let xml = "<a>".repeat(200_000);
    assert_eq!(read(&xml), Err(ReadError::TooDeep { limit: MAX_DEPTH }));
}

#[test]
fn nesting_just_within_the_limit_is_accepted() {
    let deep = "<x>".repeat(MAX_DEPTH - 2) + &"</x>".repeat(MAX_DEPTH - 2);
    let xml = busta_xml().replace("<ricevuta", &format!("{deep}<ricevuta"));
    assert!(read(&xml).is_ok());
}

#[test]
fn too_many_elements_are_refused() {
    let xml = busta_xml().replace(
        "<ricevuta",
        &format!("{}<ricevuta", "<x/>".repeat(MAX_ELEMENTS)),
    );
    assert_eq!(
        read(&xml),
        Err(ReadError::TooManyElements {
            limit: MAX_ELEMENTS
        })
    );
}

#[test]
fn invalid_utf8_is_refused() {
    let mut bytes = busta_xml().into_bytes();
    let at = bytes.iter().position(|&b| b == b'[').unwrap();
    bytes[at] = 0xC3;
    bytes[at + 1] = 0x28;
    assert_eq!(
        Daticert::from_xml(&bytes),
        Err(ReadError::InvalidUtf8 { offset: at })
    );
    assert_eq!(
        Daticert::from_xml(b"\xFF\xFE<\x00p\x00"),
        Err(ReadError::InvalidUtf8 { offset: 0 })
    );
}

#[test]
fn binary_garbage_is_refused() {
    assert_eq!(
        Daticert::from_xml(b"\x00\x01\x02\x03 binary \x7F"),
        Err(ReadError::InvalidCharacter { codepoint: 0 })
    );
    assert!(matches!(
        read("%PDF-1.4 not xml at all"),
        Err(ReadError::Malformed { .. })
    ));
    assert!(matches!(
        read("<postacert tipo=\"x\"><<<>>></postacert>"),
        Err(ReadError::Malformed { .. })
    ));
}

#[test]
fn malformed_documents_are_refused() {
    for xml in [
        "<postacert tipo=\"accettazione\">",
        "<postacert tipo=\"accettazione\"></dati>",
        "<postacert tipo=\"accettazione\" tipo=\"accettazione\"/>",
        "<postacert tipo=accettazione/>",
        "<postacert tipo=\"accettazione\"/><postacert tipo=\"accettazione\"/>",
        "</postacert>",
        "<postacert tipo=\"a\"><!-- a -- b --></postacert>",
    ] {
        assert!(
            matches!(read(xml), Err(ReadError::Malformed { .. })),
            "{xml}: {:?}",
            read(xml)
        );
    }
}

#[test]
fn doctype_after_root_is_refused() {
    let xml = busta_xml() + "<!DOCTYPE postacert>";
    assert!(
        matches!(read(&xml), Err(ReadError::Malformed { .. })),
        "{:?}",
        read(&xml)
    );
}

#[test]
fn every_truncation_and_byte_flip_fails_cleanly() {
    // A cheap in-tree stand-in for the fuzz targets: no input may panic.
    let xml = example("presa-in-carico").to_xml().unwrap().into_bytes();
    for end in 0..xml.len() {
        let _ = Daticert::from_xml(&xml[..end]);
    }
    for i in 0..xml.len() {
        for flip in [0x01, 0x20, 0x80, 0xFF] {
            let mut bytes = xml.clone();
            bytes[i] ^= flip;
            let _ = Daticert::from_xml(&bytes);
        }
    }
}

#[test]
fn errors_print_on_one_line() {
    let errors = [
        read(&busta_xml().replace("18/08/2023", "x")).unwrap_err(),
        read("<a>").unwrap_err(),
        read("<postacert tipo=\"a\"><!-- a -- b --></postacert>").unwrap_err(),
        Daticert::from_xml(&[0xFF]).unwrap_err(),
    ];
    for e in errors {
        assert!(!e.to_string().contains('\n'), "{e}");
    }
}

// --- real files (shared/samples/real, never copied into the repo) ----------------------------

/// The decoded `daticert.xml` part of a real message.
fn real_daticert(file: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../../shared/samples/real/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let eml = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "genuine sample {file} missing ({e}): this test reads ../shared/samples/real/ \
             beside the project, which a clone alone does not have (README, Samples)"
        )
    });
    crate::inspect::inspect(&eml)
        .unwrap()
        .daticert_xml
        .unwrap_or_else(|| panic!("{file} has no daticert.xml"))
}

const REAL: [&str; 5] = [
    "aruba-2014-busta-1.eml",
    "aruba-2014-busta-2.eml",
    "aruba-2014-accettazione.eml",
    "aruba-2014-consegna.eml",
    "tampered-busta.eml",
];

#[test]
fn reads_real_aruba_busta() {
    let d = Daticert::from_xml(&real_daticert("aruba-2014-busta-1.eml")).unwrap();
    assert_eq!(d.tipo, Tipo::PostaCertificata);
    assert_eq!(d.errore, Errore::Nessuno);
    assert_eq!(d.intestazione.mittente, "thinkstudio@pec.it");
    assert_eq!(
        d.intestazione.destinatari,
        vec![Destinatario {
            indirizzo: "l.battistini@pec.it".into(),
            tipo: TipoDestinatario::Certificato
        }]
    );
    assert_eq!(d.intestazione.risposte, "thinkstudio@pec.it");
    assert_eq!(d.intestazione.oggetto.as_deref(), Some("Re: archetipo"));
    assert_eq!(d.dati.gestore_emittente, "ARUBA PEC S.p.A.");
    assert_eq!(d.dati.data.local(), at("2014-11-07T16:52:00+01:00"));
    assert_eq!(
        d.dati.identificativo,
        "opec275.20141107165200.03048.08.1.17@pec.aruba.it"
    );
    assert_eq!(
        d.dati.msgid.as_deref(),
        Some("<NEOEQO$8B558E13C0664DE7004C1EFB790D1A09@pec.it>")
    );
    assert_eq!(d.dati.ricevuta, Some(TipoRicevuta::Completa));
}

#[test]
fn reads_real_aruba_accettazione_without_ricevuta() {
    let d = Daticert::from_xml(&real_daticert("aruba-2014-accettazione.eml")).unwrap();
    assert_eq!(d.tipo, Tipo::Accettazione);
    assert_eq!(d.dati.ricevuta, None);
    assert_eq!(d.dati.data.local(), at("2014-11-14T18:26:32+01:00"));
    assert_eq!(
        d.dati.msgid.as_deref(),
        Some("<1415985992.182905912399292.346704098667155-openerp-private@elbati-Vostro-3550>")
    );
}

#[test]
fn reads_real_aruba_consegna() {
    let d = Daticert::from_xml(&real_daticert("aruba-2014-consegna.eml")).unwrap();
    assert_eq!(d.tipo, Tipo::AvvenutaConsegna);
    assert_eq!(d.dati.ricevuta, Some(TipoRicevuta::Completa));
    assert_eq!(d.dati.consegna.as_deref(), Some("thinkstudio@pec.it"));
}

#[test]
fn reads_real_sogei_breve_envelope() {
    let d = Daticert::from_xml(&real_daticert("tampered-busta.eml")).unwrap();
    assert_eq!(d.dati.gestore_emittente, "Sogei SpA");
    assert_eq!(d.dati.ricevuta, Some(TipoRicevuta::Breve));
    assert_eq!(
        d.intestazione.oggetto.as_deref(),
        Some("Invio File 7339338 (SIMULAZIONE)")
    );
}

#[test]
fn real_files_survive_our_writer() {
    for file in REAL {
        let d = Daticert::from_xml(&real_daticert(file)).unwrap();
        assert_eq!(read(&d.to_xml().unwrap()).as_ref(), Ok(&d), "{file}");
    }
}
