//! The open-files limit: every connection is a file descriptor, and a process that runs out
//! of them cannot open its database, a blob or a log line either. At start the soft limit is
//! raised to the hard one, and the listeners' caps are fitted into what it allows.

/// Descriptors kept for everything that is not a client connection: the database and its
/// readers, blob files, the relay's outgoing connections, clamd, LDAP, the admin socket.
pub const RISERVA: u64 = 512;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the limit in force after.
pub fn raise_nofile() -> std::io::Result<u64> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if r.rlim_cur < r.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: r.rlim_max,
                rlim_max: r.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                r = raised;
            }
        }
    }
    Ok(r.rlim_cur)
}

/// Each listener's connection cap, lowered if need be so that `listeners` of them fit in
/// `limit` descriptors besides [`RISERVA`]: `None` when `wanted` fits, else the cap that does
/// (at least 1).
pub fn fit(wanted: usize, listeners: usize, limit: u64) -> Option<usize> {
    let budget = limit.saturating_sub(RISERVA);
    let need = (wanted as u64).saturating_mul(listeners as u64);
    if listeners == 0 || need <= budget {
        return None;
    }
    Some(
        usize::try_from(budget / listeners as u64)
            .unwrap_or(usize::MAX)
            .max(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_are_lowered_only_when_they_do_not_fit() {
        assert_eq!(fit(1000, 7, 1 << 20), None);
        assert_eq!(fit(1000, 7, 1024), Some(73));
        assert_eq!(fit(1000, 0, 1024), None);
        assert_eq!(fit(1000, 4, 100), Some(1));
    }

    #[test]
    fn the_limit_is_raised_to_the_hard_one() {
        let n = raise_nofile().unwrap();
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) };
        assert_eq!(n, r.rlim_cur);
        assert_eq!(r.rlim_cur, r.rlim_max);
    }
}
