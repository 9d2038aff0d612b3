//! Failed logins counted across every protocol (issue 12, item 7): per client and per box, in
//! a sliding window, with a temporary block once a count is reached.
//!
//! Rules ([`ThrottleLimits`] sets the numbers):
//! - a client ([`crate::cliente`]: an address, or an IPv6 /64) with `per_ip` failures within
//!   `window` is blocked for `block`, whatever box it tries next;
//! - a box with `per_box` failures within `window` (from any clients) is blocked for `block`
//!   to every client that has not logged into it successfully lately, so a guesser spread over
//!   many addresses stops while its owner, already logged in from home, does not;
//! - attempts still being checked count as failures until they end, so a guesser cannot slip
//!   hundreds of parallel attempts in before the first failures are counted;
//! - a blocked attempt is refused before the password is checked, and does not count.
//!
//! Every failure is one line on standard error, in a fixed shape a fail2ban filter can match:
//! `gestore: auth failed service=imap ip=192.0.2.7 user=mario@…`; refusals of a blocked client
//! are logged at most once a minute per client and box.
//!
//! Time comes in with each call, so the rules are tested without waiting. Memory is bounded:
//! user names are cut to [`CHIAVE_MAX`] characters and the maps are pruned once they grow.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The numbers of the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Failures from one client within `window` that block it.
    pub per_ip: u32,
    /// Failures on one box within `window` that block it to unknown clients.
    pub per_box: u32,
    /// The sliding window.
    pub window: Duration,
    /// How long a block lasts.
    pub block: Duration,
}

impl Default for ThrottleLimits {
    /// 10 failures from a client, or 10 on a box, within 15 minutes block for 15 minutes.
    fn default() -> Self {
        Self {
            per_ip: 10,
            per_box: 10,
            window: Duration::from_secs(15 * 60),
            block: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Default)]
struct Record {
    /// The most recent failures, oldest first, at most the threshold.
    failures: VecDeque<Instant>,
    blocked_until: Option<Instant>,
    /// Attempts let through and not finished yet.
    in_corso: u32,
    /// When a refusal was last logged.
    logged: Option<Instant>,
}

impl Record {
    fn blocked(&self, now: Instant) -> Option<Duration> {
        self.blocked_until
            .filter(|u| *u > now)
            .map(|u| u.duration_since(now))
    }

    /// Failures within the window, plus the attempts under way.
    fn pesanti(&self, now: Instant, l: &ThrottleLimits) -> usize {
        let recenti = self
            .failures
            .iter()
            .filter(|f| now.duration_since(**f) < l.window)
            .count();
        recenti + self.in_corso as usize
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
        self.in_corso == 0
            && self.blocked(now).is_none()
            && self
                .failures
                .back()
                .is_none_or(|f| now.duration_since(*f) > l.window)
    }

    /// Whether to log a refusal now (at most once a minute).
    fn da_annotare(&mut self, now: Instant) -> bool {
        let si = self
            .logged
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(60));
        if si {
            self.logged = Some(now);
        }
        si
    }
}

#[derive(Default)]
struct State {
    ip: HashMap<IpAddr, Record>,
    boxes: HashMap<String, Record>,
    /// Clients each box logged in from, with when.
    known: HashMap<String, Vec<(IpAddr, Instant)>>,
    /// `known` is pruned when it grows past this (at least [`MAX_RECORDS`]): twice what
    /// the last pruning left, so a provider with more active boxes than that does not walk
    /// the whole map at every login.
    known_soglia: usize,
}

/// Above this many records per map, stale ones are dropped.
const MAX_RECORDS: usize = 50_000;
/// A box remembers this many clients it logged in from.
const KNOWN_PER_BOX: usize = 16;
/// How long a successful login makes a client known to its box.
const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Longest user name kept as a key (an address is at most 254 octets); a login with a longer
/// one is a failure without a look-up.
pub const CHIAVE_MAX: usize = 320;

/// Login throttling shared by every listener of a provider.
#[derive(Default)]
pub struct Throttle {
    limits: ThrottleLimits,
    state: Mutex<State>,
}

/// One login attempt let through: say how it ended; dropped unsaid (the check could not be
/// made), it simply stops counting.
#[must_use]
pub struct Tentativo<'a> {
    throttle: &'a Throttle,
    service: &'static str,
    user: String,
    /// `user` as counted ([`chiave`]).
    key: String,
    ip: IpAddr,
    finito: bool,
}

impl Throttle {
    /// A throttle with these numbers.
    pub fn new(limits: ThrottleLimits) -> Self {
        Self {
            limits,
            state: Mutex::default(),
        }
    }

    /// May `user` try to log in from `ip` at `now`? `Err(wait)` when blocked (logged, at
    /// most once a minute per client and box); otherwise the attempt, which counts until it
    /// ends.
    pub fn begin(
        &self,
        service: &'static str,
        user: &str,
        ip: IpAddr,
        now: Instant,
    ) -> Result<Tentativo<'_>, Duration> {
        let ip = crate::cliente(ip);
        let key = chiave(user);
        let l = self.limits;
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let conosciuto = known(&s, &key, ip, now);
        let per_ip = {
            let r = s.ip.entry(ip).or_default();
            r.blocked(now).or_else(|| {
                (r.pesanti(now, &l) >= l.per_ip as usize).then_some(Duration::from_secs(1))
            })
        };
        let per_box = {
            let r = s.boxes.entry(key.clone()).or_default();
            r.blocked(now)
                .or_else(|| {
                    (r.pesanti(now, &l) >= l.per_box as usize).then_some(Duration::from_secs(1))
                })
                .filter(|_| !conosciuto)
        };
        let blocco = match (per_ip, per_box) {
            (Some(w), _) => Some((w, "address")),
            (None, Some(w)) => Some((w, "box")),
            (None, None) => None,
        };
        if let Some((wait, why)) = blocco {
            let annota = match why {
                "address" => s.ip.get_mut(&ip).is_some_and(|r| r.da_annotare(now)),
                _ => s.boxes.get_mut(&key).is_some_and(|r| r.da_annotare(now)),
            };
            if annota {
                tracing::warn!(
                    target: "gestore::auth",
                    "auth blocked service={service} ip={ip} user={} reason=too-many-failures-{why} retry-after={}s",
                    riga(user),
                    wait.as_secs().max(1)
                );
            }
            return Err(wait);
        }
        if let Some(r) = s.ip.get_mut(&ip) {
            r.in_corso += 1;
        }
        if let Some(r) = s.boxes.get_mut(&key) {
            r.in_corso += 1;
        }
        pota(&mut s, now, &l);
        Ok(Tentativo {
            throttle: self,
            service,
            user: user.to_string(),
            key,
            ip,
            finito: false,
        })
    }

    /// Ends an attempt: no longer under way.
    fn fine(&self, s: &mut State, ip: IpAddr, key: &str) {
        if let Some(r) = s.ip.get_mut(&ip) {
            r.in_corso = r.in_corso.saturating_sub(1);
        }
        if let Some(r) = s.boxes.get_mut(key) {
            r.in_corso = r.in_corso.saturating_sub(1);
        }
    }
}

impl Tentativo<'_> {
    /// A wrong password: counted and logged.
    pub fn failed(mut self, now: Instant) {
        self.finito = true;
        let t = self.throttle;
        let l = t.limits;
        let key = std::mem::take(&mut self.key);
        let mut s = t.state.lock().unwrap_or_else(|e| e.into_inner());
        t.fine(&mut s, self.ip, &key);
        tracing::warn!(
            target: "gestore::auth",
            "auth failed service={} ip={} user={}",
            self.service,
            self.ip,
            riga(&self.user)
        );
        if s.ip.entry(self.ip).or_default().fail(now, l.per_ip, &l) {
            tracing::warn!(
                target: "gestore::auth",
                "auth block ip={} for {}s: {} failures within {}s",
                self.ip,
                l.block.as_secs(),
                l.per_ip,
                l.window.as_secs()
            );
        }
        if s.boxes.entry(key).or_default().fail(now, l.per_box, &l) {
            tracing::warn!(
                target: "gestore::auth",
                "auth block user={} for {}s to unknown addresses: {} failures within {}s",
                riga(&self.user),
                l.block.as_secs(),
                l.per_box,
                l.window.as_secs()
            );
        }
        pota(&mut s, now, &l);
    }

    /// A good login: the client becomes known to the box.
    pub fn succeeded(mut self, now: Instant) {
        self.finito = true;
        let t = self.throttle;
        let key = std::mem::take(&mut self.key);
        let mut s = t.state.lock().unwrap_or_else(|e| e.into_inner());
        t.fine(&mut s, self.ip, &key);
        let list = s.known.entry(key).or_default();
        list.retain(|(a, at)| *a != self.ip && now.duration_since(*at) < KNOWN_FOR);
        list.push((self.ip, now));
        if list.len() > KNOWN_PER_BOX {
            list.remove(0);
        }
        if s.known.len() > s.known_soglia.max(MAX_RECORDS) {
            s.known
                .retain(|_, l| l.iter().any(|(_, at)| now.duration_since(*at) < KNOWN_FOR));
            s.known_soglia = 2 * s.known.len();
        }
    }
}

impl Drop for Tentativo<'_> {
    fn drop(&mut self) {
        if !self.finito {
            let mut s = self
                .throttle
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            self.throttle.fine(&mut s, self.ip, &self.key);
        }
    }
}

fn known(s: &State, key: &str, ip: IpAddr, now: Instant) -> bool {
    s.known.get(key).is_some_and(|l| {
        l.iter()
            .any(|(a, t)| *a == ip && now.duration_since(*t) < KNOWN_FOR)
    })
}

/// Drops stale records once a map is large, so a spray of clients or names cannot grow it
/// forever; when even that is not enough, records that block nobody go too.
fn pota(s: &mut State, now: Instant, l: &ThrottleLimits) {
    if s.ip.len() > MAX_RECORDS {
        s.ip.retain(|_, r| !r.stale(now, l));
        if s.ip.len() > MAX_RECORDS {
            s.ip.retain(|_, r| r.blocked(now).is_some() || r.in_corso > 0);
        }
    }
    if s.boxes.len() > MAX_RECORDS {
        s.boxes.retain(|_, r| !r.stale(now, l));
        if s.boxes.len() > MAX_RECORDS {
            s.boxes
                .retain(|_, r| r.blocked(now).is_some() || r.in_corso > 0);
        }
    }
}

/// Boxes are counted without case and surrounding blanks, as logins are checked; a name
/// longer than any address is cut, so it cannot cost more memory than one.
fn chiave(user: &str) -> String {
    user.trim()
        .to_lowercase()
        .chars()
        .take(CHIAVE_MAX)
        .collect()
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

    fn fallisce(t: &Throttle, user: &str, ip: IpAddr, at: Instant) {
        t.begin("smtp", user, ip, at).unwrap().failed(at);
    }

    #[test]
    fn an_address_is_blocked_after_its_failures_and_free_after_the_block() {
        let t = Throttle::new(limits());
        let t0 = Instant::now();
        for i in 0..3 {
            fallisce(&t, &format!("u{i}@x"), A, t0 + Duration::from_secs(i));
        }
        // Any box, any protocol: the address is blocked.
        let v = t.begin("imap", "other@x", A, t0 + Duration::from_secs(10));
        assert_eq!(v.err(), Some(Duration::from_secs(292)));
        assert!(t.begin("imap", "other@x", B, t0).is_ok());
        assert!(t
            .begin("pop3", "other@x", A, t0 + Duration::from_secs(303))
            .is_ok());
    }

    #[test]
    fn failures_spread_beyond_the_window_do_not_block() {
        let t = Throttle::new(limits());
        let t0 = Instant::now();
        for i in 0..10 {
            fallisce(&t, "a@x", A, t0 + Duration::from_secs(i * 40));
        }
        assert!(t
            .begin("smtp", "a@x", A, t0 + Duration::from_secs(400))
            .is_ok());
    }

    #[test]
    fn a_box_guessed_from_many_addresses_is_blocked_but_not_to_its_known_address() {
        let t = Throttle::new(limits());
        let t0 = Instant::now();
        t.begin("imap", "Mario@X", CASA, t0).unwrap().succeeded(t0);
        for i in 0..5u8 {
            let ip = IpAddr::from([203, 0, 113, i]);
            fallisce(&t, "mario@x", ip, t0 + Duration::from_secs(1));
        }
        let later = t0 + Duration::from_secs(2);
        assert!(t
            .begin("imap", "mario@x", IpAddr::from([203, 0, 113, 99]), later)
            .is_err());
        assert!(t.begin("imap", " MARIO@x ", CASA, later).is_ok());
        // Another box from those addresses is not blocked (each tried once).
        assert!(t
            .begin("imap", "giulia@x", IpAddr::from([203, 0, 113, 1]), later)
            .is_ok());
    }

    #[test]
    fn parallel_attempts_count_before_they_fail() {
        let t = Throttle::new(limits());
        let t0 = Instant::now();
        // Three attempts under way from one client: a fourth waits, whatever the box.
        let held: Vec<_> = (0..3)
            .map(|i| t.begin("imap", &format!("u{i}@x"), A, t0).unwrap())
            .collect();
        assert!(t.begin("imap", "u9@x", A, t0).is_err());
        // An attempt that ends without a verdict stops counting.
        drop(held);
        assert!(t.begin("imap", "u9@x", A, t0).is_ok());
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let t = Throttle::new(limits());
        let t0 = Instant::now();
        for i in 1..=3u16 {
            let ip = IpAddr::from([0x2001, 0xdb8, 1, 2, 0, 0, 0, i]);
            fallisce(&t, &format!("u{i}@x"), ip, t0);
        }
        let stesso = IpAddr::from([0x2001, 0xdb8, 1, 2, 9, 9, 9, 9]);
        assert!(t.begin("imap", "z@x", stesso, t0).is_err());
        let altro = IpAddr::from([0x2001, 0xdb8, 1, 3, 0, 0, 0, 1]);
        assert!(t.begin("imap", "z@x", altro, t0).is_ok());
    }

    #[test]
    fn huge_user_names_are_kept_short() {
        assert_eq!(chiave(&"x".repeat(5_000_000)).len(), CHIAVE_MAX);
    }

    #[test]
    fn user_names_cannot_break_the_log_line() {
        assert_eq!(riga("a b\r\nip=1.2.3.4"), "a_b__ip=1.2.3.4");
        assert_eq!(riga(""), "-");
        assert_eq!(riga(&"x".repeat(500)).len(), 100);
    }
}
