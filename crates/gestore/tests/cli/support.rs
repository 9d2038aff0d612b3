//! Helpers: run gestore and outside tools, find the samples, make a PKI once per test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The genuine samples beside the project (never copied into it).
pub fn real_sample(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/samples/real")
        .join(name);
    assert!(
        p.exists(),
        "genuine sample {name} missing: this test reads ../shared/samples/real/ beside the \
         project, which a clone alone does not have (README, Samples)"
    );
    p
}

/// Runs `gestore ARGS`, with standard input from `stdin` when given.
pub fn gestore(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gestore"));
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().expect("spawn gestore");
    if let Some(input) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().expect("stdin");
        // The child may exit before reading everything: a broken pipe is its answer.
        let _ = pipe.write_all(input);
    }
    child.wait_with_output().expect("wait gestore")
}

/// Exit code of an output; a signal death (a panic abort, a crash) is a test failure.
pub fn code(out: &Output) -> i32 {
    out.status
        .code()
        .unwrap_or_else(|| panic!("gestore died from a signal: {}", text(&out.stderr)))
}

/// Lossy text of some output.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// True when `tool` runs; when it does not, fails under GESTORE_REQUIRE_TOOLS=1, else skips.
pub fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        if std::env::var("GESTORE_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!(
                "{tool} is required (GESTORE_REQUIRE_TOOLS=1) but not installed; run scripts/test"
            );
        }
        eprintln!("skipping: {tool} not installed");
    }
    found
}

/// Runs an outside tool and returns its output.
pub fn run(tool: &str, args: &[&str]) -> Output {
    Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"))
}

/// A fresh dev PKI in a temporary directory.
pub struct Pki {
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
}

impl Pki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = gestore(&["pki", "init", "--dir", &path(dir.path())], None);
        assert_eq!(code(&out), 0, "pki init: {}", text(&out.stderr));
        Self { dir }
    }

    pub fn path(&self) -> String {
        path(self.dir.path())
    }

    pub fn ca(&self) -> String {
        path(&self.dir.path().join("ca.pem"))
    }

    /// A directory holding only the CA, for `verify --trust`.
    pub fn trust_dir(&self) -> String {
        let dir = self.dir.path().join("trust");
        std::fs::create_dir_all(&dir).expect("trust dir");
        std::fs::copy(self.dir.path().join("ca.pem"), dir.join("ca.pem")).expect("copy ca");
        path(&dir)
    }

    /// Writes the sample of `kind` and returns its path.
    pub fn sample(&self, kind: &str) -> PathBuf {
        let file = self.dir.path().join(format!("{kind}.eml"));
        let out = gestore(
            &["sample", kind, "--pki", &self.path(), "--out", &path(&file)],
            None,
        );
        assert_eq!(code(&out), 0, "sample {kind}: {}", text(&out.stderr));
        file
    }
}

pub fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Every kind `gestore sample` writes.
pub const KINDS: [&str; 14] = [
    "busta",
    "anomalia",
    "accettazione",
    "non-accettazione",
    "non-accettazione-virus",
    "presa-in-carico",
    "consegna-completa",
    "consegna-breve",
    "consegna-sintetica",
    "mancata-consegna",
    "preavviso-12h",
    "mancata-consegna-24h",
    "rilevazione-virus",
    "mancata-consegna-virus",
];

/// The same message with one byte of the signed part changed (a letter in the text part).
pub fn tamper(signed: &[u8]) -> Vec<u8> {
    let mut bytes = signed.to_vec();
    let body = find(&bytes, b"\r\n\r\n").expect("header end") + 4;
    let target = find(&bytes[body..], b"Il giorno")
        .or_else(|| find(&bytes[body..], b"daticert"))
        .expect("a known text in the signed part")
        + body;
    bytes[target] ^= 0x20;
    bytes
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
