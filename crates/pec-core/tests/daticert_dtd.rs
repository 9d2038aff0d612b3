//! Proves that what our writer emits is valid against the daticert DTD (PEC-SPEC §5.1), as
//! judged by an independent validator, `xmllint --dtdvalid`.
//!
//! Without xmllint on PATH the tests print a skip note and pass, unless
//! `GESTORE_REQUIRE_TOOLS=1` is set (CI), where they fail.

use pec_core::daticert::{catalogue_examples, Daticert, TipoRicevuta, DTD};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A scratch directory holding the shipped DTD, removed on drop.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(test: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "gestore-daticert-dtd-{}-{}-{test}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        // Validate against the DTD the crate ships, not a copy that could drift.
        std::fs::write(dir.join("daticert.dtd"), DTD).unwrap();
        Scratch { dir }
    }

    fn write(&self, name: &str, xml: &str) -> PathBuf {
        let path = self.dir.join(format!("{}.xml", name.replace('/', "_")));
        std::fs::write(&path, xml).unwrap();
        path
    }

    /// Runs `xmllint --noout --dtdvalid daticert.dtd FILE`: Ok, or Err with its report.
    fn validate(&self, file: &Path) -> Result<(), String> {
        let output = Command::new("xmllint")
            .arg("--noout")
            .arg("--nonet")
            .arg("--dtdvalid")
            .arg(self.dir.join("daticert.dtd"))
            .arg(file)
            .output()
            .unwrap();
        if output.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// True when xmllint can run; otherwise skips (or fails under GESTORE_REQUIRE_TOOLS=1).
fn xmllint_available() -> bool {
    let found = Command::new("xmllint").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var("GESTORE_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "xmllint not found on PATH and GESTORE_REQUIRE_TOOLS=1: install libxml2-utils"
        );
        eprintln!("skipped: xmllint not found on PATH (install libxml2-utils)");
    }
    found
}

#[test]
fn every_catalogue_daticert_is_valid_against_the_dtd() {
    if !xmllint_available() {
        return;
    }
    let scratch = Scratch::new("catalogue");
    let examples = catalogue_examples();
    assert!(examples.len() >= 14);
    for (name, d) in examples {
        let xml = d.to_xml().unwrap();
        let file = scratch.write(name, &xml);
        if let Err(report) = scratch.validate(&file) {
            panic!("{name} is not valid:\n{report}\n{xml}");
        }
    }
}

#[test]
fn escaped_special_characters_stay_valid_against_the_dtd() {
    if !xmllint_available() {
        return;
    }
    let scratch = Scratch::new("special");
    let (_, mut d) = catalogue_examples().remove(0);
    d.intestazione.oggetto = Some(r#"<b>Tom & "Jerry"</b> l'ànatra 😀 ]]>"#.into());
    d.intestazione.mittente = r#""o'brien&co"@pec.esempio.it"#.into();
    d.dati.errore_esteso = Some("5.1.1 - <x> & 'y'".into());
    d.dati.ricevuta = Some(TipoRicevuta::Breve);
    let file = scratch.write("special", &d.to_xml().unwrap());
    scratch.validate(&file).unwrap();
}

#[test]
fn xmllint_rejects_a_daticert_outside_the_dtd() {
    if !xmllint_available() {
        return;
    }
    // So the tests above can fail: the validator does check tipo and element order.
    let scratch = Scratch::new("invalid");
    let (_, d) = catalogue_examples().remove(0);
    let xml = d.to_xml().unwrap();
    let bogus_tipo = xml.replace(r#"tipo="posta-certificata""#, r#"tipo="bogus""#);
    assert_ne!(bogus_tipo, xml);
    let file = scratch.write("bogus-tipo", &bogus_tipo);
    assert!(scratch.validate(&file).is_err(), "tipo=bogus accepted");

    let (start, end) = (
        xml.find("  <intestazione>").unwrap(),
        xml.find("  <dati>").unwrap(),
    );
    let swapped = format!(
        "{}{}{}",
        &xml[..start],
        &xml[end..xml.find("</postacert>").unwrap()],
        &xml[start..end]
    ) + "</postacert>\n";
    let file = scratch.write("swapped", &swapped);
    assert!(
        scratch.validate(&file).is_err(),
        "dati before intestazione accepted"
    );
}

#[test]
fn real_daticert_files_are_valid_against_our_dtd() {
    if !xmllint_available() {
        return;
    }
    // Cross-checks the DTD we ship against what a real provider emits.
    let scratch = Scratch::new("real");
    for file in [
        "aruba-2014-busta-1.eml",
        "aruba-2014-busta-2.eml",
        "aruba-2014-accettazione.eml",
        "aruba-2014-consegna.eml",
        "tampered-busta.eml",
    ] {
        let path = format!(
            "{}/../../../shared/samples/real/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let eml = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "genuine sample {file} missing ({e}): this test reads ../shared/samples/real/ \
                 beside the project, which a clone alone does not have (README, Samples)"
            )
        });
        let xml = pec_core::inspect::inspect(&eml)
            .unwrap()
            .daticert_xml
            .unwrap();
        Daticert::from_xml(&xml).unwrap();
        let written = scratch.write(file, &String::from_utf8(xml).unwrap());
        if let Err(report) = scratch.validate(&written) {
            panic!("{file}:\n{report}");
        }
    }
}
