//! The PostgreSQL backend, for scale-out: several orgbase nodes on one database.
//! Same traits and same migration file names as `store-sqlite`; this crate owns the
//! SQL and the migrations, and holds no business rule.

mod accounts;
mod apps;
mod connections;
mod facilities;
mod listener;
mod live_sessions;
mod login_sessions;
mod members;
mod org_writes;
mod orgs;
mod posts;
mod rate_limits;
mod sql;
pub mod testing;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use orgbase_domain::StoreError;
use orgbase_domain::store::Store;
use orgbase_store_cache::Cache;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::listener::{heartbeat, listen_for_changes, subscribe};
use crate::orgs::{ORG_COLUMNS, org_row};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Kept reads; used only while `listening` (see [`listen_for_changes`]).
    cache: Arc<Cache>,
    listening: Arc<AtomicBool>,
    /// Changes to an org queue here and are written a batch per transaction.
    org_writes: Arc<org_writes::OrgWrites>,
}

/// A backend failure, classified: a full disk and a database that cannot be
/// reached now are told apart from other failures, so that clients are told to
/// come back later rather than that something broke.
fn backend(e: impl std::fmt::Display + 'static) -> StoreError {
    let message = e.to_string();
    match (&e as &dyn std::any::Any).downcast_ref::<sqlx::Error>() {
        Some(e) => classify(e, message),
        None => StoreError::Backend(message),
    }
}

/// Sorts a driver error by its SQLSTATE (<https://www.postgresql.org/docs/current/errcodes-appendix.html>):
/// `53100` disk_full is [`StoreError::StorageFull`]; the other insufficient
/// resources (`53xxx`: out of memory, too many connections), a server shutting down
/// or starting up (`57P01`–`57P03`), connection exceptions (`08xxx`), a lost or
/// refused connection (I/O, TLS) and a pool that timed out or closed are
/// [`StoreError::Unavailable`]; anything else is a plain backend failure.
fn classify(e: &sqlx::Error, message: String) -> StoreError {
    match e {
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("53100") => StoreError::StorageFull(message),
            Some(code)
                if code.starts_with("53") || code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03") =>
            {
                StoreError::Unavailable(message)
            }
            _ => StoreError::Backend(message),
        },
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => StoreError::Unavailable(message),
        _ => StoreError::Backend(message),
    }
}

/// Maps a driver error, turning unique-constraint violations into `Exists`.
fn map_err(e: sqlx::Error, what: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Exists(what.to_owned()),
        _ => backend(e),
    }
}

impl PgStore {
    /// Connects to a `postgres://` URL and runs the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(backend)?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(backend)?;
        MIGRATOR.run(&pool).await.map_err(backend)?;
        let (channel,): (String,) =
            sqlx::query_as("SELECT 'orgbase_' || md5(current_schema())").fetch_one(&pool).await.map_err(backend)?;
        let listener = subscribe(&pool, &channel).await.map_err(backend)?;
        let (cache, listening) = (Arc::<Cache>::default(), Arc::new(AtomicBool::new(true)));
        tokio::spawn(heartbeat(pool.clone(), channel.clone()));
        tokio::spawn(listen_for_changes(pool.clone(), listener, channel, Arc::clone(&cache), Arc::clone(&listening)));
        Ok(Self { pool, cache, listening, org_writes: Arc::default() })
    }

    /// The cache, while this node hears every change (else reads go to the
    /// database).
    fn cached(&self) -> Option<&Cache> {
        self.listening.load(Ordering::SeqCst).then_some(&*self.cache)
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(backend)?;
        Ok(())
    }
}
