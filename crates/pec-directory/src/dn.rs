//! Reading the few DN shapes of the index (PEC-SPEC §7.1), RFC 4514 escapes included.
//!
//! `o=postacert` (root), `providerName=<name>,o=postacert` (main environment) and
//! `providerUnit=<env>,providerName=<name>,o=postacert` (secondary environment). The RFC text
//! once writes `providerUnits=`; that spelling is accepted too.

/// What a DN designates in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IndexDn {
    /// `o=postacert`.
    Root,
    /// A provider record.
    Provider {
        /// The `providerName` RDN value, unescaped.
        name: String,
        /// The `providerUnit` RDN value, for a secondary environment.
        unit: Option<String>,
    },
    /// Anything else (outside the base, deeper, multi-valued RDNs, malformed).
    Other,
}

/// Classifies a DN; types compare case-insensitively, values are unescaped.
pub(crate) fn classify(dn: &str) -> IndexDn {
    let Some(rdns) = split_rdns(dn) else {
        return IndexDn::Other;
    };
    let is = |rdn: &(String, String), t: &str| rdn.0.eq_ignore_ascii_case(t);
    let Some((base, rest)) = rdns.split_last() else {
        return IndexDn::Other;
    };
    if !is(base, "o") || !base.1.eq_ignore_ascii_case("postacert") {
        return IndexDn::Other;
    }
    match rest {
        [] => IndexDn::Root,
        [name] if is(name, "providerName") => IndexDn::Provider {
            name: name.1.clone(),
            unit: None,
        },
        [unit, name]
            if is(name, "providerName")
                && (is(unit, "providerUnit") || is(unit, "providerUnits")) =>
        {
            IndexDn::Provider {
                name: name.1.clone(),
                unit: Some(unit.1.clone()),
            }
        }
        _ => IndexDn::Other,
    }
}

/// Splits a DN into `(type, value)` RDNs, leftmost first. `None` when malformed or when an RDN
/// is multi-valued (`+`), which the index never uses.
fn split_rdns(dn: &str) -> Option<Vec<(String, String)>> {
    let mut rdns = Vec::new();
    let mut bytes = dn.as_bytes();
    if dn.trim().is_empty() {
        return None;
    }
    loop {
        let eq = bytes.iter().position(|&b| b == b'=')?;
        let attr_type = std::str::from_utf8(&bytes[..eq]).ok()?.trim();
        if attr_type.is_empty() {
            return None;
        }
        let (value, rest) = rdn_value(&bytes[eq + 1..])?;
        rdns.push((attr_type.to_string(), value));
        match rest {
            None => return Some(rdns),
            Some(rest) => bytes = rest,
        }
    }
}

/// Reads an escaped RDN value up to an unescaped `,` (returning what follows it) or the end.
fn rdn_value(bytes: &[u8]) -> Option<(String, Option<&[u8]>)> {
    let mut out = Vec::new();
    // Length of `out` up to its last escaped byte: trailing spaces before it are kept.
    let mut keep = 0;
    let mut i = 0;
    let rest = loop {
        let Some(&b) = bytes.get(i) else { break None };
        match b {
            b',' => break Some(&bytes[i + 1..]),
            b'+' => return None,
            b'\\' => {
                let next = *bytes.get(i + 1)?;
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) if next.is_ascii_hexdigit() => {
                        out.push(byte);
                        i += 3;
                    }
                    _ => {
                        out.push(next);
                        i += 2;
                    }
                }
                keep = out.len();
            }
            // Unescaped spaces: dropped at the start, kept inside, dropped at the end
            // (`keep` does not move past them).
            b' ' => {
                if !out.is_empty() {
                    out.push(b' ');
                }
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
                keep = out.len();
            }
        }
    };
    out.truncate(keep);
    let value = String::from_utf8(out).ok()?;
    Some((value, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(name: &str, unit: Option<&str>) -> IndexDn {
        IndexDn::Provider {
            name: name.into(),
            unit: unit.map(Into::into),
        }
    }

    #[test]
    fn the_three_shapes_of_the_index() {
        assert_eq!(classify("o=postacert"), IndexDn::Root);
        assert_eq!(
            classify("providerName=Aruba PEC,o=postacert"),
            provider("Aruba PEC", None)
        );
        assert_eq!(
            classify("providerUnit=dr,providerName=Aruba PEC,o=postacert"),
            provider("Aruba PEC", Some("dr"))
        );
    }

    #[test]
    fn types_ignore_case_and_spaces_around_rdns_are_dropped() {
        assert_eq!(
            classify("PROVIDERNAME = Acme , O=PostaCert"),
            provider("Acme", None)
        );
        assert_eq!(
            classify("providerUnits=b,providerName=A,o=postacert"),
            provider("A", Some("b"))
        );
    }

    #[test]
    fn escapes_are_undone() {
        assert_eq!(
            classify("providerName=Foo\\, S.p.A.,o=postacert"),
            provider("Foo, S.p.A.", None)
        );
        assert_eq!(
            classify("providerName=Caff\\C3\\A8,o=postacert"),
            provider("Caffè", None)
        );
        assert_eq!(
            classify("providerName=\\ x\\ ,o=postacert"),
            provider(" x ", None)
        );
    }

    #[test]
    fn other_dns_are_not_providers() {
        for dn in [
            "",
            "o=other",
            "cn=x,o=postacert",
            "providerName=A,o=postacert,c=it",
            "a=b,providerName=A,providerName=B,o=postacert",
            "providerName=A+cn=b,o=postacert",
            "providerName=A\\",
            "providerName=\\C3,o=postacert",
            "=x,o=postacert",
            "noequals",
        ] {
            assert_eq!(classify(dn), IndexDn::Other, "{dn:?}");
        }
    }
}
