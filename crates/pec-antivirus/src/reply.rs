//! clamd's replies, as the `z` (NUL-terminated) commands send them:
//!
//! ```text
//! PING     → "PONG"
//! INSTREAM → "stream: OK"
//!          | "stream: <signature name> FOUND"
//!          | "INSTREAM size limit exceeded. ERROR"
//!          | "<anything> ERROR"
//! ```
//!
//! The caller strips the terminating NUL. Anything else is a [`ScanError::BadReply`]: an
//! unknown reply is never read as clean.

use crate::{ClamdAddr, ScanError, Verdetto};

/// Longest reply accepted from clamd, in bytes. Real replies are one short line (a signature
/// name is at most a few hundred bytes); a longer one means we are not talking to clamd.
pub const MAX_REPLY: usize = 4096;

/// Reads the reply to `zINSTREAM`.
pub(crate) fn parse_scan(reply: &[u8], addr: &ClamdAddr) -> Result<Verdetto, ScanError> {
    let text = String::from_utf8_lossy(reply);
    let text = text.trim_end_matches(['\0', '\r', '\n', ' ']);
    if let Some(error) = text.strip_suffix(" ERROR") {
        return Err(if error.contains("size limit exceeded") {
            ScanError::SizeLimit { addr: addr.clone() }
        } else {
            ScanError::Clamd {
                addr: addr.clone(),
                reply: text.to_owned(),
            }
        });
    }
    let bad = || ScanError::BadReply {
        addr: addr.clone(),
        reply: text.to_owned(),
    };
    let result = text.strip_prefix("stream: ").ok_or_else(bad)?;
    if result == "OK" {
        return Ok(Verdetto::Pulito);
    }
    match result.strip_suffix(" FOUND") {
        Some(nome) if !nome.is_empty() && !nome.contains(['\n', '\r', '\0']) => {
            Ok(Verdetto::Infetto {
                nome: nome.to_owned(),
            })
        }
        _ => Err(bad()),
    }
}

/// Reads the reply to `zPING`.
pub(crate) fn parse_ping(reply: &[u8], addr: &ClamdAddr) -> Result<(), ScanError> {
    let text = String::from_utf8_lossy(reply);
    let text = text.trim_end_matches(['\0', '\r', '\n', ' ']);
    if text == "PONG" {
        Ok(())
    } else {
        Err(ScanError::BadReply {
            addr: addr.clone(),
            reply: text.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> ClamdAddr {
        ClamdAddr::Tcp("127.0.0.1:3310".into())
    }

    #[test]
    fn ok_is_pulito() {
        assert_eq!(
            parse_scan(b"stream: OK", &addr()).ok(),
            Some(Verdetto::Pulito)
        );
    }

    #[test]
    fn found_is_infetto_with_the_signature_name() {
        let verdetto = parse_scan(b"stream: Gestore.Test.Virus.UNOFFICIAL FOUND", &addr());
        assert_eq!(
            verdetto.ok(),
            Some(Verdetto::Infetto {
                nome: "Gestore.Test.Virus.UNOFFICIAL".into()
            })
        );
    }

    #[test]
    fn size_limit_is_its_own_error() {
        let e = parse_scan(b"INSTREAM size limit exceeded. ERROR", &addr());
        assert!(matches!(e, Err(ScanError::SizeLimit { .. })), "{e:?}");
    }

    #[test]
    fn other_error_is_a_clamd_error() {
        let e = parse_scan(b"stream: Can't allocate memory ERROR", &addr());
        assert!(matches!(e, Err(ScanError::Clamd { .. })), "{e:?}");
    }

    #[test]
    fn unknown_replies_are_never_clean() {
        for reply in [
            &b""[..],
            b"OK",
            b"stream: ok",
            b"stream:  FOUND",
            b"stream: FOUND",
            b"PONG",
            b"stream: OK trailing",
            b"1: stream: OK",
        ] {
            let r = parse_scan(reply, &addr());
            assert!(
                matches!(r, Err(ScanError::BadReply { .. })),
                "{:?} → {r:?}",
                String::from_utf8_lossy(reply)
            );
        }
    }

    #[test]
    fn ping_wants_pong() {
        assert!(parse_ping(b"PONG", &addr()).is_ok());
        assert!(parse_ping(b"PONG\n", &addr()).is_ok());
        assert!(parse_ping(b"stream: OK", &addr()).is_err());
    }
}
