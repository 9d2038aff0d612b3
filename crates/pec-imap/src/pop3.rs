//! POP3 server (to be written).
