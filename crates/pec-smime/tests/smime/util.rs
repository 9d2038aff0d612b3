//! Shared helpers: genuine samples, a dev PKI in a temp dir, a receipt-like message, tools.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use pec_core::UnsignedMessage;
use pec_smime::{pki, PkiOptions, PkiPaths, Signer, TrustStore, Verification};

/// Where the genuine samples live (never copied into the repo).
pub const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples/real/");

/// The service address of the dev provider.
pub const SERVICE: &str = "posta-certificata@pec.example.it";

/// A genuine sample's bytes.
pub fn sample(name: &str) -> Vec<u8> {
    let path = Path::new(SAMPLES).join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "genuine sample {name} missing ({e}): this test reads ../shared/samples/real/ \
             beside the project, which a clone alone does not have (README, Samples)"
        )
    })
}

/// A dev PKI in a directory of its own, with the signer and a trust store holding its CA.
pub struct DevPki {
    /// Removed on drop; `None` for the shared PKI, which lives as long as the process.
    _tmp: Option<tempfile::TempDir>,
    pub dir: PathBuf,
    pub paths: PkiPaths,
    pub signer: Signer,
    pub trust: TrustStore,
}

impl DevPki {
    /// A fresh PKI (two new RSA keys: about a second on a busy machine). Use it when a test
    /// needs a second CA or changes files; otherwise use [`DevPki::shared`].
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_path_buf();
        Self::in_dir(dir, Some(tmp))
    }

    /// One PKI for the whole test process, under the target dir's scratch space.
    pub fn shared() -> &'static DevPki {
        static SHARED: OnceLock<DevPki> = OnceLock::new();
        SHARED.get_or_init(|| {
            let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
            remove_stale_shared_dirs(base);
            let dir = base.join(format!("pec-smime-pki-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            Self::in_dir(dir, None)
        })
    }

    fn in_dir(dir: PathBuf, tmp: Option<tempfile::TempDir>) -> Self {
        let paths =
            pki::init(&dir, &PkiOptions::new("Example PEC S.p.A.", SERVICE)).expect("pki init");
        let signer = Signer::from_pki_dir(&dir).expect("signer");
        let mut trust = TrustStore::new();
        trust
            .add_bytes(&std::fs::read(&paths.ca_cert).expect("ca.pem"))
            .expect("ca");
        DevPki {
            _tmp: tmp,
            dir,
            paths,
            signer,
            trust,
        }
    }

    /// Signs the standard test message.
    pub fn signed(&self) -> Vec<u8> {
        self.signer.sign(&message(2)).expect("sign")
    }

    /// Verifies against this PKI's CA, now.
    pub fn verify(&self, raw: &[u8]) -> Result<Verification, pec_smime::VerifyError> {
        pec_smime::verify(raw, &self.trust, Utc::now())
    }

    /// Writes `data` to a new file in the PKI dir (unique name: tests share the dir).
    pub fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("{n}-{name}"));
        std::fs::write(&path, data).expect("write");
        path
    }
}

/// Removes shared PKI dirs left by test processes that have ended.
fn remove_stale_shared_dirs(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(pid) = name.strip_prefix("pec-smime-pki-") {
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// A receipt-like message whose text part repeats `paragraphs` times (2 → about 1 KB).
pub fn message(paragraphs: usize) -> UnsignedMessage {
    let mut text = String::new();
    for _ in 0..paragraphs {
        text.push_str(
            "Ricevuta di accettazione\r\n\r\nIl giorno 14/11/2014 alle ore 18:26:32 (+0100) il messaggio\r\n\
             \"prova\" proveniente da \"mario.rossi@pec.example.it\" ed indirizzato a:\r\n\
             luigi.bianchi@pec.example.org (\"posta certificata\")\r\n\
             =E8 stato accettato dal sistema ed inoltrato.\r\n\r\n",
        );
    }
    let content = format!(
        "Content-Type: multipart/mixed; boundary=\"----=_mixed_1\"\r\n\r\n\
         This is a multi-part message in MIME format.\r\n\r\n\
         ------=_mixed_1\r\n\
         Content-Type: text/plain; charset=iso-8859-1\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\r\n\
         {text}\
         ------=_mixed_1\r\n\
         Content-Type: application/xml; name=\"daticert.xml\"\r\n\
         Content-Disposition: inline; filename=\"daticert.xml\"\r\n\
         Content-Transfer-Encoding: 7bit\r\n\r\n\
         <?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n\
         <postacert tipo=\"accettazione\" errore=\"nessuno\"></postacert>\r\n\r\n\
         ------=_mixed_1--\r\n"
    );
    UnsignedMessage {
        headers: vec![
            ("Date".into(), "Fri, 14 Nov 2014 18:26:32 +0100".into()),
            (
                "From".into(),
                format!("\"Per conto di: mario.rossi@pec.example.it\" <{SERVICE}>"),
            ),
            ("To".into(), "mario.rossi@pec.example.it".into()),
            (
                "Subject".into(),
                "ACCETTAZIONE: prova con un oggetto lungo\r\n che va a capo".into(),
            ),
            (
                "Message-ID".into(),
                "<opec1.20141114182632@pec.example.it>".into(),
            ),
            ("X-Ricevuta".into(), "accettazione".into()),
        ],
        content: content.into_bytes(),
    }
}

/// The byte range of the signed part in a message written by `Signer::sign` or openssl.
pub fn signed_part_range(raw: &[u8]) -> std::ops::Range<usize> {
    let start = find(raw, b"------=_mixed_1\r\nContent-Type: text/plain").expect("signed part");
    let end = find(raw, b"------=_mixed_1--").expect("end of signed part");
    start..end
}

/// Position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Replaces every CRLF with LF.
pub fn to_lf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\r' && raw.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

/// Whether an external tool can be used. Missing: a skip note, or a failure when
/// `GESTORE_REQUIRE_TOOLS=1`.
pub fn tool(name: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    if found {
        return true;
    }
    if std::env::var("GESTORE_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("{name} is required (GESTORE_REQUIRE_TOOLS=1) but is not on PATH");
    }
    eprintln!("skipping: {name} not found on PATH");
    false
}

/// Runs a command; returns (success, stdout+stderr).
pub fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Ten years from now.
pub fn in_ten_years() -> DateTime<Utc> {
    Utc::now() + chrono::Duration::days(3650)
}
