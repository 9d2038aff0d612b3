//! Integration tests of pec-smime, one binary; modules mirror the library's concerns.

mod smime {
    pub mod interop;
    pub mod malformed;
    pub mod p7m;
    pub mod pki;
    pub mod samples;
    pub mod sign;
    pub mod tamper;
    pub mod util;
    pub mod verifier;
}
