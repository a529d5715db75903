//! The `LISTEN` listener: other nodes' changes, announced by the notify triggers
//! of migration 0006, evict the cache entries they touch. While the connection is
//! down or silent, the store reads past the cache.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use orgbase_domain::Id;
use orgbase_store_cache::Cache;
use sqlx::postgres::{PgListener, PgPool};

/// How often a node notifies itself, and how long it waits to hear anything
/// before it takes its listening connection for dead (a connection can die without
/// a word, behind a NAT or a proxy).
const HEARTBEAT: Duration = Duration::from_secs(5);
const SILENCE: Duration = Duration::from_secs(15);

pub(crate) async fn subscribe(pool: &PgPool, channel: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(channel).await?;
    Ok(listener)
}

/// Notifies this node's own channel every [`HEARTBEAT`], so that its listener
/// hears something even when nothing changes. Ends when the pool closes.
pub(crate) async fn heartbeat(pool: PgPool, channel: String) {
    while !pool.is_closed() {
        tokio::time::sleep(HEARTBEAT).await;
        let _ = sqlx::query("SELECT pg_notify($1, 'ping')").bind(&channel).execute(&pool).await;
    }
}

/// Keeps this node's cache in step with the database: every change, by any node,
/// the CLI or SQL by hand, comes as a notification from the triggers of migration
/// 0006 when it commits. If the connection drops or goes silent, notifications may
/// be lost: the cache is emptied and unused until this node listens again on a new
/// connection. Ends when the pool closes.
pub(crate) async fn listen_for_changes(
    pool: PgPool,
    mut listener: PgListener,
    channel: String,
    cache: Arc<Cache>,
    listening: Arc<AtomicBool>,
) {
    loop {
        let lost = match tokio::time::timeout(SILENCE, listener.try_recv()).await {
            Ok(Ok(Some(change))) => {
                forget_change(&cache, change.payload());
                continue;
            }
            // The connection dropped and sqlx made it again: what came meanwhile is lost.
            Ok(Ok(None)) => {
                cache.clear();
                continue;
            }
            Ok(Err(sqlx::Error::PoolClosed)) => return,
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("heard nothing for {} s", SILENCE.as_secs()),
        };
        tracing::warn!(error = %lost, "lost the change notifications; reading from the database until back");
        listening.store(false, Ordering::SeqCst);
        cache.clear();
        listener = loop {
            if pool.is_closed() {
                return;
            }
            match subscribe(&pool, &channel).await {
                Ok(listener) => break listener,
                Err(e) => tracing::warn!(error = %e, "could not listen for changes again"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        cache.clear();
        listening.store(true, Ordering::SeqCst);
        tracing::info!("listening for changes again");
    }
}

/// Forgets what a notification of migration 0006 names.
fn forget_change(cache: &Cache, payload: &str) {
    let row = payload.split_once(':').and_then(|(table, id)| Some((table, Id::parse(id)?)));
    match (row, payload) {
        (Some(("orgs", id)), _) => cache.forget_org(id),
        (Some(("login_sessions", id)), _) => cache.forget_login_session(id),
        (None, "apps") => cache.forget_apps(),
        (None, "accounts" | "members" | "connections") => cache.clear_auth(),
        (None, "ping") => {}
        _ => cache.clear(),
    }
}
