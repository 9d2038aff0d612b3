//! `gestore demo`: two providers in one process, each the other's peer (issue 5). Provider A
//! (`pec.demo-a.test`) and provider B (`pec.demo-b.test`) each have a dev PKI of their own,
//! find each other in one index file listing both, and relay to each other's receiving point
//! over STARTTLS by static routes. The demo sends one certified message each way through SMTP
//! submission and prints every receipt and envelope as it lands, with the provider that signed
//! it. It keeps serving until Ctrl-C, so ordinary mail clients can connect with the printed
//! passwords; `--once` stops when everything expected has arrived.

use crate::client;
use crate::config::Config;
use crate::server::{self, Running};
use anyhow::{bail, Context, Result};
use pec_core::inspect::{self, Inspection};
use pec_core::MessageKind;
use pec_provider::comune::indirizzo as address;
use pec_store::{Address, Store};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Arguments of `gestore demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Data folder of the demo: provider A in `a/`, provider B in `b/`, the index beside them.
    #[arg(long, default_value_os_t = crate::default_data_dir().join("demo"))]
    pub data: PathBuf,
    /// Port of SMTP submission with STARTTLS (0 picks a free one).
    #[arg(long, default_value_t = 10587, help_heading = HEADING_A)]
    pub submission_port: u16,
    /// Port of SMTP submission over implicit TLS (0 picks a free one).
    #[arg(long, default_value_t = 10465, help_heading = HEADING_A)]
    pub submissions_port: u16,
    /// Port of IMAP with STARTTLS (0 picks a free one).
    #[arg(long, default_value_t = 10143, help_heading = HEADING_A)]
    pub imap_port: u16,
    /// Port of IMAP over implicit TLS (0 picks a free one).
    #[arg(long, default_value_t = 10993, help_heading = HEADING_A)]
    pub imaps_port: u16,
    /// Port of POP3 with STLS (0 picks a free one).
    #[arg(long, default_value_t = 10110, help_heading = HEADING_A)]
    pub pop3_port: u16,
    /// Port of POP3 over implicit TLS (0 picks a free one).
    #[arg(long, default_value_t = 10995, help_heading = HEADING_A)]
    pub pop3s_port: u16,
    /// Port of the receiving point, where provider B relays (0 picks a free one).
    #[arg(long, default_value_t = 10025, help_heading = HEADING_A)]
    pub inbound_port: u16,
    /// Port of the webmail, HTTPS (0 picks a free one).
    #[arg(long, default_value_t = 10443, help_heading = HEADING_A)]
    pub web_port: u16,
    /// Port of SMTP submission with STARTTLS (0 picks a free one).
    #[arg(long, default_value_t = 11587, help_heading = HEADING_B)]
    pub b_submission_port: u16,
    /// Port of SMTP submission over implicit TLS (0 picks a free one).
    #[arg(long, default_value_t = 11465, help_heading = HEADING_B)]
    pub b_submissions_port: u16,
    /// Port of IMAP with STARTTLS (0 picks a free one).
    #[arg(long, default_value_t = 11143, help_heading = HEADING_B)]
    pub b_imap_port: u16,
    /// Port of IMAP over implicit TLS (0 picks a free one).
    #[arg(long, default_value_t = 11993, help_heading = HEADING_B)]
    pub b_imaps_port: u16,
    /// Port of POP3 with STLS (0 picks a free one).
    #[arg(long, default_value_t = 11110, help_heading = HEADING_B)]
    pub b_pop3_port: u16,
    /// Port of POP3 over implicit TLS (0 picks a free one).
    #[arg(long, default_value_t = 11995, help_heading = HEADING_B)]
    pub b_pop3s_port: u16,
    /// Port of the receiving point, where provider A relays (0 picks a free one).
    #[arg(long, default_value_t = 11025, help_heading = HEADING_B)]
    pub b_inbound_port: u16,
    /// Port of the webmail, HTTPS (0 picks a free one).
    #[arg(long, default_value_t = 11443, help_heading = HEADING_B)]
    pub b_web_port: u16,
    /// Stop once both messages' receipts have arrived (an error after 60 s) instead of
    /// serving until Ctrl-C.
    #[arg(long)]
    pub once: bool,
}

const HEADING_A: &str = "Provider A (pec.demo-a.test) ports";
const HEADING_B: &str = "Provider B (pec.demo-b.test) ports";

/// How long `--once` waits for every receipt.
const ONCE_TIMEOUT: Duration = Duration::from_secs(60);

/// One of the two demo providers.
struct Demo {
    /// Its folder under `--data`.
    folder: &'static str,
    /// daticert gestore-emittente and the signing certificate's O.
    name: &'static str,
    domain: &'static str,
    /// Its users' boxes (the service box is made by the provider itself).
    boxes: [&'static str; 2],
}

const A: Demo = Demo {
    folder: "a",
    name: "Gestore Demo A S.p.A.",
    domain: "pec.demo-a.test",
    boxes: ["mario.rossi", "giulia.neri"],
};
const B: Demo = Demo {
    folder: "b",
    name: "Gestore Demo B S.p.A.",
    domain: "pec.demo-b.test",
    boxes: ["anna.bianchi", "luca.verdi"],
};

impl Demo {
    fn service_address(&self) -> String {
        format!("posta-certificata@{}", self.domain)
    }

    fn address(&self, name: &str) -> Result<Address> {
        Ok(address(&format!("{name}@{}", self.domain))?)
    }
}

/// One provider's listening ports, as asked on the command line.
#[derive(Clone, Copy)]
struct Ports {
    submission: u16,
    submissions: u16,
    imap: u16,
    imaps: u16,
    pop3: u16,
    pop3s: u16,
    inbound: u16,
    web: u16,
}

impl Args {
    fn ports(&self) -> [Ports; 2] {
        [
            Ports {
                submission: self.submission_port,
                submissions: self.submissions_port,
                imap: self.imap_port,
                imaps: self.imaps_port,
                pop3: self.pop3_port,
                pop3s: self.pop3s_port,
                inbound: self.inbound_port,
                web: self.web_port,
            },
            Ports {
                submission: self.b_submission_port,
                submissions: self.b_submissions_port,
                imap: self.b_imap_port,
                imaps: self.b_imaps_port,
                pop3: self.b_pop3_port,
                pop3s: self.b_pop3s_port,
                inbound: self.b_inbound_port,
                web: self.b_web_port,
            },
        ]
    }
}

/// One provider's configuration; `extra` adds whole sections.
fn config(p: &Demo, ports: &Ports, data: &Path, extra: &str) -> Result<Config> {
    let text = format!(
        r#"
[provider]
name = "{}"
service_address = "{}"
domains = ["{}"]
[listen]
submission = "127.0.0.1:{}"
submissions = "127.0.0.1:{}"
imap = "127.0.0.1:{}"
imaps = "127.0.0.1:{}"
pop3 = "127.0.0.1:{}"
pop3s = "127.0.0.1:{}"
inbound = "127.0.0.1:{}"
web = "127.0.0.1:{}"
[data]
dir = {:?}
{extra}"#,
        p.name,
        p.service_address(),
        p.domain,
        ports.submission,
        ports.submissions,
        ports.imap,
        ports.imaps,
        ports.pop3,
        ports.pop3s,
        ports.inbound,
        ports.web,
        data.to_string_lossy()
    );
    Config::parse(&text, data).map_err(Into::into)
}

/// Both configurations. Each names the other's receiving point and dev TLS certificate, and
/// the index that lists both signing certificates: so the receiving ports are chosen (a free
/// one for 0), the PKIs and TLS certificates made and the index written before either starts.
fn configs(args: &Args) -> Result<[Config; 2]> {
    let root = std::path::absolute(&args.data).context("data folder")?;
    let mut ports = args.ports();
    // Held until both are chosen, so the two cannot get the same free port.
    let mut held = Vec::new();
    for p in &mut ports {
        if p.inbound == 0 {
            let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).context("no free port")?;
            p.inbound = listener.local_addr()?.port();
            held.push(listener);
        }
    }
    drop(held);
    let sides = [(&A, root.join(A.folder)), (&B, root.join(B.folder))];
    let mut ldif = String::from("version: 1\n\n");
    for (i, (p, data)) in sides.iter().enumerate() {
        pec_store::prepare_data_dir(data)?;
        let plain = config(p, &ports[i], data, "")?;
        pec_listen::tls::dev_tls(&data.join("tls"), &plain.tls_hostnames)
            .context("the dev TLS certificate")?;
        ldif.push_str(&super::index::export(&plain, false)?);
    }
    let index = root.join("providers.ldif");
    std::fs::write(&index, ldif).with_context(|| format!("cannot write {}", index.display()))?;
    let full = |me: usize| {
        let ((p, data), (other, other_data)) = (&sides[me], &sides[1 - me]);
        let extra = format!(
            "[index]\nfile = {:?}\n[relay]\nmx = false\ntls_roots = [{:?}]\n\
             routes = {{ {:?} = \"localhost:{}\" }}\n",
            index.to_string_lossy(),
            other_data.join("tls/dev-smtp-cert.pem").to_string_lossy(),
            other.domain,
            ports[1 - me].inbound
        );
        config(p, &ports[me], data, &extra)
    };
    Ok([full(0)?, full(1)?])
}

/// Runs the demo.
pub fn run(args: &Args) -> Result<()> {
    let [config_a, config_b] = configs(args)?;
    super::serve::runtime()?.block_on(async move {
        let a = start(config_a).await?;
        let b = match start(config_b).await {
            Ok(b) => b,
            Err(e) => {
                a.stop().await;
                return Err(e);
            }
        };
        let result = demo(args, &a, &b).await;
        tokio::join!(a.stop(), b.stop());
        result
    })
}

async fn start(config: Config) -> Result<Running> {
    let running = server::start(config).await?;
    // The demo prints messages as they arrive instead of the operator's event trail.
    running.gestore.registro().traccia(false);
    Ok(running)
}

/// Everything after both providers started: boxes, how to connect, the two messages and
/// their receipts.
async fn demo(args: &Args, a: &Running, b: &Running) -> Result<()> {
    let boxes_a = make_boxes(a, &A).await?;
    let boxes_b = make_boxes(b, &B).await?;
    describe(&A, a, &boxes_a)?;
    describe(&B, b, &boxes_b)?;
    let index = a.config.index_file.clone().unwrap_or_default();
    let port = |r: &Running| r.inbound.map(|s| s.port()).unwrap_or_default();
    println!(
        "the providers know each other from {} and relay with STARTTLS, each trusting the \
         other's dev certificate:\n\
         \x20 {} -> localhost:{} ({})\n\
         \x20 {} -> localhost:{} ({})\n",
        index.display(),
        A.domain,
        port(b),
        B.name,
        B.domain,
        port(a),
        A.name
    );
    println!("ready\n");
    let (mario, anna, luca) = (&boxes_a[0], &boxes_b[0], &boxes_b[1]);
    let mut watch = Watch::new(a, b, &boxes_a, &boxes_b)?;
    // Messages of an earlier run in the same data folder are neither printed nor counted.
    watch.skip_existing().await?;
    send(a, mario, &anna.0, Some(&luca.0), "Prima PEC della demo").await?;
    send(b, anna, &mario.0, None, "Risposta della demo").await?;

    println!("\nwhat arrives, and which provider signed it:");
    let deadline = Instant::now() + ONCE_TIMEOUT;
    loop {
        watch.poll().await?;
        if args.once && watch.missing().is_empty() {
            println!("\nevery receipt arrived");
            return Ok(());
        }
        if args.once && Instant::now() >= deadline {
            bail!(
                "not everything arrived within {} s; still missing: {}",
                ONCE_TIMEOUT.as_secs(),
                watch.missing().join("; ")
            );
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = super::serve::wait_for_signal() => return Ok(()),
        }
    }
}

/// The provider's demo boxes with fresh passwords (made on first run, reset on later ones).
async fn make_boxes(running: &Running, p: &Demo) -> Result<Vec<(Address, String)>> {
    let store = &running.gestore.store();
    let mut boxes = Vec::new();
    for name in p.boxes {
        let a = p.address(name)?;
        let password = super::mailbox::generate_password();
        if store.mailbox(&a).await?.is_some() {
            store.set_password(&a, &password).await?;
        } else {
            store.add_mailbox(&a, &password, 1 << 30).await?;
        }
        boxes.push((a, password));
    }
    Ok(boxes)
}

/// Prints a provider's listeners, boxes and how a mail client connects to it.
fn describe(p: &Demo, running: &Running, boxes: &[(Address, String)]) -> Result<()> {
    println!(
        "{} ({}), data {}",
        p.name,
        p.domain,
        running.config.data_dir.display()
    );
    let listeners = [
        ("submission", running.submission, "STARTTLS"),
        ("submissions", running.submissions, "implicit TLS"),
        ("imap", running.imap, "STARTTLS"),
        ("imaps", running.imaps, "implicit TLS"),
        ("pop3", running.pop3, "STLS"),
        ("pop3s", running.pop3s, "implicit TLS"),
        (
            "inbound",
            running.inbound,
            "STARTTLS, from the other provider",
        ),
        ("web", running.web, "HTTPS webmail"),
    ];
    for (name, a, tls) in listeners {
        if let Some(a) = a {
            println!("  listening {name} {a} ({tls})");
        }
    }
    let Some(smtp) = running.submission else {
        bail!("the demo needs the STARTTLS submission listener");
    };
    println!("  boxes:");
    for (a, pw) in boxes {
        println!("    {:<30} password {pw}", a.as_str());
    }
    let port = |a: Option<SocketAddr>| {
        a.map(|a| a.port().to_string())
            .unwrap_or_else(|| "off".into())
    };
    println!(
        "  connect a mail client to host 127.0.0.1, user = the box address, password as above\n\
         \x20 (the TLS certificate is a self-signed dev one: accept it in the client):\n\
         \x20   sending (SMTP submission): port {} (STARTTLS) or {} (TLS)\n\
         \x20   reading (IMAP):            port {} (STARTTLS) or {} (TLS)\n\
         \x20   reading (POP3):            port {} (STLS) or {} (TLS)\n\
         \x20 e.g. curl --insecure imaps://127.0.0.1:{}/INBOX -u {}:{}\n\
         \x20 webmail: {} (the same dev certificate: accept it in the browser)\n",
        smtp.port(),
        port(running.submissions),
        port(running.imap),
        port(running.imaps),
        port(running.pop3),
        port(running.pop3s),
        port(running.imaps),
        boxes[0].0,
        boxes[0].1,
        running
            .web
            .map(|a| format!("https://{a}/"))
            .unwrap_or_else(|| "off".into()),
    );
    Ok(())
}

/// Submits one message from `from` (a box of `running`) to `to`, and `cc` if given.
async fn send(
    running: &Running,
    from: &(Address, String),
    to: &Address,
    cc: Option<&Address>,
    subject: &str,
) -> Result<()> {
    let Some(smtp) = running.submission else {
        bail!("the demo needs the STARTTLS submission listener");
    };
    let (sender, password) = from;
    let cc_header = cc.map(|c| format!("Cc: {c}\r\n")).unwrap_or_default();
    let body = format!(
        "From: {sender}\r\nTo: {to}\r\n{cc_header}Subject: {subject}\r\n\
         Message-ID: <demo.{}.{}@client.example>\r\nX-TipoRicevuta: completa\r\n\r\n\
         Buongiorno, questo messaggio ha valore legale.\r\n",
        chrono::Utc::now().timestamp_millis(),
        sender.as_str().split('@').next().unwrap_or_default()
    );
    let recipients: Vec<String> = std::iter::once(to)
        .chain(cc)
        .map(|a| a.to_string())
        .collect();
    let mut session = client::Session::connect(smtp, sender.as_str(), password).await?;
    session.send(&recipients, body.as_bytes()).await?;
    session.quit().await;
    let cc_text = cc.map(|c| format!(" and {c} (Cc)")).unwrap_or_default();
    println!("{sender} sent \"{subject}\" to {to} (To){cc_text}");
    Ok(())
}

/// One message the demo waits for in one box.
struct Expected {
    address: Address,
    /// What it is, in words, for the list of what is missing.
    label: &'static str,
    /// Any of these kinds (a delivery receipt is completa, breve or sintetica).
    kinds: &'static [MessageKind],
    /// The recipient it is about (daticert consegna or ricezione), when it names one.
    about: Option<Address>,
    /// The provider that must sign it (daticert gestore-emittente).
    signer: &'static str,
    arrived: bool,
}

impl Expected {
    fn new(
        address: &Address,
        label: &'static str,
        kinds: &'static [MessageKind],
        about: Option<&Address>,
        signer: &Demo,
    ) -> Self {
        Expected {
            address: address.clone(),
            label,
            kinds,
            about: about.cloned(),
            signer: signer.name,
            arrived: false,
        }
    }

    fn matches(&self, address: &Address, ins: &Inspection) -> bool {
        let Some(Ok(d)) = &ins.daticert else {
            return false;
        };
        let about = |r: &Address| {
            let r = r.as_str();
            let same = |x: &String| x.eq_ignore_ascii_case(r);
            d.dati.consegna.iter().any(same) || d.dati.ricezione.iter().any(same)
        };
        !self.arrived
            && &self.address == address
            && self.kinds.contains(&ins.kind)
            && d.dati.gestore_emittente == self.signer
            && self.about.as_ref().is_none_or(about)
    }
}

/// The watched boxes of both providers: prints what lands and ticks off what was expected.
struct Watch<'a> {
    boxes: Vec<(&'a Running, Address)>,
    seen: HashSet<(Address, u32)>,
    expected: Vec<Expected>,
}

const ACCETTAZIONE: &[MessageKind] = &[MessageKind::Accettazione];
const BUSTA: &[MessageKind] = &[MessageKind::BustaTrasporto];
const PRESA: &[MessageKind] = &[MessageKind::PresaInCarico];
const CONSEGNA: &[MessageKind] = &[
    MessageKind::ConsegnaCompleta,
    MessageKind::ConsegnaBreve,
    MessageKind::ConsegnaSintetica,
];

impl<'a> Watch<'a> {
    /// What mario's message to anna and luca and anna's answer must bring: to each sender its
    /// acceptance and a delivery receipt per recipient, to each recipient the envelope, and to
    /// the sending provider's service box a presa in carico covering each recipient.
    fn new(
        a: &'a Running,
        b: &'a Running,
        boxes_a: &[(Address, String)],
        boxes_b: &[(Address, String)],
    ) -> Result<Self> {
        let service_a = address(&A.service_address())?;
        let service_b = address(&B.service_address())?;
        let (mario, anna, luca) = (&boxes_a[0].0, &boxes_b[0].0, &boxes_b[1].0);
        let (acc, busta) = ("ricevuta di accettazione", "busta di trasporto");
        let (consegna, presa) = (
            "ricevuta di avvenuta consegna",
            "ricevuta di presa in carico",
        );
        let expected = vec![
            Expected::new(mario, acc, ACCETTAZIONE, None, &A),
            Expected::new(mario, consegna, CONSEGNA, Some(anna), &B),
            Expected::new(mario, consegna, CONSEGNA, Some(luca), &B),
            Expected::new(&service_a, presa, PRESA, Some(anna), &B),
            Expected::new(&service_a, presa, PRESA, Some(luca), &B),
            Expected::new(anna, busta, BUSTA, None, &A),
            Expected::new(luca, busta, BUSTA, None, &A),
            Expected::new(anna, acc, ACCETTAZIONE, None, &B),
            Expected::new(anna, consegna, CONSEGNA, Some(mario), &A),
            Expected::new(&service_b, presa, PRESA, Some(mario), &A),
            Expected::new(mario, busta, BUSTA, None, &B),
        ];
        let mut boxes = Vec::new();
        for (running, own, service) in [(a, boxes_a, service_a), (b, boxes_b, service_b)] {
            boxes.extend(own.iter().map(|(x, _)| (running, x.clone())));
            boxes.push((running, service));
        }
        Ok(Watch {
            boxes,
            seen: HashSet::new(),
            expected,
        })
    }

    /// Marks what the watched boxes hold already as seen.
    async fn skip_existing(&mut self) -> Result<()> {
        for (running, a) in &self.boxes {
            for m in running.gestore.store().list_messages(a, "INBOX").await? {
                self.seen.insert((a.clone(), m.uid));
            }
        }
        Ok(())
    }

    /// Prints every message new in a watched INBOX and ticks off what it was expected as.
    async fn poll(&mut self) -> Result<()> {
        let width = self.boxes.iter().map(|(_, a)| a.as_str().len()).max();
        for (running, a) in &self.boxes {
            let store = &running.gestore.store();
            for m in store.list_messages(a, "INBOX").await? {
                if !self.seen.insert((a.clone(), m.uid)) {
                    continue;
                }
                let Some(fetched) = store.fetch_message(a, "INBOX", m.uid).await? else {
                    continue;
                };
                let ins = inspect::inspect(&fetched.bytes)?;
                let width = width.unwrap_or_default();
                println!("  {:<width$} <- {}", a.as_str(), summary(&ins));
                let mut first = true;
                for e in &mut self.expected {
                    // One message may cover several recipients, but only one unnamed item.
                    if e.matches(a, &ins) && (e.about.is_some() || std::mem::take(&mut first)) {
                        e.arrived = true;
                    }
                }
            }
        }
        Ok(())
    }

    /// What has not arrived yet, e.g. "mario.rossi@pec.demo-a.test: ricevuta di avvenuta
    /// consegna for anna.bianchi@pec.demo-b.test signed by Gestore Demo B S.p.A.".
    fn missing(&self) -> Vec<String> {
        self.expected
            .iter()
            .filter(|e| !e.arrived)
            .map(|e| {
                let about = e
                    .about
                    .as_ref()
                    .map(|r| format!(" for {r}"))
                    .unwrap_or_default();
                format!("{}: {}{about} signed by {}", e.address, e.label, e.signer)
            })
            .collect()
    }
}

/// "ricevuta di avvenuta consegna completa for anna.bianchi@… (Gestore Demo B S.p.A.)": the
/// kind, whom it is about, and who signed it (daticert gestore-emittente).
fn summary(ins: &Inspection) -> String {
    let daticert = ins.daticert.as_ref().and_then(|d| d.as_ref().ok());
    let about = match daticert {
        Some(d)
            if matches!(
                ins.kind,
                MessageKind::BustaTrasporto | MessageKind::BustaAnomalia
            ) =>
        {
            format!(" from {}", d.intestazione.mittente)
        }
        Some(d) => match &d.dati.consegna {
            Some(consegna) => format!(" for {consegna}"),
            None if !d.dati.ricezione.is_empty() => format!(" for {}", d.dati.ricezione.join(", ")),
            None => String::new(),
        },
        None => String::new(),
    };
    let signer = daticert
        .map(|d| format!(" ({})", d.dati.gestore_emittente))
        .unwrap_or_default();
    format!("{}{about}{signer}", ins.kind.descrizione())
}
