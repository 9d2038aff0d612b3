//! `gestore verify`: what a PEC message is, whether its signature holds, what its daticert
//! says; optionally extract the original and its attachments.
//!
//! Exit codes (one per file; with several files the gravest wins, in the order 1, 3, 2, 4):
//! 0 signature intact, 1 tampered, 2 unsigned, 3 unreadable input, 4 (with `--strict`) intact
//! but signed by an untrusted or invalid certificate.

use anyhow::{Context, Result};
use pec_core::daticert::Daticert;
use pec_core::inspect::{self, Inspection};
use pec_smime::{TrustStore, Verification, VerifyError};
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `gestore verify`.
#[derive(clap::Args)]
pub struct Args {
    /// Directory of trusted CA certificates (PEM or DER). Without it no signer is trusted.
    #[arg(long)]
    pub trust: Option<PathBuf>,
    /// Print JSON (an array, one object per file) instead of the readable summary.
    #[arg(long)]
    pub json: bool,
    /// Exit 4 when a signature is intact but its certificate is untrusted or invalid.
    #[arg(long)]
    pub strict: bool,
    /// Write postacert.eml, daticert.xml and the original's attachments into this directory
    /// (one sub-directory per file when several are given).
    #[arg(long)]
    pub extract: Option<PathBuf>,
    /// Messages to check; `-` reads standard input.
    #[arg(required = true)]
    pub files: Vec<String>,
}

/// The outcome of one file, ordered by gravity for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Signature intact (and, with --strict, trusted and valid).
    Intact = 0,
    /// Signature does not match the content.
    Tampered = 1,
    /// No signature.
    Unsigned = 2,
    /// Not a message we can read.
    Unreadable = 3,
    /// Intact, but the certificate is untrusted or invalid (only with --strict).
    Untrusted = 4,
}

impl Outcome {
    fn gravity(self) -> u8 {
        match self {
            Outcome::Tampered => 4,
            Outcome::Unreadable => 3,
            Outcome::Unsigned => 2,
            Outcome::Untrusted => 1,
            Outcome::Intact => 0,
        }
    }
}

/// Runs the command.
pub fn run(args: &Args) -> Result<ExitCode> {
    let trust = match &args.trust {
        Some(dir) => TrustStore::from_dir(dir)
            .with_context(|| format!("cannot read trusted certificates in {}", dir.display()))?,
        None => TrustStore::new(),
    };
    let now = chrono::Utc::now();
    let mut worst = Outcome::Intact;
    let mut reports = Vec::new();
    for file in &args.files {
        let report = check_file(file, &trust, now, args.strict);
        if let (Some(dir), Some(ins)) = (&args.extract, &report.inspection) {
            let dir = if args.files.len() > 1 {
                dir.join(stem(file))
            } else {
                dir.clone()
            };
            extract(ins, &dir)?;
        }
        if report.outcome.gravity() > worst.gravity() {
            worst = report.outcome;
        }
        if args.json {
            reports.push(report.to_json());
        } else {
            print!("{}", report.to_text());
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&Value::Array(reports))?);
    }
    Ok(ExitCode::from(worst as u8))
}

/// Everything learnt about one file.
pub struct Report {
    /// The file name as given.
    pub file: String,
    /// The verdict.
    pub outcome: Outcome,
    /// Why the file is unreadable or unsigned, in one line.
    pub reason: Option<String>,
    /// The signature check, when there was a signature.
    pub verification: Option<Verification>,
    /// The structure, when the file is a message.
    pub inspection: Option<Inspection>,
}

fn check_file(
    file: &str,
    trust: &TrustStore,
    now: chrono::DateTime<chrono::Utc>,
    strict: bool,
) -> Report {
    let mut report = Report {
        file: file.to_string(),
        outcome: Outcome::Unreadable,
        reason: None,
        verification: None,
        inspection: None,
    };
    let raw = match read_input(file) {
        Ok(raw) => raw,
        Err(e) => {
            report.reason = Some(format!("{e:#}"));
            return report;
        }
    };
    match inspect::inspect(&raw) {
        Ok(ins) => report.inspection = Some(ins),
        Err(e) => {
            report.reason = Some(e.to_string());
            return report;
        }
    }
    match pec_smime::verify(&raw, trust, now) {
        Ok(v) => {
            report.outcome = if !v.intact {
                Outcome::Tampered
            } else if strict && !certificate_ok(&v) {
                Outcome::Untrusted
            } else {
                Outcome::Intact
            };
            report.verification = Some(v);
        }
        Err(VerifyError::Unsigned) => {
            report.outcome = Outcome::Unsigned;
            report.reason = Some("the message carries no S/MIME signature".into());
        }
        Err(e) => {
            report.outcome = Outcome::Unreadable;
            report.reason = Some(e.to_string());
        }
    }
    report
}

/// Trusted, chain valid, and valid when signed (or now, when the signing time is unknown).
fn certificate_ok(v: &Verification) -> bool {
    v.trusted && v.chain_valid && v.valid_at_signing.unwrap_or(v.valid_now)
}

fn read_input(file: &str) -> Result<Vec<u8>> {
    let limit = inspect::MAX_MESSAGE_SIZE as u64 + 1;
    let mut raw = Vec::new();
    if file == "-" {
        std::io::stdin()
            .take(limit)
            .read_to_end(&mut raw)
            .context("cannot read standard input")?;
    } else {
        std::fs::File::open(file)
            .and_then(|f| f.take(limit).read_to_end(&mut raw))
            .with_context(|| format!("cannot read {file}"))?;
    }
    Ok(raw)
}

fn stem(file: &str) -> String {
    let name = Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "stdin".into());
    safe_name(&name).unwrap_or_else(|| "message".into())
}

/// A file name safe to create in the extraction directory: no path, no dot-dot, no control.
fn safe_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base
        .chars()
        .map(|c| if c.is_control() || c == ':' { '_' } else { c })
        .collect();
    let clean = clean.trim().trim_start_matches('.').to_string();
    (!clean.is_empty()).then_some(clean)
}

fn extract(ins: &Inspection, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))
    };
    if let Some(xml) = &ins.daticert_xml {
        write("daticert.xml", xml)?;
    }
    let Some(original) = &ins.postacert else {
        return Ok(());
    };
    write("postacert.eml", original)?;
    let mut used = std::collections::HashSet::new();
    for (i, a) in inspect::allegati(original).into_iter().enumerate() {
        let mut name = a
            .nome
            .as_deref()
            .and_then(safe_name)
            .unwrap_or_else(|| format!("allegato-{}", i + 1));
        if name.eq_ignore_ascii_case("postacert.eml")
            || name.eq_ignore_ascii_case("daticert.xml")
            || !used.insert(name.to_ascii_lowercase())
        {
            name = format!("{}-{}", i + 1, name);
            used.insert(name.to_ascii_lowercase());
        }
        write(&name, &a.contenuto)?;
    }
    Ok(())
}

impl Report {
    fn verdict(&self) -> &'static str {
        match self.outcome {
            Outcome::Intact => "intact",
            Outcome::Tampered => "tampered",
            Outcome::Unsigned => "unsigned",
            Outcome::Unreadable => "unreadable",
            Outcome::Untrusted => "intact-untrusted",
        }
    }

    /// The readable summary.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}\n", self.file);
        let mut line = |k: &str, v: &str| out.push_str(&format!("  {k:<15} {v}\n"));
        line("verdict:", self.verdict());
        if let Some(reason) = &self.reason {
            line("reason:", reason);
        }
        if let Some(ins) = &self.inspection {
            line(
                "kind:",
                &format!("{} ({})", ins.kind.descrizione(), ins.kind.name()),
            );
            if let Some(s) = &ins.subject {
                line("subject:", s);
            }
        }
        if let Some(v) = &self.verification {
            line("signature:", &signature_text(v));
            if let Some(s) = &v.signer {
                line(
                    "signer:",
                    &format!("{} <{}>", s.subject, s.emails.join(", ")),
                );
                line(
                    "certificate:",
                    &format!(
                        "issued by {}, valid {} to {}, SHA-1 {}",
                        s.issuer,
                        s.not_before.format("%Y-%m-%d"),
                        s.not_after.format("%Y-%m-%d"),
                        s.sha1_fingerprint
                    ),
                );
            }
        }
        if let Some(ins) = &self.inspection {
            match &ins.daticert {
                Some(Ok(d)) => daticert_text(d, &mut line),
                Some(Err(e)) => line("daticert:", e),
                None => line("daticert:", "none"),
            }
            if ins.postacert.is_some() {
                line("original:", "postacert.eml attached");
            }
        }
        out
    }

    /// The JSON object for programs.
    pub fn to_json(&self) -> Value {
        let ins = self.inspection.as_ref();
        json!({
            "file": self.file,
            "verdict": self.verdict(),
            "exit_code": self.outcome as u8,
            "reason": self.reason,
            "kind": ins.map(|i| i.kind.name()),
            "headers": ins.map(|i| json!({
                "subject": i.subject, "from": i.from, "to": i.to, "date": i.date,
                "message_id": i.message_id,
                "x_riferimento_message_id": i.riferimento_message_id,
                "x_tipo_ricevuta": i.tipo_ricevuta, "x_mittente": i.x_mittente,
            })),
            "signature": self.verification.as_ref().map(signature_json),
            "daticert": ins.and_then(|i| i.daticert.as_ref()).map(|d| match d {
                Ok(d) => daticert_json(d),
                Err(e) => json!({ "error": e }),
            }),
            "postacert": ins.map(|i| i.postacert.is_some()),
        })
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn signature_text(v: &Verification) -> String {
    let at_signing = match v.valid_at_signing {
        Some(b) => yes_no(b),
        None => "unknown (no signing time)",
    };
    format!(
        "{} ({}); signed {}; signer trusted: {}; chain valid: {}; certificate valid at signing: {}; valid now: {}",
        if v.intact { "intact" } else { "TAMPERED" },
        v.digest_algorithm,
        v.signing_time.map(|t| t.to_rfc3339()).unwrap_or_else(|| "at an unknown time".into()),
        yes_no(v.trusted),
        yes_no(v.chain_valid),
        at_signing,
        yes_no(v.valid_now),
    )
}

fn signature_json(v: &Verification) -> Value {
    json!({
        "intact": v.intact,
        "digest_algorithm": v.digest_algorithm,
        "signing_time": v.signing_time.map(|t| t.to_rfc3339()),
        "trusted": v.trusted,
        "chain_valid": v.chain_valid,
        "valid_at_signing": v.valid_at_signing,
        "valid_now": v.valid_now,
        "signer": v.signer.as_ref().map(|s| json!({
            "subject": s.subject, "issuer": s.issuer, "serial": s.serial_hex, "emails": s.emails,
            "not_before": s.not_before.to_rfc3339(), "not_after": s.not_after.to_rfc3339(),
            "sha1_fingerprint": s.sha1_fingerprint, "sha256_fingerprint": s.sha256_fingerprint,
        })),
    })
}

fn daticert_text(d: &Daticert, line: &mut impl FnMut(&str, &str)) {
    let i = &d.intestazione;
    let x = &d.dati;
    line("tipo:", &format!("{} (errore: {})", d.tipo, d.errore));
    line("provider:", &x.gestore_emittente);
    line("date:", &x.data.testo());
    line("sender:", &i.mittente);
    for dest in &i.destinatari {
        line("recipient:", &format!("{} ({})", dest.indirizzo, dest.tipo));
    }
    line("reply-to:", &i.risposte);
    if let Some(o) = &i.oggetto {
        line("oggetto:", o);
    }
    line("identificativo:", &x.identificativo);
    if let Some(m) = &x.msgid {
        line("msgid:", m);
    }
    if let Some(r) = &x.ricevuta {
        line("receipt kind:", r.as_str());
    }
    if let Some(c) = &x.consegna {
        line("delivered to:", c);
    }
    for r in &x.ricezione {
        line("taken for:", r);
    }
    if let Some(e) = &x.errore_esteso {
        line("error:", e);
    }
}

fn daticert_json(d: &Daticert) -> Value {
    let i = &d.intestazione;
    let x = &d.dati;
    json!({
        "tipo": d.tipo.as_str(),
        "errore": d.errore.as_str(),
        "mittente": i.mittente,
        "destinatari": i.destinatari.iter().map(|r| json!({"indirizzo": r.indirizzo, "tipo": r.tipo.as_str()})).collect::<Vec<_>>(),
        "risposte": i.risposte,
        "oggetto": i.oggetto,
        "gestore_emittente": x.gestore_emittente,
        "data": x.data.local().to_rfc3339(),
        "giorno": x.data.giorno(), "ora": x.data.ora(), "zona": x.data.zona(),
        "identificativo": x.identificativo,
        "msgid": x.msgid,
        "ricevuta": x.ricevuta.as_ref().map(|r| r.as_str()),
        "consegna": x.consegna,
        "ricezione": x.ricezione,
        "errore_esteso": x.errore_esteso,
    })
}
