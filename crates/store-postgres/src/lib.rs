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
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

use crate::listener::{heartbeat, listen_for_changes, subscribe};

// The aggregate files map driver errors with these, under the crate root.
pub(crate) use orgbase_store_sql::error::{backend, map_err};

/// The database this crate speaks, and its connection, under the names the
/// aggregate files share with `store-sqlite`.
type Db = sqlx::Postgres;
type Conn = PgConnection;

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

    /// The pool reads go to.
    fn reader(&self) -> &PgPool {
        &self.pool
    }

    /// The pool writes go to: the same pool; transactions and row locks keep
    /// concurrent writes apart.
    fn writer(&self) -> &PgPool {
        &self.pool
    }

    /// Held by a write that changes what the cache's auth part keeps: empties it
    /// when dropped, after the commit.
    fn changing(&self) -> orgbase_store_cache::Changing<'_> {
        self.cache.changing()
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
