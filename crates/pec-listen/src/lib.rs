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
//!   temporary blocks and a fail2ban-style line for each failure;
//! - [`LoginDeadline`]: how long a connection may go on without logging in;
//! - [`tls`]: the certificates ([`tls::load_tls`], the dev certificate [`tls::dev_tls`]) and
//!   each connection's TLS prologue ([`tls::prologue`]: implicit TLS or STARTTLS).
//!
//! It does not speak any protocol, and it reads no clock of its own where a rule depends on
//! time: [`Throttle`] takes the instant of each attempt, so its rules are tested without
//! waiting. The hard choice: per-address caps can refuse a busy office behind one NAT address;
//! the defaults are generous and configurable, and authenticated users are not throttled for
//! others' failures on their box once they logged in from that address.

#![deny(missing_docs)]

mod accept;
mod deadline;
pub mod fd;
mod gate;
mod throttle;
pub mod tls;

pub use accept::accept_loop;
pub use deadline::LoginDeadline;
pub use gate::{ConnectionLimits, Gate, Permit, Refused};
pub use throttle::{Tentativo, Throttle, ThrottleLimits, CHIAVE_MAX};
pub use tls::TlsMode;

use std::net::{IpAddr, Ipv6Addr};

/// The client a connection or a login counts against: an IPv4 address as it is (an
/// IPv4-mapped IPv6 one as IPv4), an IPv6 address by its /64, which one subscriber usually
/// holds whole: keyed by the full address, a /64 would be 2^64 clients.
pub fn cliente(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_addresses_and_ipv6_64s() {
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(cliente(v4), v4);
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(cliente(mapped), v4);
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(cliente(a), cliente(b));
        assert_eq!(cliente(a), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
    }
}
