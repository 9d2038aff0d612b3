//! What holds for every kind: the samples of all 14 kinds, checked against the summary matrix
//! of PEC-SPEC §4.12 and the wire rules (CRLF, 998 octets, boundaries, determinism).

use super::*;

fn tutti() -> Vec<(MessageKind, UnsignedMessage)> {
    let p = provider();
    MessageKind::PEC
        .into_iter()
        .map(|k| (k, sample::sample(k, &p, adesso())))
        .collect()
}

#[test]
fn every_kind_has_its_pec_header_and_subject_prefix() {
    for (k, u) in tutti() {
        let (nome, valore) = k.pec_header().unwrap();
        assert_eq!(u.header(nome), Some(valore), "{k}");
        let altro = if nome == "X-Trasporto" {
            "X-Ricevuta"
        } else {
            "X-Trasporto"
        };
        assert_eq!(u.header(altro), None, "{k}");
        let w = wire(&u);
        let m = parse(&w);
        assert_oggetto(&m, k);
        let sicurezza = k.verifica_sicurezza().then_some("errore");
        assert_eq!(u.header("X-VerificaSicurezza"), sicurezza, "{k}");
        let mittente = (k == MessageKind::RilevazioneVirus).then_some(MITTENTE);
        assert_eq!(u.header("X-Mittente"), mittente, "{k}");
        let tipo_ricevuta = (k == MessageKind::BustaTrasporto).then_some("completa");
        assert_eq!(u.header("X-TipoRicevuta"), tipo_ricevuta, "{k}");
        assert!(u.header("Content-Type").is_none() && u.header("MIME-Version").is_none());
    }
}

#[test]
fn every_kind_has_the_parts_of_the_summary_matrix() {
    for (k, u) in tutti() {
        let w = wire(&u);
        let m = parse(&w);
        assert_eq!(
            parte(&m, "postacert.eml").is_some(),
            k.carries_postacert(),
            "{k}"
        );
        let xml = parte(&m, "daticert.xml");
        assert_eq!(xml.is_some(), k.daticert_tipo().is_some(), "{k}");
        if let (Some(xml), Some(tipo)) = (xml, k.daticert_tipo()) {
            let xml = String::from_utf8_lossy(xml);
            let errore = if k == MessageKind::MancataConsegna {
                Errore::NoDest // the sample's choice; the kind's default is `altro`
            } else {
                k.default_errore()
            };
            assert!(
                xml.contains(&format!("<postacert tipo=\"{tipo}\" errore=\"{errore}\">")),
                "{k}: {xml}"
            );
        }
        let ct = m.parts[0].content_type().unwrap();
        assert_eq!(
            (ct.ctype(), ct.subtype()),
            ("multipart", Some("mixed")),
            "{k}"
        );
        assert!(u
            .content
            .starts_with(b"Content-Type: multipart/mixed; boundary=\""));
    }
}

#[test]
fn every_line_ends_with_crlf_and_fits_998_octets() {
    for (k, u) in tutti() {
        assert!(u.content.ends_with(b"\r\n"), "{k}");
        for (i, riga) in u.content.split(|&b| b == b'\n').enumerate() {
            let ultima = i == u.content.split(|&b| b == b'\n').count() - 1;
            if ultima {
                assert!(riga.is_empty(), "{k}: text after the last CRLF");
                continue;
            }
            let riga = riga
                .strip_suffix(b"\r")
                .unwrap_or_else(|| panic!("{k}: bare LF at line {i}"));
            assert!(!riga.contains(&b'\r'), "{k}: bare CR at line {i}");
            assert!(riga.len() <= 998, "{k}: line {i} is {} octets", riga.len());
        }
    }
}

#[test]
fn header_values_are_ascii_and_only_prefolded() {
    for (k, u) in tutti() {
        for (n, v) in &u.headers {
            assert!(v.is_ascii(), "{k}: {n}");
            for (i, pezzo) in v.split("\r\n").enumerate() {
                assert!(!pezzo.contains('\n') && !pezzo.contains('\r'), "{k}: {n}");
                if i > 0 {
                    assert!(pezzo.starts_with([' ', '\t']), "{k}: {n} continuation");
                }
                assert!(pezzo.len() + n.len() + 2 <= 998, "{k}: {n}");
            }
        }
    }
}

#[test]
fn boundaries_never_occur_inside_the_parts() {
    for (k, u) in tutti() {
        let s = String::from_utf8_lossy(&u.content).into_owned();
        let w = wire(&u);
        let m = parse(&w);
        let confini: Vec<String> = m.parts[..2]
            .iter()
            .filter_map(|p| p.content_type()?.attribute("boundary").map(str::to_string))
            .collect();
        assert_eq!(confini.len(), 2, "{k}: mixed + alternative");
        for c in &confini {
            let delimitatore = format!("--{c}");
            let righe: Vec<&str> = s.split("\r\n").filter(|r| r.contains(c.as_str())).collect();
            for riga in &righe[1..] {
                assert!(
                    *riga == delimitatore || *riga == format!("{delimitatore}--"),
                    "{k}: boundary inside content: {riga}"
                );
            }
            assert!(righe[0].contains("boundary="), "{k}");
        }
    }
}

#[test]
fn a_crafted_original_cannot_capture_the_boundary() {
    let p = provider();
    let u = sample::sample(MessageKind::BustaTrasporto, &p, adesso());
    let s = String::from_utf8_lossy(&u.content).into_owned();
    let i = s.find("boundary=\"").unwrap() + "boundary=\"".len();
    let confine = &s[i..i + s[i..].find('"').unwrap()];
    // An original that contains the very boundary the envelope would use.
    let raw = format!("From: a@pec.it\r\nTo: b@pec.it\r\n\r\n--{confine}\r\ntrappola\r\n");
    let o = Originale::parse(raw.as_bytes()).unwrap();
    let dest = o.destinatari(|_| crate::daticert::TipoDestinatario::Certificato);
    let id = u.header("Message-ID").unwrap().to_string();
    let e = Emissione {
        provider: &p,
        data: adesso(),
        message_id: &id,
    };
    let v = busta_trasporto(&e, &o, &dest).unwrap();
    let sv = String::from_utf8_lossy(&v.content).into_owned();
    assert!(!sv.starts_with(&format!(
        "Content-Type: multipart/mixed; boundary=\"{confine}\""
    )));
    let w = wire(&v);
    let m = parse(&w);
    assert_eq!(layout(&m), CON_POSTACERT);
    assert_eq!(
        parte(&m, "postacert.eml"),
        Some(o.postacert(&id).as_slice())
    );
}

#[test]
fn the_same_inputs_give_the_same_bytes() {
    let p = provider();
    for k in MessageKind::PEC {
        assert_eq!(
            sample::sample(k, &p, adesso()),
            sample::sample(k, &p, adesso()),
            "{k}"
        );
    }
}

#[test]
fn one_time_reference_per_message() {
    for (k, u) in tutti() {
        assert_eq!(
            u.header("Date"),
            Some("Fri, 15 Mar 2024 10:30:00 +0100"),
            "{k}"
        );
        let w = wire(&u);
        let m = parse(&w);
        assert!(
            testo_plain(&m).contains("15/03/2024 alle ore 10:30:00 (+0100)"),
            "{k}"
        );
        if let Some(xml) = parte(&m, "daticert.xml") {
            let xml = String::from_utf8_lossy(xml);
            assert!(xml.contains("<data zona=\"+0100\">\n      <giorno>15/03/2024</giorno>\n      <ora>10:30:00</ora>"), "{k}");
        }
    }
}

#[test]
fn long_non_ascii_subjects_are_folded_encoded_words() {
    let lungo = format!(
        "{} fine",
        "Oggetto molto lungo con accenti \u{e0}\u{e8}\u{ec}\u{f2}\u{f9} ".repeat(4)
    );
    let mut d = dati();
    d.oggetto = Some(lungo.clone());
    let u = con_emissione(PROPRIO, |e| ricevuta_accettazione(e, &d)).unwrap();
    let v = u.header("Subject").unwrap();
    assert!(v.contains("\r\n "), "{v}");
    for parola in v.split("\r\n ") {
        assert!(
            parola.len() <= 75 && parola.starts_with("=?UTF-8?B?"),
            "{parola}"
        );
    }
    let w = wire(&u);
    assert_eq!(
        parse(&w).subject(),
        Some(format!("ACCETTAZIONE: {lungo}").as_str())
    );
}

#[test]
fn the_canned_original_and_the_ordinary_sample_parse() {
    let o = sample::originale();
    assert_eq!(o.oggetto.as_deref(), Some(OGGETTO));
    assert_eq!(o.to, [DESTINATARIO_TO]);
    assert_eq!(o.cc, [DESTINATARIO_CC]);
    assert_eq!(o.msgid.as_deref(), Some(MSGID));
    let u = sample::sample(MessageKind::Ordinaria, &provider(), adesso());
    assert_eq!(u.header("X-Trasporto"), None);
    assert_eq!(u.header("Content-Type"), None);
    let w = wire(&u);
    let m = parse(&w);
    assert_eq!(m.subject(), Some(OGGETTO));
    assert_eq!(
        m.attachment(0).and_then(|p| p.attachment_name()),
        Some("fattura-12.pdf")
    );
}
