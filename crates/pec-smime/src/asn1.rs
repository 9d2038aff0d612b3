//! A small, bounded BER/DER reader: only what verification needs from a CMS `SignedData`
//! (RFC 5652 §5) and from an X.509 certificate, which the `openssl` crate does not expose
//! (signing time, digest algorithm, signer identifier, embedded certificates).
//!
//! Invariants: it never allocates per element, never recurses deeper than [`MAX_DEPTH`],
//! accepts indefinite lengths (BER, as `openssl cms -sign -stream` writes) and rejects
//! high tag numbers and lengths over 32 bits. Every failure is an [`Asn1Error`], never a panic.

use chrono::{DateTime, NaiveDate, Utc};

/// Deepest nesting accepted; CMS needs about ten levels.
const MAX_DEPTH: usize = 20;
/// Most certificates read from one `SignedData`.
const MAX_CERTIFICATES: usize = 32;

pub(crate) const TAG_INTEGER: u8 = 0x02;
pub(crate) const TAG_OCTET_STRING: u8 = 0x04;
pub(crate) const TAG_OID: u8 = 0x06;
pub(crate) const TAG_UTC_TIME: u8 = 0x17;
pub(crate) const TAG_GENERALIZED_TIME: u8 = 0x18;
pub(crate) const TAG_SEQUENCE: u8 = 0x30;
pub(crate) const TAG_SET: u8 = 0x31;
/// `[0]` constructed, context-specific.
pub(crate) const TAG_CTX0: u8 = 0xA0;
/// `[1]` constructed, context-specific.
pub(crate) const TAG_CTX1: u8 = 0xA1;
/// `[0]` primitive, context-specific (`SubjectKeyIdentifier` in a `SignerIdentifier`).
pub(crate) const TAG_CTX0_PRIMITIVE: u8 = 0x80;

/// id-signedData, 1.2.840.113549.1.7.2 (content octets of the OID).
const OID_SIGNED_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];
/// id-signingTime, 1.2.840.113549.1.9.5.
const OID_SIGNING_TIME: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x05];

/// Why a structure could not be read; the text is one short line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Asn1Error(pub &'static str);

impl std::fmt::Display for Asn1Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// One element: its identifier octet, its content and its whole encoding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    /// Identifier octet (class, constructed bit, tag number below 31).
    pub tag: u8,
    /// Content octets; for an indefinite length, the children without the end-of-contents.
    pub content: &'a [u8],
    /// The whole element, header to end (end-of-contents included).
    pub raw: &'a [u8],
    depth: usize,
}

impl<'a> Tlv<'a> {
    /// A reader over the children of a constructed element.
    pub fn children(&self) -> Reader<'a> {
        Reader {
            data: self.content,
            depth: self.depth + 1,
        }
    }
}

/// Reads consecutive elements from a byte slice.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    depth: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the top level of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, depth: 0 }
    }

    /// Whether every element has been read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Reads the next element.
    pub fn next_tlv(&mut self) -> Result<Tlv<'a>, Asn1Error> {
        let (tlv, used) = read_tlv(self.data, self.depth)?;
        self.data = &self.data[used..];
        Ok(tlv)
    }

    /// Reads the next element and checks its tag.
    pub fn expect(&mut self, tag: u8, what: &'static str) -> Result<Tlv<'a>, Asn1Error> {
        let tlv = self.next_tlv()?;
        if tlv.tag == tag {
            Ok(tlv)
        } else {
            Err(Asn1Error(what))
        }
    }

    /// Reads the next element only if it has `tag`.
    pub fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, Asn1Error> {
        if self.data.first() == Some(&tag) {
            self.next_tlv().map(Some)
        } else {
            Ok(None)
        }
    }
}

/// Reads one element at the start of `data`; returns it and the bytes it used.
fn read_tlv(data: &[u8], depth: usize) -> Result<(Tlv<'_>, usize), Asn1Error> {
    if depth > MAX_DEPTH {
        return Err(Asn1Error("ASN.1 nesting too deep"));
    }
    let truncated = Asn1Error("truncated ASN.1 element");
    let tag = *data.first().ok_or(truncated.clone())?;
    if tag & 0x1f == 0x1f {
        return Err(Asn1Error("unsupported ASN.1 high tag number"));
    }
    let first = *data.get(1).ok_or(truncated.clone())?;
    if first == 0x80 {
        if tag & 0x20 == 0 {
            return Err(Asn1Error("indefinite length on a primitive element"));
        }
        let mut pos = 2;
        loop {
            match data.get(pos..pos + 2) {
                None => return Err(truncated),
                Some([0, 0]) => break,
                Some(_) => {
                    let (_, used) = read_tlv(&data[pos..], depth + 1)?;
                    pos += used;
                }
            }
        }
        let tlv = Tlv {
            tag,
            content: &data[2..pos],
            raw: &data[..pos + 2],
            depth,
        };
        return Ok((tlv, pos + 2));
    }
    let (header, len) = if first < 0x80 {
        (2, first as usize)
    } else {
        let n = (first & 0x7f) as usize;
        if n > 4 {
            return Err(Asn1Error("ASN.1 length too large"));
        }
        let bytes = data.get(2..2 + n).ok_or(truncated.clone())?;
        let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (2 + n, len)
    };
    let end = header.checked_add(len).ok_or(truncated.clone())?;
    if end > data.len() {
        return Err(truncated);
    }
    let tlv = Tlv {
        tag,
        content: &data[header..end],
        raw: &data[..end],
        depth,
    };
    Ok((tlv, end))
}

/// Who signed, as the `SignerInfo` names it (RFC 5652 §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignerId<'a> {
    /// `issuerAndSerialNumber`: the issuer `Name` (whole encoding) and the serial's content octets.
    IssuerSerial { issuer: &'a [u8], serial: &'a [u8] },
    /// `subjectKeyIdentifier`.
    KeyId(&'a [u8]),
}

/// What verification needs from a `ContentInfo` holding a `SignedData`.
#[derive(Debug, Clone)]
pub(crate) struct SignedDataInfo<'a> {
    /// Encodings of the embedded certificates, in order.
    pub certificates: Vec<&'a [u8]>,
    /// The first signer's identifier.
    pub signer: SignerId<'a>,
    /// Content octets of the first signer's digest algorithm OID.
    pub digest_oid: &'a [u8],
    /// The first signer's `signingTime` signed attribute, when present and well formed.
    pub signing_time: Option<DateTime<Utc>>,
    /// The encapsulated content (opaque signatures), `None` when detached.
    pub econtent: Option<Tlv<'a>>,
}

/// Reads a CMS `ContentInfo` whose content is a `SignedData`.
pub(crate) fn parse_signed_data(der: &[u8]) -> Result<SignedDataInfo<'_>, Asn1Error> {
    let mut top = Reader::new(der);
    let content_info = top.expect(TAG_SEQUENCE, "CMS ContentInfo is not a SEQUENCE")?;
    let mut ci = content_info.children();
    let content_type = ci.expect(TAG_OID, "CMS contentType missing")?;
    if content_type.content != OID_SIGNED_DATA {
        return Err(Asn1Error("CMS content is not SignedData"));
    }
    let explicit = ci.expect(TAG_CTX0, "CMS content missing")?;
    let signed_data = explicit
        .children()
        .expect(TAG_SEQUENCE, "SignedData is not a SEQUENCE")?;
    let mut sd = signed_data.children();
    sd.expect(TAG_INTEGER, "SignedData version missing")?;
    sd.expect(TAG_SET, "SignedData digestAlgorithms missing")?;
    let encap = sd.expect(TAG_SEQUENCE, "SignedData encapContentInfo missing")?;
    let mut encap_reader = encap.children();
    encap_reader.expect(TAG_OID, "eContentType missing")?;
    let econtent = match encap_reader.optional(TAG_CTX0)? {
        Some(explicit) => Some(explicit.children().next_tlv()?),
        None => None,
    };
    let mut certificates = Vec::new();
    if let Some(set) = sd.optional(TAG_CTX0)? {
        let mut certs = set.children();
        while !certs.is_empty() {
            let cert = certs.next_tlv()?;
            // Other CertificateChoices (attribute certificates, …) are skipped.
            if cert.tag == TAG_SEQUENCE {
                if certificates.len() == MAX_CERTIFICATES {
                    return Err(Asn1Error("too many certificates in the signature"));
                }
                certificates.push(cert.raw);
            }
        }
    }
    sd.optional(TAG_CTX1)?; // crls
    let signer_infos = sd.expect(TAG_SET, "SignedData signerInfos missing")?;
    let mut infos = signer_infos.children();
    if infos.is_empty() {
        return Err(Asn1Error("SignedData has no SignerInfo"));
    }
    let info = infos.expect(TAG_SEQUENCE, "SignerInfo is not a SEQUENCE")?;
    let mut si = info.children();
    si.expect(TAG_INTEGER, "SignerInfo version missing")?;
    let sid = si.next_tlv()?;
    let signer = match sid.tag {
        TAG_SEQUENCE => {
            let mut r = sid.children();
            let issuer = r.expect(TAG_SEQUENCE, "signer issuer missing")?.raw;
            let serial = r.expect(TAG_INTEGER, "signer serial missing")?.content;
            SignerId::IssuerSerial { issuer, serial }
        }
        TAG_CTX0_PRIMITIVE => SignerId::KeyId(sid.content),
        _ => return Err(Asn1Error("unknown SignerIdentifier")),
    };
    let digest_alg = si.expect(TAG_SEQUENCE, "SignerInfo digestAlgorithm missing")?;
    let digest_oid = digest_alg
        .children()
        .expect(TAG_OID, "digest algorithm OID missing")?
        .content;
    let signing_time = match si.optional(TAG_CTX0)? {
        Some(attrs) => find_signing_time(attrs)?,
        None => None,
    };
    Ok(SignedDataInfo {
        certificates,
        signer,
        digest_oid,
        signing_time,
        econtent,
    })
}

/// Finds `signingTime` among the signed attributes.
fn find_signing_time(attrs: Tlv<'_>) -> Result<Option<DateTime<Utc>>, Asn1Error> {
    let mut r = attrs.children();
    while !r.is_empty() {
        let attr = r.expect(TAG_SEQUENCE, "signed attribute is not a SEQUENCE")?;
        let mut a = attr.children();
        let oid = a.expect(TAG_OID, "signed attribute type missing")?;
        if oid.content != OID_SIGNING_TIME {
            continue;
        }
        let values = a.expect(TAG_SET, "signingTime values missing")?;
        let value = values.children().next_tlv()?;
        return Ok(parse_time(value));
    }
    Ok(None)
}

/// Parses a `UTCTime` or `GeneralizedTime` in the DER forms (`Z`, no offset); other forms give `None`.
pub(crate) fn parse_time(tlv: Tlv<'_>) -> Option<DateTime<Utc>> {
    if !tlv.content.is_ascii() {
        return None; // also keeps the byte slicing below on char boundaries
    }
    let s = std::str::from_utf8(tlv.content).ok()?;
    let s = s.strip_suffix('Z')?;
    let (year, rest) = match tlv.tag {
        TAG_UTC_TIME => {
            let yy: i32 = digits(s.get(0..2)?)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, s.get(2..)?)
        }
        TAG_GENERALIZED_TIME => (digits(s.get(0..4)?)?, s.get(4..)?),
        _ => return None,
    };
    // Fractional seconds (GeneralizedTime) are dropped.
    let rest = rest.split('.').next()?;
    if rest.len() != 10 {
        return None;
    }
    let month = digits(&rest[0..2])?;
    let day = digits(&rest[2..4])?;
    let hour = digits(&rest[4..6])?;
    let minute = digits(&rest[6..8])?;
    let second = digits(&rest[8..10])?;
    let naive = NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(hour, minute, second)?;
    Some(naive.and_utc())
}

fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// The issuer `Name` (whole encoding) and serial content octets of a certificate.
pub(crate) fn cert_issuer_serial(cert: &[u8]) -> Result<(&[u8], &[u8]), Asn1Error> {
    let certificate = Reader::new(cert).expect(TAG_SEQUENCE, "certificate is not a SEQUENCE")?;
    let tbs = certificate
        .children()
        .expect(TAG_SEQUENCE, "tbsCertificate missing")?;
    let mut t = tbs.children();
    t.optional(TAG_CTX0)?; // version
    let serial = t.expect(TAG_INTEGER, "certificate serial missing")?.content;
    t.expect(TAG_SEQUENCE, "certificate signature algorithm missing")?;
    let issuer = t.expect(TAG_SEQUENCE, "certificate issuer missing")?.raw;
    Ok((issuer, serial))
}

/// Concatenates the octets of an OCTET STRING, primitive or constructed (BER), up to `limit` bytes.
pub(crate) fn octets(tlv: Tlv<'_>, limit: usize, out: &mut Vec<u8>) -> Result<(), Asn1Error> {
    match tlv.tag {
        TAG_OCTET_STRING => {
            if out.len() + tlv.content.len() > limit {
                return Err(Asn1Error("signed content too large"));
            }
            out.extend_from_slice(tlv.content);
            Ok(())
        }
        0x24 => {
            let mut r = tlv.children();
            while !r.is_empty() {
                octets(r.next_tlv()?, limit, out)?;
            }
            Ok(())
        }
        _ => Err(Asn1Error("encapsulated content is not an OCTET STRING")),
    }
}

/// The usual name of a digest algorithm OID (`sha1`, `sha256`, …), or its dotted form.
pub(crate) fn digest_name(oid: &[u8]) -> String {
    const SHA2: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02];
    match oid {
        [0x2B, 0x0E, 0x03, 0x02, 0x1A] => "sha1".into(),
        [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02, 0x05] => "md5".into(),
        [prefix @ .., last] if prefix == SHA2 => match last {
            1 => "sha256".into(),
            2 => "sha384".into(),
            3 => "sha512".into(),
            4 => "sha224".into(),
            _ => dotted(oid),
        },
        _ => dotted(oid),
    }
}

/// The dotted-decimal form of OID content octets (`?` when malformed).
pub(crate) fn dotted(oid: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for (i, b) in oid.iter().enumerate() {
        if value > (u64::MAX >> 7) {
            return "?".into();
        }
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        } else if i + 1 == oid.len() {
            return "?".into();
        }
    }
    let parts: Vec<String> = arcs.iter().map(u64::to_string).collect();
    parts.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definite_and_indefinite_lengths_read_alike() {
        let definite = [0x30, 0x06, 0x02, 0x01, 0x05, 0x04, 0x01, 0xAA];
        let indefinite = [0x30, 0x80, 0x02, 0x01, 0x05, 0x04, 0x01, 0xAA, 0x00, 0x00];
        for data in [&definite[..], &indefinite[..]] {
            let seq = Reader::new(data).expect(TAG_SEQUENCE, "seq").unwrap();
            let mut r = seq.children();
            assert_eq!(r.expect(TAG_INTEGER, "int").unwrap().content, &[5]);
            assert_eq!(r.expect(TAG_OCTET_STRING, "os").unwrap().content, &[0xAA]);
            assert!(r.is_empty());
            assert_eq!(seq.raw.len(), data.len());
        }
    }

    #[test]
    fn truncated_and_hostile_inputs_are_errors() {
        for data in [
            &[][..],
            &[0x30],
            &[0x30, 0x05, 0x01],
            &[0x30, 0x80, 0x02, 0x01],
            &[0x04, 0x80, 0x00, 0x00],
            &[0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            &[0x1f, 0x01, 0x00],
        ] {
            assert!(Reader::new(data).next_tlv().is_err(), "{data:?}");
        }
        // Deep nesting of indefinite lengths stops at MAX_DEPTH.
        let mut deep = Vec::new();
        for _ in 0..1000 {
            deep.extend_from_slice(&[0x30, 0x80]);
        }
        assert!(Reader::new(&deep).next_tlv().is_err());
    }

    #[test]
    fn times_and_oids() {
        let utc = Tlv {
            tag: TAG_UTC_TIME,
            content: b"141114172632Z",
            raw: b"",
            depth: 0,
        };
        assert_eq!(
            parse_time(utc).unwrap().to_rfc3339(),
            "2014-11-14T17:26:32+00:00"
        );
        let gen = Tlv {
            tag: TAG_GENERALIZED_TIME,
            content: b"20500101000000.5Z",
            raw: b"",
            depth: 0,
        };
        assert_eq!(
            parse_time(gen).unwrap().to_rfc3339(),
            "2050-01-01T00:00:00+00:00"
        );
        let odd = Tlv {
            tag: TAG_UTC_TIME,
            content: "é41114172632Z".as_bytes(),
            raw: b"",
            depth: 0,
        };
        assert_eq!(parse_time(odd), None);
        assert_eq!(digest_name(&[0x2B, 0x0E, 0x03, 0x02, 0x1A]), "sha1");
        assert_eq!(
            digest_name(&[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01]),
            "sha256"
        );
        assert_eq!(
            dotted(&[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x05]),
            "1.2.840.113549.1.9.5"
        );
    }
}
