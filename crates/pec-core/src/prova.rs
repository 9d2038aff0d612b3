//! Fixtures shared by the unit tests: one provider, one instant, and messages as they travel.

use crate::daticert::Daticert;
use crate::inspect::{inspect, Inspection};
use crate::message::{Provider, UnsignedMessage};
use crate::tempo::RiferimentoTemporale;
use chrono::{TimeZone, Utc};

/// The test provider's service address.
pub(crate) const SERVIZIO: &str = "posta-certificata@pec.gestore.example";

/// The provider that emits what the tests build.
pub(crate) fn provider() -> Provider {
    Provider {
        nome: "Gestore di Prova S.p.A.".into(),
        indirizzo_servizio: SERVIZIO.into(),
    }
}

/// 15/03/2024 10:30:00 (+0100).
pub(crate) fn adesso() -> RiferimentoTemporale {
    RiferimentoTemporale::from_utc(Utc.with_ymd_and_hms(2024, 3, 15, 9, 30, 0).unwrap())
}

/// The message as it travels: outer headers over a `multipart/signed` whose first part is the
/// content. The signature is a stand-in: the core does not verify (pec-smime does).
pub(crate) fn firma_finta(u: &UnsignedMessage) -> Vec<u8> {
    let mut w = Vec::new();
    for (n, v) in &u.headers {
        w.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    w.extend_from_slice(
        b"MIME-Version: 1.0\r\nContent-Type: multipart/signed; \
protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"firma-0\"\r\n\r\n\
--firma-0\r\n",
    );
    w.extend_from_slice(&u.content);
    w.extend_from_slice(
        b"\r\n--firma-0\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n\
Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=smime.p7s\r\n\
\r\nAAAA\r\n--firma-0--\r\n",
    );
    w
}

/// The entity [`firma_finta`] signed in `raw` (what pec-smime returns as the signed content);
/// for any other message the whole of it, as if it were an opaque signature's content.
pub(crate) fn firmato(raw: &[u8]) -> Vec<u8> {
    let apri = b"--firma-0\r\n";
    let chiudi = b"\r\n--firma-0";
    let Some(i) = raw.windows(apri.len()).position(|w| w == apri) else {
        return raw.to_vec();
    };
    let resto = &raw[i + apri.len()..];
    match resto.windows(chiudi.len()).position(|w| w == chiudi) {
        Some(j) => resto[..j].to_vec(),
        None => raw.to_vec(),
    }
}

/// The message unsigned: its headers over its content.
pub(crate) fn wire(u: &UnsignedMessage) -> Vec<u8> {
    let mut w = Vec::new();
    for (n, v) in &u.headers {
        w.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    w.extend_from_slice(b"MIME-Version: 1.0\r\n");
    w.extend_from_slice(&u.content);
    w
}

/// What `inspect` reads of `u`, and its daticert (which must be there).
pub(crate) fn leggi(u: &UnsignedMessage) -> (Inspection, Daticert) {
    let ins = inspect(&wire(u)).unwrap();
    let d = ins.daticert.clone().unwrap().unwrap();
    (ins, d)
}
