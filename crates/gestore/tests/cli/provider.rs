//! A `gestore serve` process for tests: config on free ports, boxes made with the CLI, the
//! committed events read from the legal log (through the admin socket while it runs, through
//! `gestore log search` when it does not), killed when dropped (also on failure).

use crate::support::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const DOMAIN: &str = "pec.prova.test";

pub struct Provider {
    /// The PEC domain of its boxes.
    pub domain: String,
    /// Provider name.
    pub name: String,
    /// More configuration, appended to the file (index, relay routes, dev clock).
    pub extra: String,
    pub inbound: u16,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    child: Option<Child>,
    pub submission: u16,
    pub submissions: u16,
    pub imap: u16,
    pub imaps: u16,
    pub pop3: u16,
    pub pop3s: u16,
    /// The webmail's listeners (HTTPS, plain HTTP on loopback), when `webmail` is on.
    pub web: u16,
    pub web_http: u16,
    pub webmail: bool,
    /// What `serve` wrote on standard error (also passed on to the test's own).
    errors: Arc<Mutex<Vec<String>>>,
    /// The events `serve` printed on standard output (`event {JSON}`), the operator's trail.
    trail: Arc<Mutex<Vec<String>>>,
    /// Shell commands `serve` starts after (through `sh`), as from an operator's shell:
    /// `umask 022`, `ulimit -Hn 700`.
    pub prelude: Option<String>,
    /// Options given to `gestore` before `serve` (`--log-format json`).
    pub options: Vec<String>,
}

impl Provider {
    /// Boxes `name@DOMAIN` with password `pw-name`.
    pub fn new(boxes: &[&str]) -> Self {
        Self::on(DOMAIN, "Gestore di Prova S.p.A.", "", boxes)
    }

    /// A provider of `domain` named `name`, with `extra` configuration and boxes
    /// `box@domain` with password `pw-box`.
    pub fn on(domain: &str, name: &str, extra: &str, boxes: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("gestore.toml");
        // Port 0 everywhere: the server picks free ports and prints them; `start` reads them
        // and pins them in the config, so a restart listens where the clients already point.
        let p = Provider {
            domain: domain.to_string(),
            name: name.to_string(),
            extra: extra.to_string(),
            inbound: 0,
            dir,
            config,
            child: None,
            submission: 0,
            submissions: 0,
            imap: 0,
            imaps: 0,
            pop3: 0,
            pop3s: 0,
            web: 0,
            web_http: 0,
            webmail: false,
            errors: Default::default(),
            trail: Default::default(),
            prelude: None,
            options: Vec::new(),
        };
        p.write_config();
        for b in boxes {
            let out = gestore(
                &[
                    "mailbox",
                    "--config",
                    &path(&p.config),
                    "add",
                    &format!("{b}@{domain}"),
                    "--password",
                    &format!("pw-{b}"),
                ],
                None,
            );
            assert_eq!(code(&out), 0, "mailbox add: {}", text(&out.stderr));
        }
        p
    }

    pub fn write_config(&self) {
        let mut listen = vec![
            ("inbound", self.inbound),
            ("submission", self.submission),
            ("submissions", self.submissions),
            ("imap", self.imap),
            ("imaps", self.imaps),
            ("pop3", self.pop3),
            ("pop3s", self.pop3s),
        ];
        if self.webmail {
            listen.extend([("web", self.web), ("web_http", self.web_http)]);
        }
        let listen = listen
            .iter()
            .map(|(name, port)| format!("{name} = \"127.0.0.1:{port}\"\n"))
            .collect::<String>();
        let (domain, name, extra) = (&self.domain, &self.name, &self.extra);
        std::fs::write(
            &self.config,
            format!(
                "[provider]\nname = \"{name}\"\nservice_address = \"posta-certificata@{domain}\"\n\
                 domains = [\"{domain}\"]\n[listen]\n{listen}[data]\ndir = \"data\"\n{extra}"
            ),
        )
        .unwrap();
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Starts (or restarts) `gestore serve` and waits for "ready".
    pub fn start(&mut self) {
        let config = path(&self.config);
        let serve = self
            .options
            .iter()
            .map(String::as_str)
            .chain(["serve", "--config", &config]);
        let mut command = match &self.prelude {
            None => Command::new(env!("CARGO_BIN_EXE_gestore")),
            Some(prelude) => {
                let mut c = Command::new("sh");
                let script = format!("{prelude}; exec \"$0\" \"$@\"");
                c.args(["-c", &script, env!("CARGO_BIN_EXE_gestore")]);
                c
            }
        };
        let mut child = command
            .args(serve)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let stderr = child.stderr.take().expect("stderr");
        let errors = self.errors.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                errors.lock().unwrap().push(line);
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let trail = self.trail.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line == "ready" {
                    let _ = ready_tx.send(None);
                }
                if let Some(e) = line.strip_prefix("event ") {
                    trail.lock().unwrap().push(e.to_string());
                }
                // "listening NAME ADDR (...)"
                let mut words = line.split_whitespace();
                if words.next() == Some("listening") {
                    if let (Some(name), Some(addr)) = (words.next(), words.next()) {
                        if let Ok(a) = addr.parse::<std::net::SocketAddr>() {
                            let _ = ready_tx.send(Some((name.to_string(), a.port())));
                        }
                    }
                }
            }
        });
        self.child = Some(child);
        loop {
            let listening = ready_rx
                .recv_timeout(Duration::from_secs(60))
                .expect("gestore serve did not become ready");
            let Some((name, port)) = listening else { break };
            match name.as_str() {
                "submission" => self.submission = port,
                "submissions" => self.submissions = port,
                "imap" => self.imap = port,
                "imaps" => self.imaps = port,
                "pop3" => self.pop3 = port,
                "pop3s" => self.pop3s = port,
                "inbound" => self.inbound = port,
                "web" => self.web = port,
                "web_http" => self.web_http = port,
                _ => {}
            }
        }
        self.write_config();
    }

    /// The running `serve` process's id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILL: the crash the durability promise is about.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait: the orderly stop.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits until the log holds `count` events of `tipo`.
    pub fn wait_events(&self, tipo: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let n = self.events(tipo).len();
            if n >= count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {count} {tipo} events, saw {n}: {:?}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every event of the legal log, oldest first (JSON lines, as the chain hashes them).
    pub fn log(&self) -> Vec<String> {
        if self.child.is_none() {
            let out = gestore(
                &[
                    "log",
                    "--config",
                    &path(&self.config),
                    "search",
                    "--limit",
                    "1000000",
                ],
                None,
            );
            assert_eq!(code(&out), 0, "log search: {}", text(&out.stderr));
            // "SEQ TIME LINE"
            return text(&out.stdout)
                .lines()
                .filter_map(|l| l.splitn(3, ' ').nth(2).map(str::to_string))
                .collect();
        }
        let socket = self.data().join("admin.sock");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match log_over(&socket) {
                Ok(lines) => return lines,
                Err(e) => assert!(Instant::now() < deadline, "admin socket: {e}"),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every message of a box folder, read from the store after the server stopped.
    pub fn messages(&self, user: &str, folder: &str) -> Vec<Vec<u8>> {
        read_box(&self.data(), &format!("{user}@{}", self.domain), folder)
    }

    /// Lines `serve` wrote on standard error so far that contain `needle`.
    pub fn errors(&self, needle: &str) -> Vec<String> {
        self.errors
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .cloned()
            .collect()
    }

    /// Waits until a line containing `needle` was written on standard error.
    pub fn wait_error(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(l) = self.errors(needle).pop() {
                return l;
            }
            assert!(
                Instant::now() < deadline,
                "no line with {needle:?} on stderr"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The events `serve` printed on standard output so far (JSON lines), in order.
    pub fn trail(&self) -> Vec<String> {
        self.trail.lock().unwrap().clone()
    }

    /// Events of `tipo` in the log (JSON lines).
    pub fn events(&self, tipo: &str) -> Vec<String> {
        let needle = format!("\"tipo\":\"{tipo}\"");
        self.log()
            .into_iter()
            .filter(|e| e.contains(&needle))
            .collect()
    }
}

/// The whole log through the running server's admin socket (one JSON request line, one
/// JSON answer line).
fn log_over(socket: &Path) -> std::io::Result<Vec<String>> {
    use std::io::Write;
    let mut stream = std::os::unix::net::UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(
        b"{\"op\":\"log-search\",\"msgid\":null,\"sender\":null,\"since\":null,\"limit\":1000000}\n",
    )?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    let reply: Value = serde_json::from_str(&answer).map_err(std::io::Error::other)?;
    let events = reply["events"]
        .as_array()
        .ok_or_else(|| std::io::Error::other(format!("unexpected answer: {answer}")))?;
    Ok(events
        .iter()
        .filter_map(|e| e[2].as_str().map(str::to_string))
        .collect())
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub fn read_box(data: &Path, address: &str, folder: &str) -> Vec<Vec<u8>> {
    use pec_store::Store;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = pec_store::SqliteStore::open(data)
            .await
            .expect("open store");
        let a = pec_store::Address::parse(address).unwrap();
        let mut out = Vec::new();
        for m in store.list_messages(&a, folder).await.unwrap() {
            let f = store
                .fetch_message(&a, folder, m.uid)
                .await
                .unwrap()
                .expect("message");
            out.push(f.bytes);
        }
        out
    })
}

/// Sends with Python's smtplib over STARTTLS; returns the script's exit status and output.
pub fn smtplib(port: u16, user: &str, rcpts: &[String], message: &str) -> std::process::Output {
    smtplib_as(port, &addr(user), &format!("pw-{user}"), rcpts, message)
}

/// [`smtplib`] for any login.
pub fn smtplib_as(
    port: u16,
    login: &str,
    password: &str,
    rcpts: &[String],
    message: &str,
) -> std::process::Output {
    let script = r#"
import smtplib, ssl, sys
port, user, password, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4].split(',')
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP('127.0.0.1', port, timeout=30); s.starttls(context=ctx); s.login(user, password)
refused = s.sendmail(user, rcpts, sys.stdin.buffer.read()); s.quit()
sys.exit(1 if refused else 0)
"#;
    let mut child = Command::new("python3")
        .args([
            "-c",
            script,
            &port.to_string(),
            login,
            password,
            &rcpts.join(","),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(message.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

pub fn addr(user: &str) -> String {
    format!("{user}@{DOMAIN}")
}

/// Submits a one-line message from `user` to `to` with curl over implicit TLS (smtps).
pub fn curl_submit(
    p: &Provider,
    user: &str,
    password: &str,
    to: &str,
    subject: &str,
) -> std::process::Output {
    let file = p.dir.path().join(format!("curl-{subject}.eml"));
    let body = format!(
        "From: {}\r\nTo: {}\r\nSubject: {subject}\r\n\r\nx\r\n",
        addr(user),
        addr(to)
    );
    std::fs::write(&file, body).unwrap();
    let url = format!("smtps://127.0.0.1:{}", p.submissions);
    let login = format!("{}:{password}", addr(user));
    run(
        "curl",
        &[
            "-sS",
            "-k",
            &url,
            "--mail-from",
            &addr(user),
            "--mail-rcpt",
            &addr(to),
            "--user",
            &login,
            "-T",
            &path(&file),
        ],
    )
}

/// Checks a stored message with `openssl smime -verify` and `gestore verify` against the
/// provider's dev CA; returns its kind and daticert consegna.
pub fn verified(p: &Provider, raw: &[u8]) -> (String, Option<String>) {
    verified_by(p, p, raw)
}

/// [`verified`] for a message `signer` signed, checked in `p`'s folder.
pub fn verified_by(p: &Provider, signer: &Provider, raw: &[u8]) -> (String, Option<String>) {
    let r = verified_json(p, signer, raw);
    (
        r["kind"].as_str().unwrap().to_string(),
        r["daticert"]["consegna"].as_str().map(str::to_string),
    )
}

/// [`verified_by`], returning all that `gestore verify --json` says of the message.
pub fn verified_json(p: &Provider, signer: &Provider, raw: &[u8]) -> Value {
    let file = p.dir.path().join("check.eml");
    std::fs::write(&file, raw).unwrap();
    let ca = path(&signer.data().join("pki/ca.pem"));
    if have("openssl") {
        let o = run(
            "openssl",
            &[
                "smime",
                "-verify",
                "-CAfile",
                &ca,
                "-in",
                &path(&file),
                "-out",
                "/dev/null",
            ],
        );
        assert!(o.status.success(), "openssl: {}", text(&o.stderr));
    }
    let trust = p.dir.path().join("trust");
    let _ = std::fs::remove_dir_all(&trust);
    std::fs::create_dir_all(&trust).unwrap();
    std::fs::copy(&ca, trust.join("ca.pem")).unwrap();
    let out = gestore(
        &[
            "verify",
            "--json",
            "--strict",
            "--trust",
            &path(&trust),
            &path(&file),
        ],
        None,
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(code(&out), 0, "{json}");
    json[0].clone()
}

/// The daticert.xml of a stored message, checked with `xmllint --dtdvalid` against our DTD
/// (when xmllint is here); returns its text.
pub fn daticert_valid(p: &Provider, raw: &[u8]) -> String {
    let file = p.dir.path().join("daticert-check.eml");
    std::fs::write(&file, raw).unwrap();
    let dir = p.dir.path().join("daticert-check");
    let _ = std::fs::remove_dir_all(&dir);
    let out = gestore(&["verify", "--extract", &path(&dir), &path(&file)], None);
    assert_eq!(code(&out), 0, "{}", text(&out.stdout));
    let daticert = dir.join("daticert.xml");
    if have("xmllint") {
        let dtd = concat!(env!("CARGO_MANIFEST_DIR"), "/../pec-core/daticert.dtd");
        let lint = run("xmllint", &["--noout", "--dtdvalid", dtd, &path(&daticert)]);
        assert!(lint.status.success(), "xmllint: {}", text(&lint.stderr));
    }
    std::fs::read_to_string(&daticert).unwrap()
}
