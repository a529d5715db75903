//! Rate limits on SQLite: a generic cell rate algorithm over an in-memory map
//! (key → theoretical arrival time, ms), since a SQLite database has one serving
//! node; PostgreSQL keeps the same state in a table, shared by its nodes.

use std::sync::PoisonError;
use std::time::Duration;

use chrono::{DateTime, Utc};
use orgbase_domain::rate::Quota;

use orgbase_store_sql::cells::millis;

use crate::SqliteBackend;

/// Past this many rate-limit keys, those that no longer limit anything are
/// dropped at once rather than at the next purge.
const MAX_RATE_LIMIT_KEYS: usize = 100_000;

impl SqliteBackend {
    /// `RateLimitStore::rate_limit`: how long to wait, or `None` when the event
    /// is allowed (and counted).
    pub(crate) fn rate_limit_in_memory(&self, key: &str, quota: Quota, now: DateTime<Utc>) -> Option<Duration> {
        let now_ms = millis(now);
        let mut limits = self.rate_limits.lock().unwrap_or_else(PoisonError::into_inner);
        if limits.len() >= MAX_RATE_LIMIT_KEYS {
            limits.retain(|_, tat| *tat >= now_ms);
        }
        match quota.check(limits.get(key).copied(), now_ms) {
            Ok(tat) => {
                limits.insert(key.to_owned(), tat);
                None
            }
            Err(wait) => Some(wait.max(Duration::from_millis(1))),
        }
    }

    /// Drops the keys that no longer limit anything at `now`; how many went.
    pub(crate) fn purge_rate_limits_in_memory(&self, now: DateTime<Utc>) -> u64 {
        let mut limits = self.rate_limits.lock().unwrap_or_else(PoisonError::into_inner);
        let before = limits.len();
        limits.retain(|_, tat| *tat >= millis(now));
        (before - limits.len()) as u64
    }
}
