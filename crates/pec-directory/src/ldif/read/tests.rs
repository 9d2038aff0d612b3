use super::*;
use crate::error::LdifErrorKind as K;

fn ok(text: &str) -> Vec<Entry> {
    match parse(text.as_bytes()) {
        Ok(entries) => entries,
        Err(e) => panic!("{e} in {text:?}"),
    }
}

fn fails(text: &str) -> LdifError {
    match parse(text.as_bytes()) {
        Ok(entries) => panic!("accepted {text:?} as {entries:?}"),
        Err(e) => e,
    }
}

fn value<'a>(entry: &'a Entry, name: &'a str) -> Vec<&'a [u8]> {
    entry.values(name).map(|a| a.value.as_slice()).collect()
}

#[test]
fn records_are_separated_by_blank_lines_and_keep_their_lines() {
    let entries =
        ok("version: 1\n\ndn: o=postacert\no: postacert\n\n\n\ndn: cn=a,o=postacert\ncn: a\n");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].dn, "o=postacert");
    assert_eq!(entries[0].line, 3);
    assert_eq!(entries[1].dn, "cn=a,o=postacert");
    assert_eq!(entries[1].line, 8);
    assert_eq!(value(&entries[1], "cn"), [b"a"]);
}

#[test]
fn version_may_be_followed_directly_by_a_record_or_omitted() {
    assert_eq!(ok("version: 1\ndn: o=x\no: x\n").len(), 1);
    assert_eq!(ok("dn: o=x\no: x").len(), 1);
    assert_eq!(ok("# header\nversion:1\n\ndn: o=x\no: x\n").len(), 1);
}

#[test]
fn version_other_than_1_or_late_is_refused() {
    assert_eq!(
        fails("version: 2\n\ndn: o=x\no: x\n").kind,
        K::UnsupportedVersion("2".into())
    );
    let e = fails("dn: o=x\no: x\n\nversion: 1\n");
    assert_eq!((e.line, e.kind), (4, K::MisplacedVersion));
}

#[test]
fn crlf_line_ends_and_a_byte_order_mark_are_accepted() {
    let entries = ok("\u{feff}version: 1\r\n\r\ndn: o=x\r\no: x\r\n\r\n");
    assert_eq!(entries.len(), 1);
    assert_eq!(value(&entries[0], "o"), [b"x"]);
}

#[test]
fn folded_lines_are_joined_dropping_one_space() {
    let entries = ok("dn: cn=ab\n c,o=x\ndescription: one\n  two\n three\n");
    assert_eq!(entries[0].dn, "cn=abc,o=x");
    assert_eq!(value(&entries[0], "description"), [b"one twothree"]);
}

#[test]
fn comments_and_their_continuations_are_dropped() {
    let entries = ok("# a comment\n continued\ndn: o=x\n# inside\no: x\n#last\n");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].attributes.len(), 1);
}

#[test]
fn base64_values_are_decoded_and_fill_is_skipped() {
    let entries = ok("dn:: bz14\nbin::   AAEC/w==\nempty:\nspaced:    v  \n");
    assert_eq!(entries[0].dn, "o=x");
    assert_eq!(value(&entries[0], "bin"), [&[0u8, 1, 2, 255][..]]);
    assert_eq!(value(&entries[0], "empty"), [b""]);
    assert_eq!(value(&entries[0], "spaced"), [b"v  "]);
}

#[test]
fn attribute_names_ignore_case_and_options_are_kept() {
    let entries =
        ok("dn: o=x\nproviderCertificate;binary:: AQI=\nPROVIDERCERTIFICATE: z\n2.5.4.3: oid\n");
    let certs: Vec<&Attribute> = entries[0].values("providercertificate").collect();
    assert_eq!(certs.len(), 2);
    assert!(certs[0].has_option("BINARY"));
    assert_eq!(certs[0].value, [1, 2]);
    assert!(certs[1].options.is_empty());
    assert_eq!(value(&entries[0], "2.5.4.3"), [b"oid"]);
}

#[test]
fn url_values_are_refused() {
    let e = fails("dn: o=x\nphoto:< file:///etc/passwd\n");
    assert_eq!((e.line, e.kind), (2, K::UrlValue));
}

#[test]
fn change_records_are_refused() {
    let e = fails("dn: o=x\nchangetype: add\no: x\n");
    assert_eq!((e.line, e.kind), (2, K::ChangeRecord));
    assert_eq!(
        fails("dn: o=x\ncontrol: 1.2.3 true\n").kind,
        K::ChangeRecord
    );
    assert_eq!(fails("dn: o=x\nChangeType: delete\n").kind, K::ChangeRecord);
}

#[test]
fn malformed_records_are_refused_with_their_line() {
    let cases: &[(&str, usize, K)] = &[
        (" continued\ndn: o=x\n", 1, K::OrphanContinuation),
        ("dn: o=x\no: x\n\n continued\n", 4, K::OrphanContinuation),
        ("o: x\n", 1, K::MissingDn),
        ("dn;binary: o=x\no: x\n", 1, K::MissingDn),
        ("dn: o=x\no: x\ndn: o=y\n", 3, K::RepeatedDn),
        ("dn: o=x\n\n", 1, K::EmptyRecord),
        ("dn: o=x\n", 1, K::EmptyRecord),
        ("dn: o=x\nno colon here\n", 2, K::MissingColon),
        ("dn: o=x\n-\n", 2, K::MissingColon),
        (
            "dn: o=x\nbad_name: v\n",
            2,
            K::InvalidAttributeDescription("bad_name".into()),
        ),
        (
            "dn: o=x\n1abc: v\n",
            2,
            K::InvalidAttributeDescription("1abc".into()),
        ),
        (
            "dn: o=x\n1..2: v\n",
            2,
            K::InvalidAttributeDescription("1..2".into()),
        ),
        (
            "dn: o=x\ncn;: v\n",
            2,
            K::InvalidAttributeDescription("cn;".into()),
        ),
        (
            "dn: o=x\n: v\n",
            2,
            K::InvalidAttributeDescription(String::new()),
        ),
        ("dn: o=x\ncn:: not base64!\n", 2, K::InvalidBase64),
        ("dn: o=x\ncn:: QQ\n", 2, K::InvalidBase64),
        ("dn: o=x\ncn: a\0b\n", 2, K::UnsafeValue),
        ("dn: o=x\ncn: a\rb\n", 2, K::UnsafeValue),
        ("dn:: /w==\ncn: a\n", 1, K::DnNotUtf8),
        (
            "\tdn: o=x\n",
            1,
            K::InvalidAttributeDescription("\tdn".into()),
        ),
    ];
    for (text, line, kind) in cases {
        let e = fails(text);
        assert_eq!((e.line, &e.kind), (*line, kind), "{text:?}");
    }
}

#[test]
fn the_error_message_names_the_line() {
    let e = fails("dn: o=x\no: x\n\ndn: o=y\nphoto:< http://x\n");
    assert_eq!(e.to_string(), format!("LDIF line 5: {}", K::UrlValue));
}

#[test]
fn input_larger_than_the_limit_is_refused_before_parsing() {
    let limits = Limits {
        max_input: 10,
        ..Limits::default()
    };
    let e = parse_with_limits(b"dn: o=x\no: xx\n", &limits).err();
    assert_eq!(
        e.map(|e| (e.line, e.kind)),
        Some((
            0,
            K::InputTooLarge {
                size: 14,
                limit: 10
            }
        ))
    );
}

#[test]
fn the_other_limits_are_enforced() {
    let text = b"dn: o=x\no: 1\no: 2\n\ndn: o=y\no: 3\n";
    let tight = |f: fn(&mut Limits)| {
        let mut limits = Limits::default();
        f(&mut limits);
        parse_with_limits(text, &limits).err().map(|e| e.kind)
    };
    assert_eq!(
        tight(|l| l.max_records = 1),
        Some(K::TooManyRecords { limit: 1 })
    );
    assert_eq!(
        tight(|l| l.max_attributes = 1),
        Some(K::TooManyAttributes { limit: 1 })
    );
    assert_eq!(
        tight(|l| l.max_lines = 3),
        Some(K::TooManyLines { limit: 3 })
    );
    assert_eq!(tight(|l| l.max_line = 4), Some(K::LineTooLong { limit: 4 }));
    assert_eq!(tight(|_| {}), None);
    let folded = parse_with_limits(
        b"dn: o=x\no: 12\n 3456\n",
        &Limits {
            max_line: 8,
            ..Limits::default()
        },
    );
    assert_eq!(
        folded.err().map(|e| (e.line, e.kind)),
        Some((2, K::LineTooLong { limit: 8 }))
    );
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Every error points at a line that exists (or 0 for the whole input).
fn check_garbage(input: &[u8]) {
    let lines = input.split(|&b| b == b'\n').count();
    match parse(input) {
        Ok(entries) => {
            for entry in &entries {
                assert!(entry.line >= 1 && entry.line <= lines);
                assert!(!entry.attributes.is_empty());
            }
        }
        Err(e) => assert!(e.line <= lines, "{e} for {} lines", lines),
    }
}

#[test]
fn garbage_in_random_bytes_never_panics() {
    let mut rng = Prng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3_000 {
        let len = rng.below(300);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        check_garbage(&bytes);
    }
}

#[test]
fn garbage_in_ldif_shaped_tokens_never_panics() {
    // Random bytes rarely reach deep states; glue together pieces of the grammar instead.
    const TOKENS: &[&[u8]] = &[
        b"dn:",
        b"dn::",
        b"version: 1",
        b"\n",
        b"\n",
        b"\r\n",
        b" ",
        b"#",
        b":",
        b"::",
        b":<",
        b"o=postacert",
        b"providerName=",
        b",",
        b"\\",
        b"cn",
        b";binary",
        b"AAEC",
        b"=",
        b"-",
        b"changetype: add",
        b"\xff",
        b"\0",
        b"objectclass: provider",
    ];
    let mut rng = Prng(42);
    let mut accepted = 0;
    for _ in 0..5_000 {
        let mut input = Vec::new();
        for _ in 0..rng.below(40) {
            input.extend_from_slice(TOKENS[rng.below(TOKENS.len())]);
        }
        check_garbage(&input);
        if parse(&input).is_ok() {
            accepted += 1;
        }
        // The index builder must not panic either.
        let _ = crate::Indice::from_ldif(&input);
    }
    // Sanity: the generator does reach inputs that parse, not only early errors.
    assert!(accepted > 0);
}
