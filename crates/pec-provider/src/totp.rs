//! The webmail's optional second factor: time-based one-time passwords (RFC 6238, the
//! authenticator apps' TOTP): HMAC-SHA1 over the 30-second step, six digits, the step before
//! and after accepted for clock drift, a step never accepted twice for one box.
//!
//! Mail clients (SMTP, IMAP, POP3) cannot type a code: the second factor guards the webmail's
//! login only. Time comes in as an argument, so the rule is tested on RFC 6238's vectors.

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Seconds per step.
pub const PASSO: u64 = 30;
/// Digits of a code.
pub const CIFRE: u32 = 6;

/// A new secret: 20 random bytes (160 bits, RFC 4226's recommendation), base32 as the apps
/// take it.
pub fn nuovo_segreto() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 20];
    getrandom::fill(&mut b)?;
    Ok(data_encoding::BASE32_NOPAD.encode(&b))
}

/// The `otpauth://` URI an authenticator app enrols from (shown as text and as a QR code).
pub fn uri(emittente: &str, casella: &str, segreto: &str) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={segreto}&issuer={}&algorithm=SHA1&digits={CIFRE}&period={PASSO}",
        enc(emittente),
        enc(casella),
        enc(emittente)
    )
}

/// The code of `segreto` (raw bytes) at step `passo`.
pub fn codice(segreto: &[u8], passo: u64) -> u32 {
    // HMAC accepts keys of any length: `new_from_slice` cannot fail.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(segreto) else {
        return u32::MAX;
    };
    mac.update(&passo.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let o = (h[19] & 0x0f) as usize;
    let n = u32::from_be_bytes([h[o] & 0x7f, h[o + 1], h[o + 2], h[o + 3]]);
    n % 10u32.pow(CIFRE)
}

/// The step a typed `codice` belongs to, at Unix time `ora`, if it is right: the current
/// step or the one before or after. `usato` is the last step accepted for the box (a step
/// at or before it is refused: a code is good once).
pub fn verifica(
    segreto_b32: &str,
    codice_digitato: &str,
    ora: u64,
    usato: Option<u64>,
) -> Option<u64> {
    let segreto = data_encoding::BASE32_NOPAD
        .decode(segreto_b32.trim_end_matches('=').as_bytes())
        .ok()?;
    let c = codice_digitato.trim();
    if c.len() != CIFRE as usize || !c.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let c: u32 = c.parse().ok()?;
    let adesso = ora / PASSO;
    [adesso.saturating_sub(1), adesso, adesso + 1]
        .into_iter()
        .filter(|p| usato.is_none_or(|u| *p > u))
        .find(|p| codice(&segreto, *p) == c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1, secret "12345678901234567890", 8 digits truncated to our 6.
    #[test]
    fn the_rfc_6238_vectors_give_their_codes() {
        let k = b"12345678901234567890";
        for (t, otp8) in [
            (59u64, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
        ] {
            assert_eq!(codice(k, t / PASSO), otp8 % 1_000_000, "t = {t}");
        }
    }

    #[test]
    fn a_code_is_good_within_one_step_and_only_once() {
        let s = data_encoding::BASE32_NOPAD.encode(b"12345678901234567890");
        let t = 1_111_111_111;
        let now = format!("{:06}", codice(b"12345678901234567890", t / PASSO));
        let step = verifica(&s, &now, t, None).expect("the current code");
        assert_eq!(step, t / PASSO);
        assert_eq!(
            verifica(&s, &now, t + PASSO, None),
            Some(step),
            "one step late"
        );
        assert_eq!(verifica(&s, &now, t + 3 * PASSO, None), None, "too late");
        assert_eq!(verifica(&s, &now, t, Some(step)), None, "replayed");
        for bad in ["", "12345", "1234567", "abcdef", " 12 34"] {
            assert_eq!(verifica(&s, bad, t, None), None, "{bad:?}");
        }
        assert_eq!(verifica("not base32!", &now, t, None), None);
    }

    #[test]
    fn a_new_secret_is_160_bits_and_the_uri_names_box_and_provider() {
        let s = nuovo_segreto().unwrap();
        assert_eq!(
            data_encoding::BASE32_NOPAD
                .decode(s.as_bytes())
                .unwrap()
                .len(),
            20
        );
        assert_ne!(s, nuovo_segreto().unwrap());
        let u = uri("Gestore A S.p.A.", "mario@pec.a.it", &s);
        assert!(u.starts_with("otpauth://totp/Gestore%20A%20S.p.A.:mario@pec.a.it?secret="));
        assert!(u.ends_with("&issuer=Gestore%20A%20S.p.A.&algorithm=SHA1&digits=6&period=30"));
    }
}
