//! The providers' index (issue 6): synced from a real slapd (plain, `ldaps://`, StartTLS, with
//! a client certificate) into the local copy (`[index] file`), a server that goes away leaving
//! the last good copy; and other providers' signed records (.p7m).

use crate::provider::*;
use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROOTDN: &str = "cn=admin,o=postacert";
const ROOTPW: &str = "secret";

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/slapd")
}

/// A private slapd (`scripts/slapd start`), stopped when dropped. It also listens on
/// `ldaps://` and offers StartTLS, with the CA, server and client certificates scripts/slapd
/// leaves in its directory.
struct Slapd {
    dir: tempfile::TempDir,
    url: String,
    ldaps_url: String,
}

impl Slapd {
    fn start() -> Option<Slapd> {
        Slapd::launch("never")
    }

    /// One that refuses TLS clients without a certificate from its CA.
    fn start_demanding_client_certificates() -> Option<Slapd> {
        Slapd::launch("demand")
    }

    /// `verify_client`: slapd's TLSVerifyClient (`SLAPD_VERIFY_CLIENT` of scripts/slapd).
    fn launch(verify_client: &str) -> Option<Slapd> {
        let installed = Path::new("/usr/sbin/slapd").exists() || have("slapd");
        if !installed || !have("ldapadd") {
            if std::env::var("GESTORE_REQUIRE_TOOLS").as_deref() == Ok("1") {
                panic!("slapd is required (GESTORE_REQUIRE_TOOLS=1): run scripts/slapd install");
            }
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(scripts())
            .arg("start")
            .arg(dir.path())
            .env("SLAPD_VERIFY_CLIENT", verify_client)
            .output()
            .unwrap();
        // From here on the guard stops the server whatever happens.
        let mut slapd = Slapd {
            dir,
            url: String::new(),
            ldaps_url: String::new(),
        };
        assert!(out.status.success(), "slapd: {}", text(&out.stderr));
        slapd.url = text(&out.stdout).trim().to_string();
        slapd.ldaps_url = std::fs::read_to_string(slapd.file("ldaps_url"))
            .unwrap()
            .trim()
            .to_string();
        Some(slapd)
    }

    /// A file scripts/slapd left in the server's directory (`ca.pem`, `client.key`, …).
    fn file(&self, name: &str) -> String {
        path(&self.dir.path().join(name))
    }

    fn stop(&self) {
        let _ = Command::new(scripts())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }

    fn ldap(&self, tool: &str, extra: &[&str], input: &str) {
        let mut child = Command::new(tool)
            .args(["-x", "-H", &self.url, "-D", ROOTDN, "-w", ROOTPW])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{tool}: {}", text(&out.stderr));
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The LDIF record of a provider of `domain` (its dev PKI made on the way).
fn record(domain: &str, name: &str) -> String {
    let p = Provider::on(domain, name, "", &[]);
    let out = gestore(&["index", "--config", &path(&p.config), "export"], None);
    assert_eq!(code(&out), 0, "export: {}", text(&out.stderr));
    text(&out.stdout)
}

/// `gestore index lookup` against the provider's local copy: whether `domain` is PEC.
fn known(p: &Provider, domain: &str) -> bool {
    let out = gestore(
        &["index", "--config", &path(&p.config), "lookup", domain],
        None,
    );
    code(&out) == 0
}

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_index_follows_ldap_and_keeps_the_last_good_copy_when_the_server_goes_away() {
    let Some(slapd) = Slapd::start() else { return };
    slapd.ldap("ldapadd", &[], &record("pec.b.test", "Gestore B S.p.A."));
    slapd.ldap("ldapadd", &[], &record("pec.c.test", "Gestore C S.p.A."));
    let index = tempfile::tempdir().unwrap();
    let file = index.path().join("providers.ldif");
    let extra = format!(
        "[index]\nfile = \"{}\"\nldap_url = \"{}\"\nldap_sync_seconds = 1\n",
        path(&file),
        slapd.url
    );
    let mut a = Provider::on("pec.a.test", "Gestore A S.p.A.", &extra, &["mario"]);
    // No local copy yet: the first comes from the server at start.
    a.start();
    assert!(file.exists());
    assert!(known(&a, "pec.b.test") && known(&a, "pec.c.test"));
    let show = gestore(&["index", "--config", &path(&a.config), "show"], None);
    assert_eq!(code(&show), 0, "{}", text(&show.stderr));
    let listed = text(&show.stdout);
    assert!(
        listed.contains("provider: Gestore B S.p.A.")
            && listed.contains("provider: Gestore C S.p.A."),
        "{listed}"
    );
    assert!(
        !known(&a, "pec.nessuno.test"),
        "an unknown domain is not PEC"
    );
    // A provider removed in LDAP is gone after the next sync.
    slapd.ldap(
        "ldapdelete",
        &["providerName=Gestore C S.p.A.,o=postacert"],
        "",
    );
    eventually("C is gone", || !known(&a, "pec.c.test"));
    assert!(known(&a, "pec.b.test"));
    // A provider changed in LDAP (a new domain) is reflected.
    slapd.ldap(
        "ldapmodify",
        &[],
        "dn: providerName=Gestore B S.p.A.,o=postacert\nchangetype: modify\nadd: managedDomains\nmanagedDomains: pec.b2.test\n",
    );
    eventually("B's new domain is known", || known(&a, "pec.b2.test"));
    // The server goes away: the last good copy stays in force.
    slapd.stop();
    std::thread::sleep(Duration::from_secs(3));
    assert!(known(&a, "pec.b.test") && known(&a, "pec.b2.test"));
    a.stop();
}

/// The real index wants TLS and a client certificate (PEC-SPEC §7.2): against a slapd that
/// demands one, gestore makes its first copy over ldaps:// and keeps it in sync.
#[test]
fn the_index_syncs_over_ldaps_with_a_client_certificate() {
    let Some(slapd) = Slapd::start_demanding_client_certificates() else {
        return;
    };
    slapd.ldap("ldapadd", &[], &record("pec.b.test", "Gestore B S.p.A."));
    let index = tempfile::tempdir().unwrap();
    let file = index.path().join("providers.ldif");
    let extra = format!(
        "[index]\nfile = \"{}\"\nldap_url = \"{}\"\nldap_sync_seconds = 1\n\
         ldap_ca = \"{}\"\nldap_client_cert = \"{}\"\nldap_client_key = \"{}\"\n",
        path(&file),
        slapd.ldaps_url,
        slapd.file("ca.pem"),
        slapd.file("client.pem"),
        slapd.file("client.key"),
    );
    let mut a = Provider::on("pec.a.test", "Gestore A S.p.A.", &extra, &["mario"]);
    a.start();
    assert!(file.exists());
    assert!(known(&a, "pec.b.test"));
    slapd.ldap("ldapadd", &[], &record("pec.c.test", "Gestore C S.p.A."));
    eventually("C is known", || known(&a, "pec.c.test"));
    a.stop();
}

/// Without the client certificate the server demands (here over StartTLS), the first copy
/// cannot be made: `gestore serve` stops at once and says why.
#[test]
fn without_the_demanded_client_certificate_gestore_does_not_start() {
    let Some(slapd) = Slapd::start_demanding_client_certificates() else {
        return;
    };
    slapd.ldap("ldapadd", &[], &record("pec.b.test", "Gestore B S.p.A."));
    let index = tempfile::tempdir().unwrap();
    let file = index.path().join("providers.ldif");
    let extra = format!(
        "[index]\nfile = \"{}\"\nldap_url = \"{}\"\nldap_starttls = true\nldap_ca = \"{}\"\n",
        path(&file),
        slapd.url,
        slapd.file("ca.pem"),
    );
    let a = Provider::on("pec.a.test", "Gestore A S.p.A.", &extra, &[]);
    let out = serve_until_exit(&a, Duration::from_secs(30));
    assert_ne!(code(&out), 0);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("TLS") && stderr.contains("client certificate"),
        "{stderr}"
    );
    assert!(!file.exists(), "no copy is made from a failed sync");
}

/// Runs `gestore serve` for `p`, expecting it to exit within `limit`; killed otherwise (and
/// on panic), so the test never leaves it behind.
fn serve_until_exit(p: &Provider, limit: Duration) -> std::process::Output {
    struct Guard(Option<std::process::Child>);
    impl Drop for Guard {
        fn drop(&mut self) {
            if let Some(child) = self.0.as_mut() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
    let child = Command::new(env!("CARGO_BIN_EXE_gestore"))
        .args(["serve", "--config", &path(&p.config)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = Guard(Some(child));
    let deadline = Instant::now() + limit;
    while guard.0.as_mut().unwrap().try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "gestore serve still running after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    guard.0.take().unwrap().wait_with_output().unwrap()
}

/// Writes `name`'s record signed by its own key (`gestore index export --p7m`).
fn signed_record(p: &Provider) -> PathBuf {
    let file = p.dir.path().join("record.p7m");
    let out = gestore(
        &[
            "index",
            "--config",
            &path(&p.config),
            "export",
            "--p7m",
            &path(&file),
        ],
        None,
    );
    assert_eq!(code(&out), 0, "export --p7m: {}", text(&out.stderr));
    file
}

fn apply(p: &Provider, file: &Path) -> std::process::Output {
    gestore(
        &["index", "--config", &path(&p.config), "apply", &path(file)],
        None,
    )
}

#[test]
fn signed_records_are_applied_only_from_their_own_provider_or_a_trusted_ca() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("providers.ldif");
    let b = Provider::on("pec.b.test", "Gestore B S.p.A.", "", &[]);
    std::fs::write(&file, format!("version: 1\n\n{}", record_of(&b))).unwrap();
    let extra = format!("[index]\nfile = \"{}\"\n", path(&file));
    let a = Provider::on("pec.a.test", "Gestore A S.p.A.", &extra, &[]);
    // B's own signed record: accepted (same certificate as the index lists).
    let out = apply(&a, &signed_record(&b));
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Gestore B S.p.A."));
    // Tampered with: refused, the index unchanged.
    let before = std::fs::read(&file).unwrap();
    let mut der = std::fs::read(signed_record(&b)).unwrap();
    let at = find(&der, b"pec.b.test").unwrap();
    der[at] = b'X';
    let bad = work.path().join("bad.p7m");
    std::fs::write(&bad, der).unwrap();
    assert_ne!(code(&apply(&a, &bad)), 0);
    assert_eq!(std::fs::read(&file).unwrap(), before);
    // Another key claiming B's name: refused.
    let impostor = Provider::on("pec.b.test", "Gestore B S.p.A.", "", &[]);
    let out = apply(&a, &signed_record(&impostor));
    assert_ne!(code(&out), 0);
    assert!(
        text(&out.stderr).contains("neither"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);
    // A new provider D: refused, unless its CA is one of our trust anchors.
    let d = Provider::on("pec.d.test", "Gestore D S.p.A.", "", &[]);
    let d_record = signed_record(&d);
    assert_ne!(code(&apply(&a, &d_record)), 0);
    let extra = format!(
        "{extra}trust_anchors = [\"{}\"]\n",
        path(&d.data().join("pki/ca.pem"))
    );
    let a2 = Provider::on("pec.a.test", "Gestore A S.p.A.", &extra, &[]);
    let out = apply(&a2, &d_record);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(known(&a2, "pec.d.test") && known(&a2, "pec.b.test"));
}

fn record_of(p: &Provider) -> String {
    let out = gestore(&["index", "--config", &path(&p.config), "export"], None);
    assert_eq!(code(&out), 0, "export: {}", text(&out.stderr));
    text(&out.stdout)
}
