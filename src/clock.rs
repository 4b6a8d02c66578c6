//! Wall-clock time derived from tokio's clock.
//!
//! Windows are anchored at wall-clock `deployed_at` (so they survive restarts), but sleeping
//! goes through tokio time. `Clock` maps between the two from one anchor taken at start-up, so
//! tests that pause and advance tokio time move the wall clock with it.

use chrono::{DateTime, Utc};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    wall: DateTime<Utc>,
    mono: Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    pub fn new() -> Self {
        Clock { wall: Utc::now(), mono: Instant::now() }
    }

    /// Now, as wall-clock time.
    pub fn now(&self) -> DateTime<Utc> {
        self.wall + chrono::Duration::from_std(self.mono.elapsed()).unwrap_or_default()
    }

    /// The tokio instant at which wall time `t` is reached (now, if it has passed).
    pub fn instant_at(&self, t: DateTime<Utc>) -> Instant {
        let now = self.now();
        match (t - now).to_std() {
            Ok(d) => Instant::now() + d,
            Err(_) => Instant::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn follows_paused_tokio_time() {
        let c = Clock::new();
        let t0 = c.now();
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!((c.now() - t0).num_seconds(), 3600);
        let target = c.now() + chrono::Duration::seconds(10);
        assert_eq!(c.instant_at(target) - Instant::now(), Duration::from_secs(10));
        assert_eq!(c.instant_at(t0), Instant::now(), "past times are now");
    }
}
