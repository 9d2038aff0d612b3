//! IMAP flags as the store keeps them: one space-separated text column per message.
//!
//! Invariants of a stored flag list:
//! - every flag is an IMAP `flag` without its parentheses: an optional `\` and an atom
//!   (RFC 3501 §9: `flag-keyword = atom`, `flag-extension = "\" atom`), so it never holds the
//!   blank that separates flags in the column;
//! - the system flags are spelled `\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`,
//!   whatever case the client used, which lets SQL find `\Seen` by plain comparison (the
//!   unseen count);
//! - no flag appears twice, comparing case-insensitively (RFC 3501 §9: "all alphabetic
//!   characters are case-insensitive"); a keyword keeps the spelling it was first stored with;
//! - `\Recent` is never stored: it belongs to the session that first sees the message.

use crate::batch::FlagOp;
use crate::error::StoreError;

/// The system flags a client may store, as spelled in storage.
const SYSTEM: [&str; 5] = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"];

/// RFC 3501 §9 `atom-specials`, besides blanks and controls.
const ATOM_SPECIALS: &[char] = &['(', ')', '{', '%', '*', '"', '\\', ']'];

/// The stored spelling of `flag`, `None` for `\Recent`; refuses what is not an IMAP flag.
fn canonical(flag: &str) -> Result<Option<String>, StoreError> {
    if let Some(system) = SYSTEM.iter().find(|s| s.eq_ignore_ascii_case(flag)) {
        return Ok(Some((*system).to_owned()));
    }
    if flag.eq_ignore_ascii_case("\\Recent") {
        return Ok(None);
    }
    let atom = flag.strip_prefix('\\').unwrap_or(flag);
    let bad = |c: char| c.is_whitespace() || c.is_control() || ATOM_SPECIALS.contains(&c);
    if atom.is_empty() || atom.chars().any(bad) {
        return Err(StoreError::InvalidFlag(flag.to_owned()));
    }
    Ok(Some(flag.to_owned()))
}

fn contains(list: &[String], flag: &str) -> bool {
    list.iter().any(|f| f.eq_ignore_ascii_case(flag))
}

/// `flags` checked and in stored form, duplicates dropped (first spelling kept).
pub(crate) fn normalize(flags: &[String]) -> Result<Vec<String>, StoreError> {
    let mut out: Vec<String> = Vec::with_capacity(flags.len());
    for flag in flags {
        if let Some(f) = canonical(flag)? {
            if !contains(&out, &f) {
                out.push(f);
            }
        }
    }
    Ok(out)
}

/// The flags of a message that had `current` (stored form) after `op` with `given`
/// (already normalised).
pub(crate) fn apply(current: &[String], op: FlagOp, given: &[String]) -> Vec<String> {
    match op {
        FlagOp::Replace => given.to_vec(),
        FlagOp::Add => {
            let mut out = current.to_vec();
            for f in given {
                if !contains(&out, f) {
                    out.push(f.clone());
                }
            }
            out
        }
        FlagOp::Remove => current
            .iter()
            .filter(|f| !contains(given, f))
            .cloned()
            .collect(),
    }
}

/// The column text of a stored list.
pub(crate) fn to_column(flags: &[String]) -> String {
    flags.join(" ")
}

/// A stored list from its column text.
pub(crate) fn from_column(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(flags: &[&str]) -> Vec<String> {
        flags.iter().map(|f| (*f).to_owned()).collect()
    }

    #[test]
    fn system_flags_take_their_spelling_and_duplicates_go() {
        let n = normalize(&v(&[
            "\\SEEN", "$Label1", "\\seen", "$label1", "\\recent", "\\Draft",
        ]));
        assert_eq!(n.unwrap(), v(&["\\Seen", "$Label1", "\\Draft"]));
    }

    #[test]
    fn what_is_not_a_flag_is_refused() {
        for bad in [
            "",
            "\\",
            "two words",
            "a\tb",
            "(x",
            "x]",
            "a\\b",
            "q\"",
            "\u{7}",
        ] {
            let e = normalize(&v(&[bad])).unwrap_err();
            assert!(matches!(e, StoreError::InvalidFlag(_)), "{bad:?}: {e}");
        }
        assert_eq!(
            normalize(&v(&["\\Extension"])).unwrap(),
            v(&["\\Extension"])
        );
    }

    #[test]
    fn add_remove_replace() {
        let cur = v(&["\\Seen", "$Work"]);
        assert_eq!(
            apply(&cur, FlagOp::Add, &v(&["$work", "\\Flagged"])),
            v(&["\\Seen", "$Work", "\\Flagged"])
        );
        assert_eq!(apply(&cur, FlagOp::Remove, &v(&["$WORK"])), v(&["\\Seen"]));
        assert_eq!(apply(&cur, FlagOp::Replace, &[]), Vec::<String>::new());
        assert_eq!(from_column(&to_column(&cur)), cur);
    }
}
