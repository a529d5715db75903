//! The PostgreSQL backend, for scale-out: several orgbase nodes on one database.
//! Same traits and same migration file names as `store-sqlite`; this crate owns the
//! migrations, and holds no business rule.
//!
//! The storage traits are implemented once, on `orgbase_store_sql::SqlStore`; this
//! crate gives it a [`PgBackend`]: the pool, the cache and the listener that keeps
//! it true (`listener.rs`), the combined org writes (`org_writes.rs`), and rate
//! limits in a table that every node shares (`rate_limits.rs`).

mod listener;
mod org_writes;
mod rate_limits;
pub mod testing;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orgbase_domain::org::Org;
use orgbase_domain::rate::Quota;
use orgbase_domain::store::OrgChange;
use orgbase_domain::{DomainError, Id, StoreError};
use orgbase_store_cache::Cache;
use orgbase_store_sql::backend::{Backend, SqlStore};
use orgbase_store_sql::login_sessions::{delete, touch};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::listener::{heartbeat, listen_for_changes, subscribe};

// The modules map driver errors with it, under the crate root.
pub(crate) use orgbase_store_sql::error::backend;

/// The database this crate speaks.
type Db = sqlx::Postgres;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The PostgreSQL store: every storage trait, on a [`PgBackend`].
pub type PgStore = SqlStore<PgBackend>;

/// What the PostgreSQL store runs on.
#[derive(Debug)]
pub struct PgBackend {
    pool: PgPool,
    /// Kept reads; used only while `listening` (see [`listen_for_changes`]).
    cache: Arc<Cache>,
    listening: Arc<AtomicBool>,
    /// Changes to an org queue here and are written a batch per transaction.
    org_writes: Arc<org_writes::OrgWrites>,
}

/// Connects to a `postgres://` URL and runs the migrations.
pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
    PgBackend::connect(url).await.map(SqlStore::new)
}

impl PgBackend {
    async fn connect(url: &str) -> Result<Self, StoreError> {
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

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl Backend for PgBackend {
    type Db = Db;
    type Changing<'a> = orgbase_store_cache::Changing<'a>;
    const NAME: &'static str = "postgres";

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    /// The same pool: transactions and row locks keep concurrent writes apart.
    fn writer(&self) -> &PgPool {
        &self.pool
    }

    fn cache(&self) -> &Cache {
        &self.cache
    }

    /// The cache, while this node hears every change (else reads go to the
    /// database).
    fn cached(&self) -> Option<&Cache> {
        self.listening.load(Ordering::SeqCst).then_some(&*self.cache)
    }

    fn changing(&self) -> orgbase_store_cache::Changing<'_> {
        self.cache.changing()
    }

    /// Forgotten: the other nodes learn of the write through `listener.rs`, and
    /// this one reads it back.
    fn wrote_org(&self, org: &Org) {
        self.cache.forget_org(org.id);
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(backend)?;
        Ok(())
    }

    async fn modify_org(
        &self,
        id: Id,
        change: OrgChange,
        updater: Option<Id>,
        now: DateTime<Utc>,
    ) -> Result<Org, DomainError> {
        self.org_writes.modify(&self.pool, &self.cache, id, change, updater, now).await
    }

    /// Straight to the pool: there is no single writer to batch behind.
    async fn touch_login_session(
        &self,
        id: Id,
        last_seen: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        touch::<Db>(&mut *self.pool.acquire().await.map_err(backend)?, id, last_seen, expires).await?;
        self.cache.forget_login_session(id);
        Ok(())
    }

    async fn delete_login_session(&self, id: Id) -> Result<(), StoreError> {
        delete::<Db>(&mut *self.pool.acquire().await.map_err(backend)?, id).await?;
        self.cache.forget_login_session(id);
        Ok(())
    }

    async fn rate_limit(&self, key: &str, quota: Quota, now: DateTime<Utc>) -> Result<Option<Duration>, StoreError> {
        self.rate_limit_in_table(key, quota, now).await
    }

    async fn purge_rate_limits(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let purge = sqlx::query("DELETE FROM rate_limits WHERE tat < $1").bind(now.timestamp_millis());
        Ok(purge.execute(&self.pool).await.map_err(backend)?.rows_affected())
    }
}
