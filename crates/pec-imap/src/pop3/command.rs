//! Parsing one POP3 command line (RFC 1939 §3, RFC 2449 §3): a keyword, case-insensitive,
//! then arguments separated by spaces. No I/O; the session hands it a line without its CRLF.

use std::fmt;

/// A password or SASL response: kept out of `Debug` output so it cannot reach a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// One command the server understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `CAPA` (RFC 2449 §5).
    Capa,
    /// `STLS` (RFC 2595 §4).
    Stls,
    /// `USER name` (RFC 1939 §7).
    User(String),
    /// `PASS string`: the rest of the line, spaces included (RFC 1939 §7).
    Pass(Secret),
    /// `AUTH [mechanism [initial-response]]` (RFC 5034 §4); no mechanism lists them.
    Auth {
        /// The SASL mechanism, upper-cased.
        mechanism: Option<String>,
        /// The base64 initial response (`=` for an empty one).
        initial: Option<Secret>,
    },
    /// `STAT` (RFC 1939 §5).
    Stat,
    /// `LIST [msg]`.
    List(Option<u32>),
    /// `UIDL [msg]` (RFC 1939 §7).
    Uidl(Option<u32>),
    /// `RETR msg`.
    Retr(u32),
    /// `TOP msg n` (RFC 1939 §7).
    Top(u32, u32),
    /// `DELE msg`.
    Dele(u32),
    /// `RSET`.
    Rset,
    /// `NOOP`.
    Noop,
    /// `QUIT`.
    Quit,
}

/// Why a line is not a command we accept. The text is safe to send back (it never quotes the
/// line, which may hold a password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The keyword is not one we know.
    Unknown,
    /// The keyword is known but the arguments are missing, extra or malformed.
    BadArguments(&'static str),
}

impl Command {
    /// Parses a line without its trailing CRLF.
    pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
        let (keyword, rest) = match line.iter().position(|&b| b == b' ') {
            Some(i) => (&line[..i], Some(&line[i + 1..])),
            None => (line, None),
        };
        let keyword = std::str::from_utf8(keyword)
            .map_err(|_| ParseError::Unknown)?
            .to_ascii_uppercase();
        // PASS keeps its argument as is (a password may hold spaces, RFC 1939 §7 note).
        if keyword == "PASS" {
            let pass = text(rest).ok_or(ParseError::BadArguments("PASS needs a password"))?;
            return Ok(Command::Pass(Secret(pass)));
        }
        let args: Vec<&[u8]> = rest
            .map(|r| r.split(|&b| b == b' ').filter(|a| !a.is_empty()).collect())
            .unwrap_or_default();
        let command = match keyword.as_str() {
            "CAPA" => none(&args, Command::Capa)?,
            "STLS" => none(&args, Command::Stls)?,
            "STAT" => none(&args, Command::Stat)?,
            "RSET" => none(&args, Command::Rset)?,
            "NOOP" => none(&args, Command::Noop)?,
            "QUIT" => none(&args, Command::Quit)?,
            "USER" => match args.as_slice() {
                [name] => Command::User(
                    text(Some(name)).ok_or(ParseError::BadArguments("USER needs a name"))?,
                ),
                _ => return Err(ParseError::BadArguments("USER takes one name")),
            },
            "AUTH" => match args.as_slice() {
                [] => Command::Auth {
                    mechanism: None,
                    initial: None,
                },
                [mech] | [mech, _] => Command::Auth {
                    mechanism: Some(
                        text(Some(mech))
                            .ok_or(ParseError::BadArguments("bad mechanism"))?
                            .to_ascii_uppercase(),
                    ),
                    initial: match args.get(1) {
                        Some(ir) => Some(Secret(
                            text(Some(ir)).ok_or(ParseError::BadArguments("bad response"))?,
                        )),
                        None => None,
                    },
                },
                _ => return Err(ParseError::BadArguments("AUTH mechanism [response]")),
            },
            "LIST" => Command::List(optional_number(&args)?),
            "UIDL" => Command::Uidl(optional_number(&args)?),
            "RETR" => Command::Retr(one_number(&args)?),
            "DELE" => Command::Dele(one_number(&args)?),
            "TOP" => match args.as_slice() {
                [msg, lines] => Command::Top(number(msg)?, number(lines)?),
                _ => return Err(ParseError::BadArguments("TOP needs a message and a count")),
            },
            _ => return Err(ParseError::Unknown),
        };
        Ok(command)
    }
}

fn none(args: &[&[u8]], command: Command) -> Result<Command, ParseError> {
    if args.is_empty() {
        Ok(command)
    } else {
        Err(ParseError::BadArguments("no arguments expected"))
    }
}

fn text(arg: Option<&[u8]>) -> Option<String> {
    let s = std::str::from_utf8(arg?).ok()?;
    (!s.is_empty()).then(|| s.to_string())
}

fn optional_number(args: &[&[u8]]) -> Result<Option<u32>, ParseError> {
    match args {
        [] => Ok(None),
        [n] => number(n).map(Some),
        _ => Err(ParseError::BadArguments("one message number at most")),
    }
}

fn one_number(args: &[&[u8]]) -> Result<u32, ParseError> {
    match args {
        [n] => number(n),
        _ => Err(ParseError::BadArguments("one message number expected")),
    }
}

/// Digits only (no sign, no spaces), fitting in `u32`.
fn number(arg: &[u8]) -> Result<u32, ParseError> {
    if arg.is_empty() || arg.len() > 10 || !arg.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::BadArguments("not a number"));
    }
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(ParseError::BadArguments("number too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(Command::parse(b"stat"), Ok(Command::Stat));
        assert_eq!(Command::parse(b"Retr 3"), Ok(Command::Retr(3)));
        assert_eq!(Command::parse(b"top 1 0"), Ok(Command::Top(1, 0)));
    }

    #[test]
    fn pass_keeps_spaces() {
        assert_eq!(
            Command::parse(b"PASS a b  c"),
            Ok(Command::Pass(Secret("a b  c".into())))
        );
    }

    #[test]
    fn bad_numbers_are_refused() {
        for line in [
            &b"RETR"[..],
            b"RETR x",
            b"RETR -1",
            b"RETR +1",
            b"RETR 99999999999",
            b"LIST 1 2",
            b"TOP 1",
        ] {
            assert!(
                matches!(Command::parse(line), Err(ParseError::BadArguments(_))),
                "{line:?}"
            );
        }
        assert_eq!(Command::parse(b"XYZZY"), Err(ParseError::Unknown));
        assert_eq!(Command::parse(b"\xff\xfe"), Err(ParseError::Unknown));
    }

    #[test]
    fn secrets_do_not_print() {
        let c = Command::parse(b"PASS hunter2").expect("parses");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
