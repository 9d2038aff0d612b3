//! # pec-smime — S/MIME signatures for PEC messages
