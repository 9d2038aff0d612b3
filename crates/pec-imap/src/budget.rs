//! Memory for message bodies one listener holds for its clients at once (issue 12, item 8):
//! an IMAP FETCH or a POP3 RETR takes a share of it for the message's bytes and keeps it
//! until the client has taken them, so clients that ask and never read cannot exhaust memory.
//!
//! One box holds at most a quarter of the budget, and a message larger than a quarter is
//! charged a quarter: a user's clients cannot make every other box wait (the cost: four boxes
//! may stream their largest messages at once, which the budget does not count in full).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

/// How long a request waits for its share before the client is told to try again.
pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// Boxes remembered beyond this many are forgotten when no session holds their share.
const BOXES_MAX: usize = 10_000;

/// The budget of one listener.
pub(crate) struct Budget {
    /// In KiB.
    per_box: usize,
    all: Arc<Semaphore>,
    boxes: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// A share held: dropping it gives the memory back.
pub(crate) struct Share {
    _box: OwnedSemaphorePermit,
    _all: OwnedSemaphorePermit,
}

impl Budget {
    /// A budget of `bytes` (at least 4 KiB).
    pub(crate) fn new(bytes: usize) -> Self {
        let kib = (bytes / 1024).max(4);
        Self {
            per_box: kib / 4,
            all: Arc::new(Semaphore::new(kib)),
            boxes: Mutex::default(),
        }
    }

    /// Waits (at most [`WAIT`], and not past `shutdown`) for `bytes` of the budget, taken
    /// from `user`'s quarter of it; `None` if it did not come.
    pub(crate) async fn share(
        &self,
        user: &str,
        bytes: u64,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Option<Share> {
        let kib = usize::try_from(bytes / 1024 + 1).unwrap_or(usize::MAX);
        let n = u32::try_from(kib.min(self.per_box)).unwrap_or(u32::MAX);
        let mine = {
            let mut boxes = self.boxes.lock().unwrap_or_else(|e| e.into_inner());
            // Boxes no session holds are forgotten once there are many (a semaphore a
            // session still holds stays, so a box never has two).
            if boxes.len() > BOXES_MAX {
                boxes.retain(|_, s| Arc::strong_count(s) > 1);
            }
            boxes
                .entry(user.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_box)))
                .clone()
        };
        let all = self.all.clone();
        let both = async move {
            let mine = mine.acquire_many_owned(n).await.ok()?;
            let all = all.acquire_many_owned(n).await.ok()?;
            Some(Share {
                _box: mine,
                _all: all,
            })
        };
        tokio::select! {
            got = tokio::time::timeout(WAIT, both) => got.ok().flatten(),
            _ = shutdown.wait_for(|&stop| stop) => None,
        }
    }
}

/// How long a client may take to receive `bytes` whatever its pace: the write timeout, plus
/// the bytes at 32 KiB/s. A share is held at most that long.
pub(crate) fn write_deadline(write_timeout: Duration, bytes: usize) -> tokio::time::Instant {
    tokio::time::Instant::now() + write_timeout + Duration::from_secs((bytes / (32 * 1024)) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_box_holds_a_quarter_and_others_still_get_theirs() {
        let b = Budget::new(16 << 20);
        let (_tx, mut stop) = watch::channel(false);
        // A large message: charged a quarter of the budget.
        let big = b.share("mario", 10 << 20, &mut stop).await.unwrap();
        // Mario's next one waits for his own quarter...
        let waiting = tokio::time::timeout(
            Duration::from_millis(100),
            b.share("mario", 1 << 20, &mut stop),
        )
        .await;
        assert!(waiting.is_err(), "mario's quarter is taken");
        // ...but three other boxes get theirs at once.
        let mut others = Vec::new();
        for u in ["giulia", "anna", "luca"] {
            others.push(b.share(u, 10 << 20, &mut stop).await.unwrap());
        }
        drop(big);
        assert!(b.share("mario", 1 << 20, &mut stop).await.is_some());
    }

    #[tokio::test]
    async fn shutdown_ends_the_wait() {
        let b = Budget::new(16 << 20);
        let (tx, mut stop) = watch::channel(false);
        let _held = b.share("mario", 10 << 20, &mut stop).await.unwrap();
        let mut stop2 = stop.clone();
        let waiter = tokio::spawn(async move {
            let b2 = b;
            b2.share("mario", 1 << 20, &mut stop2).await.is_none()
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        tx.send(true).unwrap();
        assert!(waiter.await.unwrap());
    }
}
