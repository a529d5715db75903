//! The external-change watcher: empties the cache when another process (the CLI,
//! say) commits to the database file. It polls `PRAGMA data_version` every 250 ms,
//! so another process's commit is seen by this one's cache within a quarter second.

use std::sync::Weak;
use std::time::Duration;

use sqlx::sqlite::SqlitePool;

/// How often the store looks for changes made by another process.
const EXTERNAL_CHANGE_POLL: Duration = Duration::from_millis(250);

/// Empties the cache when another process commits to the database. SQLite's
/// `PRAGMA data_version`, read on the writer connection, changes exactly when a
/// *different* connection committed; every write of this process goes through the
/// writer, so a change means another process (the CLI, say) wrote. Ends when the
/// store is dropped or closed.
pub(crate) async fn watch_external_changes(writer: SqlitePool, cache: Weak<orgbase_store_cache::Cache>) {
    let mut seen: Option<i64> = None;
    let mut tick = tokio::time::interval(EXTERNAL_CHANGE_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(cache) = cache.upgrade() else { return };
        if writer.is_closed() {
            return;
        }
        match sqlx::query_scalar::<_, i64>("PRAGMA data_version").fetch_one(&writer).await {
            Ok(version) => {
                if seen.is_some_and(|v| v != version) {
                    tracing::debug!("another process changed the database; emptying the cache");
                    cache.clear();
                }
                seen = Some(version);
            }
            Err(e) => tracing::warn!(error = %e, "could not read PRAGMA data_version"),
        }
    }
}
