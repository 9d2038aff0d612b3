//! One realistic example of every PEC kind, built through the real builders (used by
//! `gestore sample` and the benchmarks).
//!
//! The canned original has what exercises the rules: a non-ASCII subject (RFC 2047 on the way
//! in and out, `?` in the Latin-1 text), a client Message-ID (→ `X-Riferimento-Message-ID`),
//! a PDF attachment (→ hashed in the breve receipt) and two recipients, one `To` on a PEC
//! domain (certificato) and one `Cc` on ordinary mail (esterno).

use super::grezzo::Blocco;
use super::*;
use crate::daticert::TipoDestinatario;
use crate::kind::MessageKind;

/// The canned original's raw bytes, as a user would submit them.
pub const ORIGINALE: &[u8] = b"Return-Path: <mario.rossi@pec.example.it>\r\n\
From: Mario Rossi <mario.rossi@pec.example.it>\r\n\
To: Ufficio Acquisti <ufficio.acquisti@pec.cliente.example>\r\n\
Cc: amministrazione@cliente.example.com\r\n\
Subject: =?UTF-8?B?RmF0dHVyYSBuwrAgMTIg4oCUIGNpdHTDoA==?=\r\n\
Date: Fri, 15 Mar 2024 10:30:00 +0100\r\n\
Message-ID: <fattura-12.20240315@studio.example.it>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"----=_Part_12_citta\"\r\n\
\r\n\
This is a multi-part message in MIME format.\r\n\
\r\n\
------=_Part_12_citta\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Buongiorno,\r\n\
in allegato la fattura n=C2=B0 12 relativa alla fornitura per la sede di citt=\r\n\
=C3=A0.\r\n\
\r\n\
Cordiali saluti,\r\n\
Mario Rossi\r\n\
------=_Part_12_citta\r\n\
Content-Type: application/pdf; name=\"fattura-12.pdf\"\r\n\
Content-Disposition: attachment; filename=\"fattura-12.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQKMSAwIG9iago8PCAvVHlwZSAvQ2F0YWxvZyAvUGFnZXMgMiAwIFIgPj4KZW5kb2JqCjIg\r\n\
MCBvYmoKPDwgL1R5cGUgL1BhZ2VzIC9LaWRzIFtdIC9Db3VudCAwID4+CmVuZG9iagp0cmFpbGVyCjw8\r\n\
IC9Sb290IDEgMCBSID4+CiUlRU9GCg==\r\n\
------=_Part_12_citta--\r\n";

/// The primary recipient, on a PEC domain.
pub const DESTINATARIO_TO: &str = "ufficio.acquisti@pec.cliente.example";
/// The copy recipient, on ordinary mail.
pub const DESTINATARIO_CC: &str = "amministrazione@cliente.example.com";
/// The `mailReceipt` of the sender's provider, target of presa in carico and rilevazione virus.
pub const MAIL_RECEIPT: &str = "ricevute@pec.example.it";
/// The virus name the virus notices report.
pub const VIRUS: &str = "Eicar-Test-Signature";

/// The canned original, parsed.
pub fn originale() -> Originale {
    // ORIGINALE is a constant with one valid From: parsing cannot fail (tested).
    Originale::parse(ORIGINALE).expect("the canned original is valid")
}

/// The canned original's data as the envelope certifies them, with PEC msgid `identificativo`.
pub fn dati(identificativo: &str) -> DatiMessaggio {
    let o = originale();
    let destinatari = o.destinatari(|a| {
        if a.eq_ignore_ascii_case(DESTINATARIO_CC) {
            TipoDestinatario::Esterno
        } else {
            TipoDestinatario::Certificato
        }
    });
    DatiMessaggio::da_originale(&o, identificativo, destinatari)
}

/// An example of `kind`, emitted by `provider` at `now`. Ids are derived from `now` and the
/// provider's domain, so the output is deterministic. [`MessageKind::Ordinaria`] gives the
/// canned original itself, split into outer headers and entity.
pub fn sample(
    kind: MessageKind,
    provider: &Provider,
    now: RiferimentoTemporale,
) -> UnsignedMessage {
    let ts = now.local().format("%Y%m%d%H%M%S");
    let dominio = provider.dominio();
    let identificativo = format!("opec-gestore.{ts}.1@{dominio}");
    let posizione = MessageKind::PEC
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(0);
    let proprio = format!("opec-gestore.{ts}.{}@{dominio}", posizione + 2);
    let message_id = if kind == MessageKind::BustaTrasporto {
        identificativo.as_str()
    } else {
        proprio.as_str()
    };
    let e = Emissione {
        provider,
        data: now,
        message_id,
    };
    let o = originale();
    let mut d = dati(&identificativo);
    let postacert = o.postacert(&identificativo);
    use MessageKind::*;
    let r = match kind {
        BustaTrasporto => busta_trasporto(&e, &o, &d.destinatari),
        BustaAnomalia => busta_anomalia(
            &e,
            &o,
            "il messaggio non \u{e8} una busta di trasporto firmata",
        ),
        Accettazione => ricevuta_accettazione(&e, &d),
        NonAccettazione => {
            avviso_non_accettazione(&e, &d, "il mittente non corrisponde all'utente autenticato")
        }
        NonAccettazioneVirus => avviso_non_accettazione_virus(&e, &d, VIRUS),
        PresaInCarico => {
            ricevuta_presa_in_carico(&e, &d, &[DESTINATARIO_TO.to_string()], MAIL_RECEIPT)
        }
        ConsegnaCompleta | ConsegnaBreve | ConsegnaSintetica => {
            let tipo = match kind {
                ConsegnaBreve => TipoRicevuta::Breve,
                ConsegnaSintetica => TipoRicevuta::Sintetica,
                _ => TipoRicevuta::Completa,
            };
            d.tipo_ricevuta = tipo.clone(); // as if the sender had asked for this kind
            let c = Consegna {
                destinatario: DESTINATARIO_TO,
                tipo: &tipo,
                postacert: &postacert,
            };
            ricevuta_consegna(&e, &d, &c)
        }
        MancataConsegna => avviso_mancata_consegna(
            &e,
            &d,
            DESTINATARIO_TO,
            CausaMancataConsegna::NoDest,
            "5.1.1 - indirizzo non valido",
        ),
        Preavviso12h => preavviso_mancata_consegna_12h(&e, &d, DESTINATARIO_TO),
        MancataConsegna24h => avviso_mancata_consegna_24h(&e, &d, DESTINATARIO_TO),
        RilevazioneVirus => avviso_rilevazione_virus(&e, &d, DESTINATARIO_TO, VIRUS, MAIL_RECEIPT),
        MancataConsegnaVirus => avviso_mancata_consegna_virus(&e, &d, DESTINATARIO_TO, VIRUS),
        Ordinaria => return ordinaria(),
    };
    // Every input above is canned and valid; the provider only contributes escaped text and
    // header values, so no builder error can come from it (each kind is tested).
    r.expect("the canned sample builds")
}

/// The canned original as outer headers plus entity (what ordinary mail looks like unsigned).
fn ordinaria() -> UnsignedMessage {
    let b = Blocco::leggi(ORIGINALE);
    let mut headers = Vec::new();
    let mut content = Vec::new();
    for c in &b.campi {
        if c.e("Content-Type") {
            content.extend_from_slice(&ORIGINALE[c.inizio..c.fine]);
        } else if !c.e("MIME-Version") {
            headers.push((c.nome.to_string(), c.valore_crlf()));
        }
    }
    content.extend_from_slice(&ORIGINALE[b.fine..]);
    UnsignedMessage { headers, content }
}
