//! The login deadline of one connection (issue 12, item 6): a client that has not logged in
//! by then is closed, whether it stays silent or keeps commands coming. Set once when the
//! connection is accepted and carried across STARTTLS, so an upgrade never restarts it.

use std::time::Duration;
use tokio::time::Instant;

/// When the client of one connection must have logged in by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginDeadline(Instant);

impl LoginDeadline {
    /// `timeout` from now.
    pub fn after(timeout: Duration) -> Self {
        Self(Instant::now() + timeout)
    }

    /// Whether it has passed: checked before every command, not only when the client is quiet.
    pub fn expired(&self) -> bool {
        Instant::now() >= self.0
    }

    /// How long a read may wait before login: `idle`, cut to what is left.
    pub fn cap(&self, idle: Duration) -> Duration {
        idle.min(self.0.saturating_duration_since(Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn it_caps_reads_and_expires() {
        let d = LoginDeadline::after(Duration::from_millis(200));
        assert!(!d.expired());
        assert!(d.cap(Duration::from_secs(300)) <= Duration::from_millis(200));
        assert_eq!(d.cap(Duration::from_millis(1)), Duration::from_millis(1));
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(d.expired());
        assert_eq!(d.cap(Duration::from_secs(300)), Duration::ZERO);
    }
}
