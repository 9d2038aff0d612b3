//! Failed logins counted across every protocol (issue 12, item 7): per client address and per
//! box, in a sliding window, with a temporary block once a count is reached.
//!
//! Rules ([`ThrottleLimits`] sets the numbers):
//! - an address with `per_ip` failures within `window` is blocked for `block`, whatever box it
//!   tries next;
//! - a box with `per_box` failures within `window` (from any addresses) is blocked for `block`
//!   to every address that has not logged into it successfully lately, so a guesser spread over
//!   many addresses stops while its owner, already logged in from home, does not.
//! - a blocked attempt is refused before the password is checked, and does not count.
//!
//! Every failure and every refusal is one line on standard error, in a fixed shape a
//! fail2ban filter can match: `gestore: auth failed service=imap ip=192.0.2.7 user=mario@…`.
//!
//! Time comes in with each call, so the rules are tested without waiting. Memory is bounded:
//! records older than a window and a block are forgotten once the maps grow.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The numbers of the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Failures from one address within `window` that block it.
    pub per_ip: u32,
    /// Failures on one box within `window` that block it to unknown addresses.
    pub per_box: u32,
    /// The sliding window.
    pub window: Duration,
    /// How long a block lasts.
    pub block: Duration,
}

impl Default for ThrottleLimits {
    /// 10 failures from an address, or 10 on a box, within 15 minutes block for 15 minutes.
    fn default() -> Self {
        Self {
            per_ip: 10,
            per_box: 10,
            window: Duration::from_secs(15 * 60),
            block: Duration::from_secs(15 * 60),
        }
    }
}

/// Whether a login may be attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Check the password.
    Allowed,
    /// Refuse without checking: too many failures lately; retry after this long.
    Blocked(Duration),
}

#[derive(Default)]
struct Record {
    /// The most recent failures, oldest first, at most the threshold.
    failures: VecDeque<Instant>,
    blocked_until: Option<Instant>,
}

impl Record {
    fn blocked(&self, now: Instant) -> Option<Duration> {
        self.blocked_until
            .filter(|u| *u > now)
            .map(|u| u.duration_since(now))
    }

    /// Records a failure; true when it reaches `threshold` within `window`.
    fn fail(&mut self, now: Instant, threshold: u32, l: &ThrottleLimits) -> bool {
        self.failures.push_back(now);
        while self.failures.len() > threshold as usize {
            self.failures.pop_front();
        }
        let full = self.failures.len() >= threshold as usize
            && self
                .failures
                .front()
                .is_some_and(|f| now.duration_since(*f) < l.window);
        if full {
            self.blocked_until = Some(now + l.block);
            self.failures.clear();
        }
        full
    }

    fn stale(&self, now: Instant, l: &ThrottleLimits) -> bool {
        self.blocked(now).is_none()
            && self
                .failures
                .back()
                .is_none_or(|f| now.duration_since(*f) > l.window)
    }
}

#[derive(Default)]
struct State {
    ip: HashMap<IpAddr, Record>,
    boxes: HashMap<String, Record>,
    /// Addresses each box logged in from, with when.
    known: HashMap<String, Vec<(IpAddr, Instant)>>,
}

/// Above this many records per map, stale ones are dropped.
const MAX_RECORDS: usize = 50_000;
/// A box remembers this many addresses it logged in from.
const KNOWN_PER_BOX: usize = 16;
/// How long a successful login makes an address known to its box.
const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// Login throttling shared by every listener of a provider.
#[derive(Default)]
pub struct Throttle {
    limits: ThrottleLimits,
    state: Mutex<State>,
}

impl Throttle {
    /// A throttle with these numbers.
    pub fn new(limits: ThrottleLimits) -> Self {
        Self {
            limits,
            state: Mutex::default(),
        }
    }

    /// May `user` try to log in from `ip` at `now`? A refusal is logged.
    pub fn check(&self, service: &str, user: &str, ip: IpAddr, now: Instant) -> Verdict {
        let key = chiave(user);
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let per_ip = s.ip.get(&ip).and_then(|r| r.blocked(now));
        let per_box = s
            .boxes
            .get(&key)
            .and_then(|r| r.blocked(now))
            .filter(|_| !known(&s, &key, ip, now));
        let (wait, why) = match (per_ip, per_box) {
            (Some(w), _) => (w, "address"),
            (None, Some(w)) => (w, "box"),
            (None, None) => return Verdict::Allowed,
        };
        eprintln!(
            "gestore: auth blocked service={service} ip={ip} user={} reason=too-many-failures-{why} retry-after={}s",
            riga(user),
            wait.as_secs().max(1)
        );
        Verdict::Blocked(wait)
    }

    /// A wrong password for `user` from `ip`: counted and logged.
    pub fn failed(&self, service: &str, user: &str, ip: IpAddr, now: Instant) {
        let key = chiave(user);
        let l = self.limits;
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        eprintln!(
            "gestore: auth failed service={service} ip={ip} user={}",
            riga(user)
        );
        if s.ip.entry(ip).or_default().fail(now, l.per_ip, &l) {
            eprintln!(
                "gestore: auth block ip={ip} for {}s: {} failures within {}s",
                l.block.as_secs(),
                l.per_ip,
                l.window.as_secs()
            );
        }
        if s.boxes.entry(key).or_default().fail(now, l.per_box, &l) {
            eprintln!(
                "gestore: auth block user={} for {}s to unknown addresses: {} failures within {}s",
                riga(user),
                l.block.as_secs(),
                l.per_box,
                l.window.as_secs()
            );
        }
        pota(&mut s, now, &l);
    }

    /// A good login: `ip` becomes known to `user`'s box.
    pub fn succeeded(&self, user: &str, ip: IpAddr, now: Instant) {
        let key = chiave(user);
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let list = s.known.entry(key).or_default();
        list.retain(|(a, t)| *a != ip && now.duration_since(*t) < KNOWN_FOR);
        list.push((ip, now));
        if list.len() > KNOWN_PER_BOX {
            list.remove(0);
        }
        if s.known.len() > MAX_RECORDS {
            s.known
                .retain(|_, l| l.iter().any(|(_, t)| now.duration_since(*t) < KNOWN_FOR));
        }
    }
}

fn known(s: &State, key: &str, ip: IpAddr, now: Instant) -> bool {
    s.known.get(key).is_some_and(|l| {
        l.iter()
            .any(|(a, t)| *a == ip && now.duration_since(*t) < KNOWN_FOR)
    })
}

/// Drops stale records once a map is large, so a spray of addresses cannot grow it forever.
fn pota(s: &mut State, now: Instant, l: &ThrottleLimits) {
    if s.ip.len() > MAX_RECORDS {
        s.ip.retain(|_, r| !r.stale(now, l));
    }
    if s.boxes.len() > MAX_RECORDS {
        s.boxes.retain(|_, r| !r.stale(now, l));
    }
}

/// Boxes are counted without case and surrounding blanks, as logins are checked.
fn chiave(user: &str) -> String {
    user.trim().to_lowercase()
}

/// A user name fit for a log line: no blanks or controls, at most 100 characters.
fn riga(user: &str) -> String {
    let s: String = user
        .trim()
        .chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .take(100)
        .collect();
    if s.is_empty() {
        "-".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));
    const CASA: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 9));

    fn limits() -> ThrottleLimits {
        ThrottleLimits {
            per_ip: 3,
            per_box: 5,
            window: Duration::from_secs(60),
            block: Duration::from_secs(300),
        }
    }

    #[test]
    fn an_address_is_blocked_after_its_failures_and_free_after_the_block() {
        let t = Throttle::new(limits());
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(t.check("smtp", "a@x", A, t0), Verdict::Allowed);
            t.failed("smtp", &format!("u{i}@x"), A, t0 + Duration::from_secs(i));
        }
        // Any box, any protocol: the address is blocked.
        let v = t.check("imap", "other@x", A, t0 + Duration::from_secs(10));
        assert_eq!(v, Verdict::Blocked(Duration::from_secs(292)));
        assert_eq!(t.check("imap", "other@x", B, t0), Verdict::Allowed);
        assert_eq!(
            t.check("pop3", "other@x", A, t0 + Duration::from_secs(303)),
            Verdict::Allowed
        );
    }

    #[test]
    fn failures_spread_beyond_the_window_do_not_block() {
        let t = Throttle::new(limits());
        let t0 = Instant::now();
        for i in 0..10 {
            t.failed("smtp", "a@x", A, t0 + Duration::from_secs(i * 40));
        }
        assert_eq!(
            t.check("smtp", "a@x", A, t0 + Duration::from_secs(400)),
            Verdict::Allowed
        );
    }

    #[test]
    fn a_box_guessed_from_many_addresses_is_blocked_but_not_to_its_known_address() {
        let t = Throttle::new(limits());
        let t0 = Instant::now();
        t.succeeded("Mario@X", CASA, t0);
        for i in 0..5u8 {
            let ip = IpAddr::from([203, 0, 113, i]);
            t.failed("imap", "mario@x", ip, t0 + Duration::from_secs(1));
        }
        let later = t0 + Duration::from_secs(2);
        assert!(matches!(
            t.check("imap", "mario@x", IpAddr::from([203, 0, 113, 99]), later),
            Verdict::Blocked(_)
        ));
        assert_eq!(t.check("imap", " MARIO@x ", CASA, later), Verdict::Allowed);
        // Another box from those addresses is not blocked (each tried once).
        assert_eq!(
            t.check("imap", "giulia@x", IpAddr::from([203, 0, 113, 1]), later),
            Verdict::Allowed
        );
    }

    #[test]
    fn user_names_cannot_break_the_log_line() {
        assert_eq!(riga("a b\r\nip=1.2.3.4"), "a_b__ip=1.2.3.4");
        assert_eq!(riga(""), "-");
        assert_eq!(riga(&"x".repeat(500)).len(), 100);
    }
}
