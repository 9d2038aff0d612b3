//! pec-smtp integration tests: one binary, modules mirroring `src/inbound/` and `src/relay/`,
//! then real clients (Python smtplib, curl, swaks) against a real listener on 127.0.0.1.

mod util;

mod inbound {
    mod auth;
    mod data;
    mod ehlo;
    mod mail;
    mod rcpt;
    mod receiving;
    mod session;
    mod spawn;
}

mod relay {
    mod fake;
    mod inbound;
}

mod clients {
    mod curl;
    mod python;
    mod swaks;
}
