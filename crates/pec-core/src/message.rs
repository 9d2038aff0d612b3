//! What builders produce and what they need to know about the provider.

/// The provider that emits a message: who signs, under which name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// daticert `<gestore-emittente>`, e.g. `ARUBA PEC S.p.A.` (PEC-SPEC §5.2).
    pub nome: String,
    /// The service address that signs and sends, e.g. `posta-certificata@pec.example.it`.
    /// It must equal the rfc822Name in the signing certificate (PEC-SPEC §3.2).
    pub indirizzo_servizio: String,
}

impl Provider {
    /// The domain of the service address, used for generated Message-IDs.
    pub fn dominio(&self) -> &str {
        self.indirizzo_servizio
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or(&self.indirizzo_servizio)
    }
}

/// A message ready to be signed: the outer headers plus the entity the signature covers.
///
/// `pec-smime` wraps `content` in `multipart/signed` and puts `headers` on top, so the
/// signature covers exactly `content` (PEC-SPEC §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsignedMessage {
    /// Outer headers in order, values already encoded for the wire (RFC 2047 where needed).
    /// A long value may be pre-folded: CRLF followed by a space or tab, written as is.
    /// Never includes `MIME-Version` nor `Content-Type`: the signer adds them.
    pub headers: Vec<(String, String)>,
    /// The signed entity: its MIME headers (`Content-Type: multipart/mixed; boundary=…`), a blank
    /// line and its body, with CRLF line ends throughout (the S/MIME canonical form).
    pub content: Vec<u8>,
}

impl UnsignedMessage {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}
