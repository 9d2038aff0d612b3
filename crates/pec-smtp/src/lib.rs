//! SMTP for the PEC provider: the access point's submission server (*punto di accesso*) and
//! the receiving point's inbound listener (*punto di ricezione*).
//!
//! [`serve_submission`] speaks SMTP submission (RFC 6409) over TLS (STARTTLS on port 587,
//! implicit TLS on port 465), authenticates the user through a [`Backend`], collects one
//! envelope and the message bytes exactly as received, and hands them to [`Backend::submit`].
//! [`serve_inbound`] is the same session engine in a second [`Role`]: mail from other
//! providers and from the Internet ("port 25"), no AUTH, MAIL FROM (`<>` included) from
//! anyone, STARTTLS offered but not required (PEC-SPEC §2.3 InP 1, §9.2); each RCPT TO is
//! asked of [`Backend::check_rcpt`] and [`Submission::tls`] says whether the message came
//! encrypted. The wire side (line framing, `Request::parse`, dot-unstuffing and the
//! end-of-data marker) is done by [`smtp_proto`]; the loop, the states and the replies are ours.
//!
//! The other direction is [`relay`]: the SMTP client that carries our signed envelopes to other
//! providers' receiving points (STARTTLS mandatory, [`relay::TlsPolicy::Required`]) and ordinary
//! mail to the Internet (opportunistic TLS), with one [`relay::RcptOutcome`] per recipient and
//! bounded, timed reads. It is hand-written (small) rather than mail-send, to get per-recipient
//! outcomes and our own rustls configuration.
//!
//! What it does **not** do: no PEC rules (MAIL FROM == From == authenticated mailbox, `Bcc`
//! empty, RCPT TO ⊆ To ∪ Cc, the *avviso di non accettazione*, antivirus, the signature checks
//! of the receiving point — PEC-SPEC §2.3, §9.4) — those live in pec-core and are applied by
//! the binary's [`Backend`], which also decides which domains are ours (no open relay); no
//! storage; no MX lookup, queue or retry schedule for the relay (the caller's); no BDAT/CHUNKING,
//! DSN or SMTPUTF8, in either direction.
//!
//! The hard choice: **authentication is only offered over TLS, with no switch to turn that
//! off** (PEC-SPEC §9.2, "all PEC communications on secure channels"). Tests therefore run TLS
//! end to end, with a throw-away certificate from [`dev_tls`]. The cost is that every test
//! touching AUTH pays a handshake and needs a TLS-capable client. (The inbound listener must
//! accept plaintext for ordinary mail, so it never offers AUTH at all.)
//!
//! A second choice worth knowing: a reply `250` to the end of DATA is written only after
//! [`Backend::submit`] returned `Ok`, which by contract means the message is durably committed
//! (STYLE §2). A crash before that point loses nothing the client believes was accepted.
//!
//! Bare CR or LF inside DATA (outside a CRLF pair) is refused with `554 5.6.0` rather than kept
//! or rewritten: only `CRLF . CRLF` ends a message here, but a relay further down the line
//! might read `LF . LF` differently (SMTP smuggling), and PEC relays must not alter the
//! encoding (PEC-SPEC §9.2), so normalising is not an option either.

#![deny(missing_docs)]

pub mod backend;
pub mod codes;
mod core;
mod error;
mod inbound;
pub mod relay;

pub use crate::backend::{AuthResult, Backend, Submission, SubmitError};
pub use crate::core::{InboundConfig, Limits, Role, SessionContext, SubmissionConfig, TlsMode};
pub use crate::error::{Error, RelayError};
pub use crate::inbound::spawn::{serve_inbound, serve_stream, serve_submission};
/// The certificates, shared by every listener (`pec_listen::tls`).
pub use pec_listen::tls::{dev_tls, load_tls, Error as TlsError};
