//! `Daticert::from_xml` never panics, whatever the bytes (PEC-SPEC §5; the file comes from a peer).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pec_core::daticert::Daticert;

fuzz_target!(|data: &[u8]| {
    let _ = Daticert::from_xml(data);
});
