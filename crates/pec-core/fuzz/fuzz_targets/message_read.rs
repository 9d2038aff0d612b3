//! The message readers never panic, whatever the bytes: `inspect` (what `gestore verify`
//! runs on any file a user holds), `Originale::parse` (what the access point runs on a
//! submission) and the breve copy (run on the original of a received envelope).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pec_core::breve::copia_breve;
use pec_core::inspect::{allegati, inspect};
use pec_core::Originale;

fuzz_target!(|data: &[u8]| {
    if let Ok(found) = inspect(data) {
        if let Some(original) = &found.postacert {
            let _ = allegati(original);
        }
    }
    if let Ok(o) = Originale::parse(data) {
        let _ = o.postacert("fuzz.1@pec.example.test");
    }
    let _ = copia_breve(data);
});
