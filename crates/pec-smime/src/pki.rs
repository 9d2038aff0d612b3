//! A development PKI: a CA and the provider's signing certificate, made by one call.
//!
//! The provider certificate follows PEC-SPEC §7.4: RSA-2048 with SHA-256, Subject
//! `C=IT, O=<provider>, CN=Posta Certificata <provider>`, subjectAltName rfc822Name = the
//! service address, KeyUsage critical digitalSignature + nonRepudiation, SKI, AKI keyid,
//! extendedKeyUsage emailProtection and **no** BasicConstraints. In production the
//! certificate comes from AgID's CA instead; only the trust anchor changes.
//!
//! Files in the directory: `ca.pem`, `ca.key`, `provider.pem`, `provider.key`. Keys are
//! PKCS#8 PEM, written with mode 0600 on Unix. Existing files are never overwritten
//! unless [`PkiOptions::force`] is set.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{Duration, Utc};
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509Name, X509NameBuilder, X509};

use crate::Error;

/// RSA modulus size of both keys.
const RSA_BITS: u32 = 2048;

/// What the dev PKI is made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiOptions {
    /// The provider's name (daticert `gestore-emittente`), put in the Subject O and CN
    /// (PEC-SPEC §7.4: CN or O must contain the `providerName`). At most 46 characters,
    /// so that `Posta Certificata <name>` fits the 64-character CN.
    pub provider_name: String,
    /// The service address that signs, e.g. `posta-certificata@pec.example.it`: the
    /// subjectAltName rfc822Name.
    pub service_address: String,
    /// Days the provider certificate stays valid after today (it starts yesterday, so a
    /// slightly late clock elsewhere does not reject it). Default 3 years; the CA gets 10.
    pub validity_days: u32,
    /// Overwrite existing files. Default false.
    pub force: bool,
}

impl PkiOptions {
    /// Options with the default validity (3 years) and no overwriting.
    pub fn new(provider_name: impl Into<String>, service_address: impl Into<String>) -> Self {
        PkiOptions {
            provider_name: provider_name.into(),
            service_address: service_address.into(),
            validity_days: 3 * 365,
            force: false,
        }
    }
}

/// Where the PKI files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiPaths {
    /// The CA certificate: the trust anchor to configure on verifying peers.
    pub ca_cert: PathBuf,
    /// The CA private key.
    pub ca_key: PathBuf,
    /// The provider signing certificate.
    pub provider_cert: PathBuf,
    /// The provider private key.
    pub provider_key: PathBuf,
}

impl PkiPaths {
    /// The file names used in `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        PkiPaths {
            ca_cert: dir.join("ca.pem"),
            ca_key: dir.join("ca.key"),
            provider_cert: dir.join("provider.pem"),
            provider_key: dir.join("provider.key"),
        }
    }

    fn all(&self) -> [&Path; 4] {
        [
            &self.ca_cert,
            &self.ca_key,
            &self.provider_cert,
            &self.provider_key,
        ]
    }
}

/// Creates `dir` if needed and writes a new CA and provider certificate into it.
pub fn init(dir: &Path, opts: &PkiOptions) -> Result<PkiPaths, Error> {
    if opts.provider_name.trim().is_empty() {
        return Err(Error::Options("provider name is empty"));
    }
    if opts.provider_name.chars().count() > 46 {
        return Err(Error::Options("provider name longer than 46 characters"));
    }
    match opts.service_address.split_once('@') {
        Some((local, domain)) if !local.is_empty() && domain.contains('.') => {}
        _ => return Err(Error::Options("service address is not local@domain")),
    }
    if opts.validity_days == 0 {
        return Err(Error::Options("validity_days is 0"));
    }
    let paths = PkiPaths::in_dir(dir);
    if !opts.force {
        if let Some(existing) = paths.all().into_iter().find(|p| p.exists()) {
            return Err(Error::Exists(existing.to_path_buf()));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;

    let (ca, ca_key) = make_ca(opts)?;
    let (provider, provider_key) = make_provider(opts, &ca, &ca_key)?;

    write_file(&paths.ca_key, &ca_key.private_key_to_pem_pkcs8()?, true)?;
    write_file(&paths.ca_cert, &ca.to_pem()?, false)?;
    write_file(
        &paths.provider_key,
        &provider_key.private_key_to_pem_pkcs8()?,
        true,
    )?;
    write_file(&paths.provider_cert, &provider.to_pem()?, false)?;
    Ok(paths)
}

fn new_key() -> Result<PKey<Private>, Error> {
    Ok(PKey::from_rsa(Rsa::generate(RSA_BITS)?)?)
}

fn random_serial() -> Result<Asn1Integer, Error> {
    let mut bn = BigNum::new()?;
    // 159 bits: positive and within RFC 5280's 20 octets.
    bn.rand(159, MsbOption::MAYBE_ZERO, false)?;
    Ok(bn.to_asn1_integer()?)
}

fn name(entries: &[(Nid, &str)]) -> Result<X509Name, Error> {
    let mut b = X509NameBuilder::new()?;
    for (nid, value) in entries {
        b.append_entry_by_nid(*nid, value)?;
    }
    Ok(b.build())
}

fn base_builder(subject: &X509Name, key: &PKey<Private>, days: u32) -> Result<X509Builder, Error> {
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let serial = random_serial()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(subject)?;
    b.set_pubkey(key)?;
    let start = Utc::now() - Duration::days(1);
    let not_before = Asn1Time::from_unix(start.timestamp())?;
    let not_after = Asn1Time::days_from_now(days)?;
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    Ok(b)
}

fn make_ca(opts: &PkiOptions) -> Result<(X509, PKey<Private>), Error> {
    let key = new_key()?;
    let cn = format!("{} dev CA", opts.provider_name.trim());
    let cn: String = cn.chars().take(64).collect();
    let subject = name(&[
        (Nid::COUNTRYNAME, "IT"),
        (Nid::ORGANIZATIONNAME, opts.provider_name.trim()),
        (Nid::COMMONNAME, &cn),
    ])?;
    let mut b = base_builder(&subject, &key, 10 * 365)?;
    b.set_issuer_name(&subject)?;
    b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()?,
    )?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
    b.append_extension(ski)?;
    b.sign(&key, MessageDigest::sha256())?;
    Ok((b.build(), key))
}

fn make_provider(
    opts: &PkiOptions,
    ca: &X509,
    ca_key: &PKey<Private>,
) -> Result<(X509, PKey<Private>), Error> {
    let key = new_key()?;
    let provider = opts.provider_name.trim();
    // PEC-SPEC §7.4: providerName in CN and O; e-mail only in subjectAltName.
    let subject = name(&[
        (Nid::COUNTRYNAME, "IT"),
        (Nid::ORGANIZATIONNAME, provider),
        (Nid::COMMONNAME, &format!("Posta Certificata {provider}")),
    ])?;
    let mut b = base_builder(&subject, &key, opts.validity_days)?;
    b.set_issuer_name(ca.subject_name())?;
    // PEC-SPEC §7.4: KeyUsage critical digitalSignature; no BasicConstraints.
    b.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .non_repudiation()
            .build()?,
    )?;
    b.append_extension(ExtendedKeyUsage::new().email_protection().build()?)?;
    let san = SubjectAlternativeName::new()
        .email(&opts.service_address)
        .build(&b.x509v3_context(Some(ca), None))?;
    b.append_extension(san)?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(Some(ca), None))?;
    b.append_extension(ski)?;
    let aki = AuthorityKeyIdentifier::new()
        .keyid(true)
        .build(&b.x509v3_context(Some(ca), None))?;
    b.append_extension(aki)?;
    b.sign(ca_key, MessageDigest::sha256())?;
    Ok((b.build(), key))
}

/// Writes `data` to `path`, replacing it; secrets get mode 0600 from creation on.
fn write_file(path: &Path, data: &[u8], secret: bool) -> Result<(), Error> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    let mut file = options.open(path).map_err(|e| Error::io(path, e))?;
    #[cfg(unix)]
    if secret {
        // An existing file (force) keeps its old mode through open(): tighten it.
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io(path, e))?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    file.write_all(data).map_err(|e| Error::io(path, e))?;
    file.sync_all().map_err(|e| Error::io(path, e))
}
