//! The `RateLimitStore` impl on SQLite: a generic cell rate algorithm over an
//! in-memory map (key → theoretical arrival time, ms), since a SQLite database has
//! one serving node; PostgreSQL keeps the same state in a table, shared by its
//! nodes.

use std::sync::PoisonError;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orgbase_domain::StoreError;
use orgbase_domain::rate::Quota;
use orgbase_domain::store::RateLimitStore;

use crate::SqliteStore;
use crate::sql::millis;

/// Past this many rate-limit keys, those that no longer limit anything are
/// dropped at once rather than at the next purge.
const MAX_RATE_LIMIT_KEYS: usize = 100_000;

#[async_trait]
impl RateLimitStore for SqliteStore {
    async fn rate_limit(&self, key: &str, quota: Quota, now: DateTime<Utc>) -> Result<Option<Duration>, StoreError> {
        let now_ms = millis(now);
        let mut limits = self.rate_limits.lock().unwrap_or_else(PoisonError::into_inner);
        if limits.len() >= MAX_RATE_LIMIT_KEYS {
            limits.retain(|_, tat| *tat >= now_ms);
        }
        match quota.check(limits.get(key).copied(), now_ms) {
            Ok(tat) => {
                limits.insert(key.to_owned(), tat);
                Ok(None)
            }
            Err(wait) => Ok(Some(wait.max(Duration::from_millis(1)))),
        }
    }
}
