//! The time that registry tokens live by: the system's, or, in tests, a
//! clock moved by hand, so that a day of 12-hour tokens passes in seconds.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// Unix seconds, as the rest of wharf counts them.
#[derive(Clone)]
pub struct Clock(Inner);

#[derive(Clone)]
enum Inner {
    System,
    Manual(Arc<watch::Sender<i64>>),
}

impl Clock {
    /// The system's clock.
    pub fn system() -> Self {
        Self(Inner::System)
    }

    /// A clock that stands at `start` until [`Clock::advance`] moves it.
    pub fn manual(start: i64) -> Self {
        Self(Inner::Manual(Arc::new(watch::Sender::new(start))))
    }

    /// Now, in Unix seconds.
    pub fn now(&self) -> i64 {
        match &self.0 {
            Inner::System => crate::db::now(),
            Inner::Manual(t) => *t.borrow(),
        }
    }

    /// Moves a manual clock forward (the system's cannot be moved).
    pub fn advance(&self, seconds: i64) {
        if let Inner::Manual(t) = &self.0 {
            t.send_modify(|now| *now += seconds.max(0));
        }
    }

    /// Waits until the clock reads `at` or later.
    pub async fn sleep_until(&self, at: i64) {
        match &self.0 {
            Inner::System => {
                let wait = (at - self.now()).max(0);
                tokio::time::sleep(Duration::from_secs(u64::try_from(wait).unwrap_or(0))).await;
            }
            Inner::Manual(t) => {
                let mut rx = t.subscribe();
                // The sender lives as long as the clock; if it is gone
                // there is nothing to wait for.
                let _ = rx.wait_for(|now| *now >= at).await;
            }
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Inner::System => f.write_str("Clock::system"),
            Inner::Manual(t) => write!(f, "Clock::manual({})", *t.borrow()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_wakes_sleepers_when_moved() {
        let clock = Clock::manual(1000);
        let c = clock.clone();
        let sleeper = tokio::spawn(async move {
            c.sleep_until(1060).await;
            c.now()
        });
        tokio::task::yield_now().await;
        clock.advance(30);
        assert!(!sleeper.is_finished());
        clock.advance(30);
        assert_eq!(sleeper.await.unwrap(), 1060);
    }
}
