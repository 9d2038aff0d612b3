//! `gestore`: the binary. It parses the command line and wires the libraries; it holds no
//! PEC rule of its own (those live in `pec-core`, the pipeline in `pec-provider`, signatures
//! in `pec-smime`).

mod client;
mod cmd;
mod config;
mod server;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// gestore — a PEC (Posta Elettronica Certificata) provider.
#[derive(Parser)]
#[command(name = "gestore", version, about, long_about = None)]
struct Cli {
    /// How diagnostics are written on standard error: `text` lines, or one JSON object per
    /// line for a log collector. The legal log is separate: it is data in the store.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// `--log-format`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Diagnostics through `tracing` on standard error, at `info` unless `GESTORE_LOG` says
/// otherwise (an `EnvFilter` such as `warn` or `pec_provider=debug`); failed logins
/// (`gestore::auth`, what fail2ban reads) are always written. Spans carry the session's peer
/// and the PEC msgid of what is being handled.
fn diagnostics(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let mut filter =
        EnvFilter::try_from_env("GESTORE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    if let Ok(auth) = "gestore::auth=warn".parse() {
        filter = filter.add_directive(auth);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| OneLine(std::io::stderr()))
        .with_ansi(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
    };
}

/// Standard error, one line per event whatever the event carries: a line break or another
/// control character inside one (a peer's multi-line reply quoted in a warning) becomes a
/// space, so nobody can start a
/// line of their own in the log that fail2ban or an operator would read as ours. The
/// formatter writes each event with one `write` of the whole line.
struct OneLine<W>(W);

impl<W: std::io::Write> std::io::Write for OneLine<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let (body, end) = match buf.strip_suffix(b"\n") {
            Some(body) => (body, &b"\n"[..]),
            None => (buf, &b""[..]),
        };
        let mut line: Vec<u8> = body
            .iter()
            .map(|&b| {
                if b < 0x20 && b != b'\t' || b == 0x7f {
                    b' '
                } else {
                    b
                }
            })
            .collect();
        line.extend_from_slice(end);
        self.0.write_all(&line)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[derive(Subcommand)]
enum Command {
    /// Development PKI: a test CA and a provider signing certificate.
    Pki {
        #[command(subcommand)]
        command: PkiCommand,
    },
    /// Write one signed example of a PEC message kind.
    Sample(cmd::sample::Args),
    /// Check PEC messages and receipts: kind, signature, daticert; extract the original.
    Verify(cmd::verify::Args),
    /// Run the provider: SMTP submission, access point, delivery point, store, log.
    Serve(cmd::serve::Args),
    /// Measure certified messages per second end to end over loopback SMTP.
    Bench(cmd::bench::Args),
    /// Manage boxes: add, list, passwd, quota, disable, enable, remove.
    Mailbox(cmd::mailbox::Args),
    /// The legal log: search events, verify the hash chain.
    Log(cmd::log::Args),
    /// The store: a full integrity check of the data folder.
    Store(cmd::store::Args),
    /// The configuration file: a documented example, or a check of a file.
    Config {
        #[command(subcommand)]
        command: cmd::config::Command,
    },
    /// The providers' index: show it, look a domain up, export our own record.
    Index(cmd::index::Args),
    /// Move a running provider's clock forward (tests and demos of the 12 h / 24 h rules).
    Clock(cmd::clock::Args),
    /// Two providers on loopback exchanging a certified message each way, with every receipt.
    Demo(cmd::demo::Args),
}

#[derive(Subcommand)]
enum PkiCommand {
    /// Create a test CA and a provider signing certificate (PEC-SPEC §7.4 profile) in DIR.
    Init(cmd::pki::InitArgs),
}

/// Exit code for usage and operational errors (bad arguments, unwritable output).
const EXIT_FAILURE: u8 = 3;

fn main() -> ExitCode {
    bound_allocator();
    private_files();
    let cli = Cli::parse();
    diagnostics(cli.log_format);
    let result = match cli.command {
        Command::Pki {
            command: PkiCommand::Init(args),
        } => cmd::pki::init(&args).map(|()| ExitCode::SUCCESS),
        Command::Sample(args) => cmd::sample::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Verify(args) => cmd::verify::run(&args),
        Command::Serve(args) => cmd::serve::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Bench(args) => cmd::bench::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Mailbox(args) => cmd::mailbox::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Log(args) => cmd::log::run(&args),
        Command::Store(args) => cmd::store::run(&args),
        Command::Config { command } => cmd::config::run(&command).map(|()| ExitCode::SUCCESS),
        Command::Demo(args) => cmd::demo::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Index(args) => cmd::index::run(&args),
        Command::Clock(args) => cmd::clock::run(&args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gestore: {}", one_line(&e));
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Large buffers (argon2's 19 MiB per password hash, big messages) are mapped and unmapped
/// instead of being kept in glibc's per-thread arenas, which otherwise grow with the dynamic
/// mmap threshold and never shrink: peak memory of `gestore bench` falls from ~600 MB to ~60 MB.
fn bound_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocator parameters; it is called first thing in
    // main, before any other thread exists, and a failure (return 0) leaves the defaults.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Everything gestore writes (data folder, keys, messages, the log, exported files) is for
/// its own user only, whatever umask it was started with (issue 12, item 4): files `0600`,
/// folders `0700`.
fn private_files() {
    // SAFETY: umask only sets this process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// An error and its causes on one line, as operators grep logs by line.
fn one_line(e: &anyhow::Error) -> String {
    e.chain()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ")
        .replace(['\n', '\r'], " ")
}

/// Where the dev PKI lives when none is given.
fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

#[cfg(test)]
mod tests {
    use super::OneLine;
    use std::io::Write;

    #[test]
    fn an_event_is_one_line_whatever_it_quotes() {
        let mut out = OneLine(Vec::new());
        out.write_all(
            b"WARN relay: 451 x\r\n2026 WARN session{}: gestore::auth: auth failed\x1b[0m\n",
        )
        .unwrap();
        out.write_all(b"no end").unwrap();
        assert_eq!(
            String::from_utf8(out.0).unwrap(),
            "WARN relay: 451 x  2026 WARN session{}: gestore::auth: auth failed [0m\nno end"
        );
    }
}
