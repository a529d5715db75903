//! Rate limits as the generic cell rate algorithm (GCRA): a key's whole state is one
//! instant, its "theoretical arrival time" (TAT). An event conforms when, after it,
//! the TAT is no further ahead of now than the burst allows; a conforming event
//! moves the TAT one emission interval on. Stores keep the TAT per key
//! (`store::RateLimitStore`); this module owns the arithmetic, so that both
//! backends decide alike.

use std::time::Duration;

/// How many events a key may have: `burst` at once, refilled one per `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Milliseconds between two events at the sustained rate (at least 1).
    pub interval_ms: i64,
    /// Events allowed at once (at least 1).
    pub burst: u32,
}

impl Quota {
    /// `count` events per `period`, all of which may come at once.
    pub fn new(count: u32, period: Duration) -> Self {
        let count = count.max(1);
        let period_ms = i64::try_from(period.as_millis()).unwrap_or(i64::MAX);
        Self { interval_ms: (period_ms / i64::from(count)).max(1), burst: count }
    }

    /// How far ahead of now the TAT may be after a conforming event.
    pub fn tolerance_ms(&self) -> i64 {
        self.interval_ms.saturating_mul(i64::from(self.burst.max(1)))
    }

    /// Decides one event at `now_ms` against the stored TAT (`None`: never seen).
    /// `Ok(new_tat)` when it conforms (store `new_tat`); `Err(wait)` when it does
    /// not (store nothing), `wait` being how long until it would.
    pub fn check(&self, tat: Option<i64>, now_ms: i64) -> Result<i64, Duration> {
        let new_tat = tat.map_or(now_ms, |t| t.max(now_ms)).saturating_add(self.interval_ms);
        let ahead = new_tat.saturating_sub(now_ms);
        if ahead <= self.tolerance_ms() {
            Ok(new_tat)
        } else {
            Err(Duration::from_millis(u64::try_from(ahead - self.tolerance_ms()).unwrap_or(u64::MAX)))
        }
    }

    /// The wait of a refused event, from the TAT a store holds.
    pub fn wait(&self, tat: i64, now_ms: i64) -> Duration {
        self.check(Some(tat), now_ms).err().unwrap_or(Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_one_event_per_interval() {
        let quota = Quota::new(3, Duration::from_secs(60));
        assert_eq!(quota.interval_ms, 20_000);
        let mut tat = None;
        for _ in 0..3 {
            tat = Some(quota.check(tat, 0).unwrap());
        }
        assert_eq!(quota.check(tat, 0), Err(Duration::from_secs(20)));
        assert_eq!(quota.check(tat, 19_999), Err(Duration::from_millis(1)));
        let after = quota.check(tat, 20_000).unwrap();
        assert_eq!(after, 80_000);
        assert!(quota.check(Some(after), 20_000).is_err());
        assert_eq!(quota.wait(after, 20_000), Duration::from_secs(20));
    }

    #[test]
    fn an_idle_key_starts_over_with_its_full_burst() {
        let quota = Quota::new(2, Duration::from_secs(10));
        let tat = quota.check(quota.check(None, 0).ok(), 0).unwrap();
        assert!(quota.check(Some(tat), 0).is_err());
        let later = 1_000_000;
        let tat = quota.check(Some(tat), later).unwrap();
        assert!(quota.check(Some(tat), later).is_ok());
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let quota = Quota::new(1, Duration::from_secs(1));
        assert!(quota.check(Some(i64::MAX), i64::MIN).is_err());
        assert!(quota.check(None, i64::MAX).is_ok());
    }
}
