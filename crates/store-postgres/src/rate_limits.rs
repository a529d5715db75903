//! Rate limits on PostgreSQL: a generic cell rate algorithm over the
//! `rate_limits` table (key → theoretical arrival time, ms), shared by every node,
//! as one upsert that only moves the time when the request is allowed. SQLite keeps
//! the same state in memory, having one serving node.

use std::time::Duration;

use chrono::{DateTime, Utc};
use orgbase_domain::StoreError;
use orgbase_domain::rate::Quota;

use crate::{PgBackend, backend};

impl PgBackend {
    /// `RateLimitStore::rate_limit`: how long to wait, or `None` when the event
    /// is allowed (and counted).
    pub(crate) async fn rate_limit_in_table(
        &self,
        key: &str,
        quota: Quota,
        now: DateTime<Utc>,
    ) -> Result<Option<Duration>, StoreError> {
        // One statement decides and counts, whichever node runs it: the row's lock
        // orders concurrent checks of a key, and a refused event writes nothing.
        let now_ms = now.timestamp_millis();
        let counted = sqlx::query_scalar::<_, i64>(
            "INSERT INTO rate_limits (key, tat) VALUES ($1, $2 + $3) \
             ON CONFLICT (key) DO UPDATE SET tat = GREATEST(rate_limits.tat, $2) + $3 \
             WHERE GREATEST(rate_limits.tat, $2) + $3 - $2 <= $4 \
             RETURNING tat",
        )
        .bind(key)
        .bind(now_ms)
        .bind(quota.interval_ms)
        .bind(quota.tolerance_ms())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        if counted.is_some() {
            return Ok(None);
        }
        let tat = sqlx::query_scalar::<_, i64>("SELECT tat FROM rate_limits WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        Ok(Some(tat.map_or(Duration::from_millis(1), |tat| quota.wait(tat, now_ms)).max(Duration::from_millis(1))))
    }
}
