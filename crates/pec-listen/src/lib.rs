//! # pec-listen — what every listener shares
//!
//! Issue 12 found that one client could lock everybody else out: the connection caps were
//! global (500 silent sockets filled a listener for five minutes), IMAP had none (a thousand
//! silent sockets ran the process out of file descriptors) and password guessing was only
//! slowed down per connection. This crate holds the answers once, for SMTP, IMAP and POP3
//! (and the web later):
//!
//! - [`accept_loop`]: one task per connection behind a [`Gate`], which caps connections per
//!   listener and per client address, and says so in one log line when a cap bites;
//! - [`fd`]: the open-files limit raised to what the system allows, and the budget the
//!   listeners' caps must fit in;
//! - [`Throttle`]: failed logins counted per box and per address across every protocol, with
//!   temporary blocks and a fail2ban-style line for each failure.
//!
//! It does not speak any protocol, and it reads no clock of its own where a rule depends on
//! time: [`Throttle`] takes the instant of each attempt, so its rules are tested without
//! waiting. The hard choice: per-address caps can refuse a busy office behind one NAT address;
//! the defaults are generous and configurable, and authenticated users are not throttled for
//! others' failures on their box once they logged in from that address.

#![deny(missing_docs)]

mod accept;
pub mod fd;
mod gate;
mod throttle;

pub use accept::accept_loop;
pub use gate::{ConnectionLimits, Gate, Permit, Refused};
pub use throttle::{Throttle, ThrottleLimits, Verdict};
