//! The live index against a real OpenLDAP server (issue 6): each test starts its own private
//! slapd through `scripts/slapd start <tempdir>` (about 0.2 s), stopped when the test ends,
//! even on failure. Without slapd the slapd tests are skipped with a message, unless
//! `GESTORE_REQUIRE_TOOLS=1` (CI), where they fail. The tests of servers that are down, silent
//! or talk garbage need no slapd. TLS: the same slapd listens on `ldaps://` too and offers
//! StartTLS, with the throwaway CA, server and client certificates `scripts/slapd` leaves in
//! its directory (`ca.pem`, `client.pem`, `client.key`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pec_directory::ldap::{self, ClientIdentity, Error, IndiceLdap, LdapSource, LdapTls};
use pec_directory::{Gestore, IndiceFile, WarningKind};

const ROOTDN: &str = "cn=admin,o=postacert";
const ROOTPW: &str = "secret";
const TIMEOUT: Duration = Duration::from_secs(5);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn slapd_installed() -> bool {
    let on_path = |tool: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let slapd = on_path("slapd") || Path::new("/usr/sbin/slapd").exists();
    slapd && on_path("ldapadd") && on_path("ldapsearch")
}

/// A private slapd, stopped on drop.
struct Slapd {
    dir: tempfile::TempDir,
    /// Plain, and StartTLS.
    url: String,
    /// TLS from the first byte.
    ldaps_url: String,
}

impl Slapd {
    /// Starts one with the real §7.1 schema; `None` (test skipped) when slapd is missing.
    fn start() -> Option<Slapd> {
        Slapd::launch(None, "never")
    }

    fn start_with_schema(schema: Option<&Path>) -> Option<Slapd> {
        Slapd::launch(schema, "never")
    }

    /// One whose TLS listeners refuse clients without a certificate from its CA.
    fn start_demanding_client_certificates() -> Option<Slapd> {
        Slapd::launch(None, "demand")
    }

    /// `verify_client`: slapd's TLSVerifyClient (`SLAPD_VERIFY_CLIENT` of scripts/slapd).
    fn launch(schema: Option<&Path>, verify_client: &str) -> Option<Slapd> {
        if !slapd_installed() {
            if std::env::var("GESTORE_REQUIRE_TOOLS").as_deref() == Ok("1") {
                panic!("slapd is required (GESTORE_REQUIRE_TOOLS=1): run scripts/slapd install");
            }
            eprintln!("skipped: slapd or ldap-utils not installed (scripts/slapd install)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new(repo_root().join("scripts/slapd"));
        command
            .arg("start")
            .arg(dir.path())
            .env("SLAPD_VERIFY_CLIENT", verify_client);
        if let Some(schema) = schema {
            command.arg(schema);
        }
        let output = command.output().unwrap();
        // From here on the guard stops the server whatever happens.
        let mut slapd = Slapd {
            dir,
            url: String::new(),
            ldaps_url: String::new(),
        };
        assert!(
            output.status.success(),
            "scripts/slapd start: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        slapd.url = String::from_utf8(output.stdout).unwrap().trim().to_string();
        slapd.ldaps_url = std::fs::read_to_string(slapd.file("ldaps_url"))
            .unwrap()
            .trim()
            .to_string();
        Some(slapd)
    }

    /// A file scripts/slapd left in the server's directory (`ca.pem`, `client.key`, …).
    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Trusting this server's CA, no client certificate.
    fn tls(&self) -> LdapTls {
        LdapTls {
            ca: vec![self.file("ca.pem")],
            ..LdapTls::default()
        }
    }

    /// Trusting this server's CA, with the client certificate it issued.
    fn mutual_tls(&self) -> LdapTls {
        LdapTls {
            client: Some(ClientIdentity {
                cert: self.file("client.pem"),
                key: self.file("client.key"),
            }),
            ..self.tls()
        }
    }

    /// The `ldaps://` listener with `tls`.
    fn ldaps_source(&self, tls: LdapTls) -> LdapSource {
        LdapSource {
            tls,
            ..LdapSource::new(&self.ldaps_url)
        }
    }

    fn stop(&self) {
        let status = Command::new(repo_root().join("scripts/slapd"))
            .arg("stop")
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Runs `tool` (ldapadd, ldapmodify, ldapdelete) as the root DN with `input` on stdin.
    fn run(&self, tool: &str, extra: &[&str], input: &str) -> Result<(), String> {
        let mut child = Command::new(tool)
            .args(["-x", "-H", &self.url, "-D", ROOTDN, "-w", ROOTPW])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        if output.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    fn add(&self, ldif: &str) {
        self.run("ldapadd", &[], ldif).unwrap();
    }

    fn modify(&self, ldif: &str) {
        self.run("ldapmodify", &[], ldif).unwrap();
    }

    fn delete(&self, dn: &str) {
        self.run("ldapdelete", &[dn], "").unwrap();
    }

    fn source(&self) -> LdapSource {
        LdapSource {
            timeout: TIMEOUT,
            ..LdapSource::new(&self.url)
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/slapd"))
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

/// A real self-signed certificate (slapd checks the Certificate syntax), DER.
fn certificate(name: &str) -> Vec<u8> {
    let key = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
    key.cert.der().to_vec()
}

fn gestore(nome: &str, domain: &str) -> Gestore {
    Gestore::new(
        nome,
        &format!("ricevute@{domain}"),
        [domain],
        certificate(domain),
    )
    .unwrap()
}

#[tokio::test]
async fn fetch_sees_a_provider_added() {
    let Some(slapd) = Slapd::start() else { return };
    let acme = gestore("Acme PEC", "pec.acme.example");
    slapd.add(&acme.to_ldif());
    let indice = ldap::fetch(&slapd.url, None, TIMEOUT).await.unwrap();
    assert!(indice.warnings().is_empty(), "{:?}", indice.warnings());
    assert_eq!(indice.gestori(), std::slice::from_ref(&acme));
    let der = &acme.certificati()[0];
    assert_eq!(
        indice.per_certificato(der).map(|g| g.nome()),
        Some("Acme PEC")
    );
    assert_eq!(
        indice
            .per_indirizzo("mario@PEC.acme.example")
            .map(|g| g.mail_receipt()),
        Some("ricevute@pec.acme.example")
    );
}

#[tokio::test]
async fn fetch_with_bind() {
    let Some(slapd) = Slapd::start() else { return };
    slapd.add(&gestore("Acme PEC", "pec.acme.example").to_ldif());
    let indice = ldap::fetch(&slapd.url, Some((ROOTDN, ROOTPW)), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(indice.gestori().len(), 1);
    let refused = ldap::fetch(&slapd.url, Some((ROOTDN, "wrong")), TIMEOUT).await;
    assert!(matches!(refused, Err(Error::Bind { .. })), "{refused:?}");
    assert!(!format!("{refused:?}").contains("wrong"));
}

#[tokio::test]
async fn secondary_environment_comes_after_its_main_record() {
    let Some(slapd) = Slapd::start() else { return };
    let main = gestore("Acme PEC", "pec.acme.example");
    let unit = gestore("Acme PEC", "pec2.acme.example")
        .with_unit("DR")
        .unwrap();
    slapd.add(&main.to_ldif());
    slapd.add(&unit.to_ldif());
    let indice = ldap::fetch(&slapd.url, None, TIMEOUT).await.unwrap();
    assert!(indice.warnings().is_empty(), "{:?}", indice.warnings());
    assert_eq!(indice.gestori(), [main, unit]);
}

#[tokio::test]
async fn sync_reflects_changed_domains() {
    let Some(slapd) = Slapd::start() else { return };
    let acme = gestore("Acme PEC", "pec.acme.example");
    slapd.add(&acme.to_ldif());
    let mut live = IndiceLdap::open(slapd.source()).await.unwrap();
    assert!(!live.sync().await.unwrap(), "nothing changed yet");
    slapd.modify(&format!(
        "dn: {}\nchangetype: modify\nreplace: managedDomains\nmanagedDomains: pec.nuovo.example\n",
        acme.dn()
    ));
    assert!(live.sync().await.unwrap());
    let indice = live.indice();
    assert!(indice.is_certificato("a@pec.nuovo.example"));
    assert!(!indice.is_certificato("a@pec.acme.example"));
}

#[tokio::test]
async fn sync_reflects_a_removed_provider() {
    let Some(slapd) = Slapd::start() else { return };
    let acme = gestore("Acme PEC", "pec.acme.example");
    let beta = gestore("Beta PEC", "pec.beta.example");
    slapd.add(&acme.to_ldif());
    slapd.add(&beta.to_ldif());
    let mut live = IndiceLdap::open(slapd.source()).await.unwrap();
    assert_eq!(live.indice().gestori().len(), 2);
    slapd.delete(&beta.dn());
    assert!(live.sync().await.unwrap());
    assert_eq!(live.indice().gestori(), [acme]);
    assert!(!live.indice().is_certificato("x@pec.beta.example"));
}

#[tokio::test]
async fn directory_with_no_provider_is_an_error_and_last_good_is_kept() {
    let Some(slapd) = Slapd::start() else { return };
    let acme = gestore("Acme PEC", "pec.acme.example");
    slapd.add(&acme.to_ldif());
    let mut live = IndiceLdap::open(slapd.source()).await.unwrap();
    slapd.delete(&acme.dn());
    let empty = live.sync().await;
    assert!(
        matches!(empty, Err(Error::NoProvider { entries: 0, .. })),
        "{empty:?}"
    );
    assert!(live.indice().is_certificato("x@pec.acme.example"));
}

#[tokio::test]
async fn hash_not_matching_the_certificate_is_skipped() {
    let Some(slapd) = Slapd::start() else { return };
    let acme = gestore("Acme PEC", "pec.acme.example");
    slapd.add(&acme.to_ldif());
    let forged = gestore("Forged PEC", "pec.forged.example");
    let wrong = "0123456789abcdef0123456789abcdef01234567";
    let ldif = forged.to_ldif().replace(&forged.hash()[0], wrong);
    slapd.add(&ldif);
    let indice = ldap::fetch(&slapd.url, None, TIMEOUT).await.unwrap();
    assert_eq!(indice.gestori(), [acme]);
    let warning = &indice.warnings()[0];
    assert_eq!(warning.dn, forged.dn());
    assert!(matches!(&warning.kind, WarningKind::HashMismatch { hash } if hash == wrong));
    assert!(warning.to_string().contains("record skipped"), "{warning}");
}

/// A server whose schema does not enforce §7.1 (every `provider` attribute optional) serves a
/// record without `mailReceipt`: skipped with a warning, the other providers stay.
#[tokio::test]
async fn record_missing_a_mandatory_attribute_is_skipped() {
    let schema = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/postacert.schema"),
    )
    .unwrap();
    let lax = schema.replace(
        "MUST ( providerCertificateHash $ providerCertificate $ providerName $\n\t\tmailReceipt $ managedDomains )\n\tMAY ( description $ LDIFLocationURL $ providerUnit )",
        "MAY ( providerCertificateHash $ providerCertificate $ providerName $\n\t\tmailReceipt $ managedDomains $ description $ LDIFLocationURL $ providerUnit )",
    );
    assert_ne!(
        lax, schema,
        "the MUST clause of the schema changed: update this test"
    );
    let dir = tempfile::tempdir().unwrap();
    let lax_path = dir.path().join("postacert-lax.schema");
    std::fs::write(&lax_path, lax).unwrap();
    let Some(slapd) = Slapd::start_with_schema(Some(&lax_path)) else {
        return;
    };
    let acme = gestore("Acme PEC", "pec.acme.example");
    slapd.add(&acme.to_ldif());
    let broken = gestore("Broken PEC", "pec.broken.example");
    let ldif: String = broken
        .to_ldif()
        .lines()
        .filter(|l| !l.starts_with("mailReceipt:"))
        .map(|l| format!("{l}\n"))
        .collect();
    slapd.add(&ldif);
    let indice = ldap::fetch(&slapd.url, None, TIMEOUT).await.unwrap();
    assert_eq!(indice.gestori(), [acme]);
    assert_eq!(indice.warnings().len(), 1, "{:?}", indice.warnings());
    assert_eq!(indice.warnings()[0].dn, broken.dn());
    assert_eq!(
        indice.warnings()[0].kind,
        WarningKind::MissingAttribute("mailReceipt")
    );
}

#[tokio::test]
async fn stopped_server_is_an_error_and_last_good_is_kept() {
    let Some(slapd) = Slapd::start() else { return };
    slapd.add(&gestore("Acme PEC", "pec.acme.example").to_ldif());
    let mut live = IndiceLdap::open(slapd.source()).await.unwrap();
    slapd.stop();
    let down = live.sync().await;
    assert!(matches!(down, Err(Error::Connection { .. })), "{down:?}");
    assert!(live.indice().is_certificato("x@pec.acme.example"));
}

#[tokio::test]
async fn sync_writes_the_local_copy_that_indice_file_reloads() {
    let Some(slapd) = Slapd::start() else { return };
    let acme = gestore("Acme PEC", "pec.acme.example");
    slapd.add(&acme.to_ldif());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("igpec.ldif");
    let mut live = IndiceLdap::open(slapd.source())
        .await
        .unwrap()
        .with_local_copy(&path);
    assert!(!live.sync().await.unwrap());
    let mut file = IndiceFile::open(&path).unwrap();
    assert_eq!(file.indice().gestori(), [acme]);

    let beta = gestore("Beta PEC", "pec.beta.example");
    slapd.add(&beta.to_ldif());
    assert!(live.sync().await.unwrap());
    assert!(file.refresh().unwrap());
    assert!(file.indice().is_certificato("x@pec.beta.example"));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "temporary files left behind");
}

/// A CA that signed nothing slapd has, as a PEM file in `dir`.
fn unrelated_ca(dir: &Path) -> PathBuf {
    let mut params = rcgen::CertificateParams::new(Vec::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    let path = dir.join("other-ca.pem");
    std::fs::write(&path, params.self_signed(&key).unwrap().pem()).unwrap();
    path
}

#[tokio::test]
async fn fetch_over_ldaps() {
    let Some(slapd) = Slapd::start() else { return };
    let acme = gestore("Acme PEC", "pec.acme.example");
    slapd.add(&acme.to_ldif());
    let indice = slapd.ldaps_source(slapd.tls()).fetch().await.unwrap();
    assert_eq!(indice.gestori(), [acme]);
}

#[tokio::test]
async fn fetch_over_starttls_with_bind() {
    let Some(slapd) = Slapd::start() else { return };
    let acme = gestore("Acme PEC", "pec.acme.example");
    slapd.add(&acme.to_ldif());
    let source = LdapSource {
        bind: Some((ROOTDN.into(), ROOTPW.into())),
        tls: LdapTls {
            starttls: true,
            ..slapd.tls()
        },
        ..slapd.source()
    };
    assert!(source.url.starts_with("ldap://"));
    let indice = source.fetch().await.unwrap();
    assert_eq!(indice.gestori(), [acme]);
}

/// The server's certificate is not from the CA we trust: the sync fails saying so, the index
/// in use and its local copy stay as they were.
#[tokio::test]
async fn untrusted_server_certificate_fails_and_last_good_is_kept() {
    let Some(slapd) = Slapd::start() else { return };
    let acme = gestore("Acme PEC", "pec.acme.example");
    slapd.add(&acme.to_ldif());
    let work = tempfile::tempdir().unwrap();
    let copy = work.path().join("igpec.ldif");
    let good = IndiceLdap::open(slapd.source())
        .await
        .unwrap()
        .with_local_copy(&copy);
    let wrong_ca = LdapTls {
        ca: vec![unrelated_ca(work.path())],
        ..LdapTls::default()
    };
    let mut live = IndiceLdap::with_last_good(slapd.ldaps_source(wrong_ca), good.indice())
        .with_local_copy(&copy);
    std::fs::write(&copy, "version: 1\n").unwrap();
    slapd.add(&gestore("Beta PEC", "pec.beta.example").to_ldif());
    let refused = live.sync().await;
    let Err(error @ Error::Tls { .. }) = &refused else {
        panic!("{refused:?}")
    };
    assert!(
        error.to_string().contains("certificate is not trusted"),
        "{error}"
    );
    assert_eq!(live.indice().gestori(), [acme]);
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), "version: 1\n");
}

/// Without CA files only the public web roots are trusted, never "anything".
#[tokio::test]
async fn ldaps_without_ca_files_does_not_trust_a_private_ca() {
    let Some(slapd) = Slapd::start() else { return };
    slapd.add(&gestore("Acme PEC", "pec.acme.example").to_ldif());
    let refused = slapd.ldaps_source(LdapTls::default()).fetch().await;
    assert!(matches!(refused, Err(Error::Tls { .. })), "{refused:?}");
}

#[tokio::test]
async fn client_certificate_demanded_and_missing_fails() {
    let Some(slapd) = Slapd::start_demanding_client_certificates() else {
        return;
    };
    slapd.add(&gestore("Acme PEC", "pec.acme.example").to_ldif());
    let refused = slapd.ldaps_source(slapd.tls()).fetch().await;
    // OpenLDAP with GnuTLS hangs up without an alert; with OpenSSL it would send one.
    let Err(error @ (Error::TlsClosed { .. } | Error::Tls { .. })) = &refused else {
        panic!("{refused:?}")
    };
    assert!(error.to_string().contains("client certificate"), "{error}");
}

#[tokio::test]
async fn client_certificate_demanded_and_sent_succeeds() {
    let Some(slapd) = Slapd::start_demanding_client_certificates() else {
        return;
    };
    let acme = gestore("Acme PEC", "pec.acme.example");
    slapd.add(&acme.to_ldif());
    let indice = slapd
        .ldaps_source(slapd.mutual_tls())
        .fetch()
        .await
        .unwrap();
    assert_eq!(indice.gestori(), [acme]);
    let starttls = LdapSource {
        tls: LdapTls {
            starttls: true,
            ..slapd.mutual_tls()
        },
        ..slapd.source()
    };
    assert_eq!(starttls.fetch().await.unwrap().gestori().len(), 1);
}

/// A port with nothing listening: refused at once, far within the timeout.
#[tokio::test]
async fn nothing_listening_is_an_error_quickly() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let started = Instant::now();
    let url = format!("ldap://127.0.0.1:{port}/");
    let result = ldap::fetch(&url, None, Duration::from_secs(10)).await;
    assert!(
        matches!(result, Err(Error::Connection { .. })),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// A server that accepts and never answers: the timeout fires.
#[tokio::test]
async fn silent_server_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ldap://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (_socket, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let started = Instant::now();
    let result = ldap::fetch(&url, None, Duration::from_millis(300)).await;
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// A server that answers with bytes that are not LDAP: an error, no panic, no hang.
#[tokio::test]
async fn garbage_server_is_an_error() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ldap://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 512];
        let _ = socket.read(&mut buf).await;
        let _ = socket
            .write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n\x30\x84\xff\xff\xff\xff garbage")
            .await;
        let _ = socket.shutdown().await;
    });
    let result = ldap::fetch(&url, None, Duration::from_secs(3)).await;
    assert!(
        matches!(
            result,
            Err(Error::Connection { .. } | Error::Timeout { .. })
        ),
        "{result:?}"
    );
}
