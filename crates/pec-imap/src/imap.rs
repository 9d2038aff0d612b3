//! IMAP server (to be written).
