//! Webmail sessions: a random token in a cookie that scripts cannot read (`HttpOnly`), that
//! no other site's page sends (`SameSite=Strict`) and that travels only over HTTPS when the
//! page came over HTTPS (`Secure`); a CSRF token per session that every form carries; expiry
//! after [`INATTIVITA`] without requests. A new session is made at each login, so a token
//! planted before it (session fixation) never becomes a logged-in one.
//!
//! Time is passed in, so expiry is tested without waiting.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A session unused this long is gone: the next request goes to the login page.
pub const INATTIVITA: Duration = Duration::from_secs(30 * 60);

/// The session cookie's name.
pub const COOKIE: &str = "gestore_sessione";

/// The login form's cookie (double submit: the form's hidden field must match it).
pub const COOKIE_ACCESSO: &str = "gestore_accesso";

/// A logged-in box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sessione {
    /// The box, lower case.
    pub casella: String,
    /// The token every form of this session carries.
    pub csrf: String,
    /// The login is complete: the password, and the code when the box has a second factor.
    /// Until then the session reaches only the code page.
    pub verificata: bool,
    /// A TOTP secret being enrolled, until the user proves their app holds it.
    pub nuovo_totp: Option<String>,
}

struct Voce {
    sessione: Sessione,
    ultimo: Instant,
}

/// Live sessions, in memory (a restart logs everyone out, which is safe).
#[derive(Default)]
pub struct Sessioni {
    voci: Mutex<HashMap<String, Voce>>,
}

impl Sessioni {
    /// A new session for `casella` (`verificata`: the login is complete): its cookie token
    /// and the session.
    pub fn apri(&self, casella: &str, verificata: bool, ora: Instant) -> (String, Sessione) {
        let token = casuale();
        let sessione = Sessione {
            casella: casella.to_ascii_lowercase(),
            csrf: casuale(),
            verificata,
            nuovo_totp: None,
        };
        let mut voci = self.voci.lock().unwrap_or_else(|e| e.into_inner());
        voci.retain(|_, v| ora.saturating_duration_since(v.ultimo) < INATTIVITA);
        voci.insert(
            token.clone(),
            Voce {
                sessione: sessione.clone(),
                ultimo: ora,
            },
        );
        (token, sessione)
    }

    /// The session of `token` if it is live, marked as used at `ora`.
    pub fn trova(&self, token: &str, ora: Instant) -> Option<Sessione> {
        let mut voci = self.voci.lock().unwrap_or_else(|e| e.into_inner());
        let voce = voci.get_mut(token)?;
        if ora.saturating_duration_since(voce.ultimo) >= INATTIVITA {
            voci.remove(token);
            return None;
        }
        voce.ultimo = ora;
        Some(voce.sessione.clone())
    }

    /// Sets or clears the TOTP secret being enrolled in the session of `token`.
    pub fn nuovo_totp(&self, token: &str, segreto: Option<String>) {
        let mut voci = self.voci.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = voci.get_mut(token) {
            v.sessione.nuovo_totp = segreto;
        }
    }

    /// Ends the session of `token`.
    pub fn chiudi(&self, token: &str) {
        let mut voci = self.voci.lock().unwrap_or_else(|e| e.into_inner());
        voci.remove(token);
    }
}

/// 32 random bytes, hex.
pub fn casuale() -> String {
    let mut b = [0u8; 32];
    // Without the OS's randomness there is no safe session: fail loudly rather than weakly.
    getrandom::fill(&mut b).expect("the operating system's random number generator");
    hex::encode(b)
}

/// Whether two tokens are equal, in time that does not depend on where they differ.
pub fn uguali(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, path `/`, `Secure` over HTTPS;
/// `max_age` 0 deletes it.
pub fn cookie(nome: &str, valore: &str, https: bool, max_age: Option<u64>) -> String {
    let mut c = format!("{nome}={valore}; Path=/; HttpOnly; SameSite=Strict");
    if https {
        c.push_str("; Secure");
    }
    if let Some(s) = max_age {
        c.push_str(&format!("; Max-Age={s}"));
    }
    c
}

/// The value of cookie `nome` in a `Cookie` header.
pub fn leggi_cookie<'a>(header: &'a str, nome: &str) -> Option<&'a str> {
    header.split(';').find_map(|c| {
        let (n, v) = c.trim().split_once('=')?;
        (n == nome).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_lives_while_used_and_dies_after_the_idle_time() {
        let s = Sessioni::default();
        let t0 = Instant::now();
        let (token, sessione) = s.apri("Mario@PEC.example", true, t0);
        assert_eq!(sessione.casella, "mario@pec.example");
        assert_eq!(token.len(), 64);
        assert_ne!(token, sessione.csrf);
        let t1 = t0 + INATTIVITA - Duration::from_secs(1);
        assert_eq!(s.trova(&token, t1), Some(sessione.clone()));
        // Used at t1: alive until t1 + INATTIVITA.
        assert!(s
            .trova(&token, t1 + INATTIVITA - Duration::from_secs(1))
            .is_some());
        assert!(s.trova(&token, t1 + 3 * INATTIVITA).is_none());
        assert!(s.trova(&token, t1).is_none(), "expired sessions stay gone");
    }

    #[test]
    fn logout_ends_it_and_unknown_tokens_find_nothing() {
        let s = Sessioni::default();
        let t0 = Instant::now();
        let (token, _) = s.apri("a@x", false, t0);
        assert!(!s.trova(&token, t0).unwrap().verificata);
        s.nuovo_totp(&token, Some("SEGRETO".into()));
        assert_eq!(
            s.trova(&token, t0).unwrap().nuovo_totp.as_deref(),
            Some("SEGRETO")
        );
        assert!(s.trova("forged", t0).is_none());
        s.chiudi(&token);
        assert!(s.trova(&token, t0).is_none());
    }

    #[test]
    fn tokens_compare_whole_and_cookies_are_strict() {
        assert!(uguali("abc", "abc"));
        assert!(!uguali("abc", "abd"));
        assert!(!uguali("abc", "abcd"));
        assert!(!uguali("", "a"));
        let c = cookie(COOKIE, "t", true, None);
        assert_eq!(
            c,
            "gestore_sessione=t; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(!cookie(COOKIE, "t", false, Some(0)).contains("Secure"));
        assert_eq!(
            leggi_cookie("a=1; gestore_sessione=xyz; b=2", COOKIE),
            Some("xyz")
        );
        assert_eq!(leggi_cookie("gestore_sessione_x=1", COOKIE), None);
    }
}
