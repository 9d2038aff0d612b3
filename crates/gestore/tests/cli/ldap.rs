//! The providers' index synced from a real slapd (issue 6): `[index] ldap_url` keeps the local
//! copy (`[index] file`) current, and a server that goes away leaves the last good copy.

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

/// A private slapd (`scripts/slapd start`), stopped when dropped.
struct Slapd {
    dir: tempfile::TempDir,
    url: String,
}

impl Slapd {
    fn start() -> Option<Slapd> {
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
            .output()
            .unwrap();
        assert!(out.status.success(), "slapd: {}", text(&out.stderr));
        let url = text(&out.stdout).trim().to_string();
        Some(Slapd { dir, url })
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
