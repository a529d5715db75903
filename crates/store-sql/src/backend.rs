//! The storage traits, implemented once for both databases on [`SqlStore`]. A store
//! crate gives a [`Backend`]: its pools, its cache, and the few writes that *run*
//! differently on each database (SQLite's group-commit batcher, PostgreSQL's
//! combined org writes, where rate-limit state lives). The SQL itself differs
//! only through the [`Dialect`]; the methods that hold it, with their
//! transactions, locks and cache steps, are in this crate's aggregate modules.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orgbase_domain::org::Org;
use orgbase_domain::rate::Quota;
use orgbase_domain::sealed::SecretKey;
use orgbase_domain::store::{OrgChange, RateLimitStore, Store};
use orgbase_domain::{DomainError, Id, StoreError};
use orgbase_store_cache::Cache;
use sqlx::Pool;
use sqlx::pool::PoolConnection;

use crate::dialect::Dialect;
use crate::error::backend;

/// What a store crate supplies to [`SqlStore`].
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The database it speaks.
    type Db: Dialect;
    /// Held by a write that changes what the cache's auth part keeps (accounts,
    /// members, connections, apps): empties it when dropped, after the commit.
    type Changing<'a>: Send
    where
        Self: 'a;
    /// What [`Store::backend`] answers.
    const NAME: &'static str;

    /// The pool reads go to.
    fn reader(&self) -> &Pool<Self::Db>;
    /// The pool writes go to.
    fn writer(&self) -> &Pool<Self::Db>;
    /// The cache, to fill and forget; reads take it from [`Backend::cached`].
    fn cache(&self) -> &Cache;
    /// The cache, while reads may trust it.
    fn cached(&self) -> Option<&Cache>;
    /// See [`Backend::Changing`].
    fn changing(&self) -> Self::Changing<'_>;
    /// Tells the cache an org was written by this node: kept, where every write
    /// passes through this process, or forgotten, where other nodes write too.
    fn wrote_org(&self, org: &Org);

    /// [`Store::ping`].
    async fn ping(&self) -> Result<(), StoreError>;
    /// [`orgbase_domain::store::OrgStore::modify_org`]: changes to one org are
    /// combined into one commit, each database its own way.
    async fn modify_org(
        &self,
        id: Id,
        change: OrgChange,
        updater: Option<Id>,
        now: DateTime<Utc>,
    ) -> Result<Org, DomainError>;
    /// [`orgbase_domain::store::LoginSessionStore::touch_login_session`]; the SQL
    /// is [`crate::login_sessions::touch`].
    async fn touch_login_session(
        &self,
        id: Id,
        last_seen: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// [`orgbase_domain::store::LoginSessionStore::delete_login_session`]; the SQL
    /// is [`crate::login_sessions::delete`].
    async fn delete_login_session(&self, id: Id) -> Result<(), StoreError>;
    /// [`orgbase_domain::store::RateLimitStore::rate_limit`].
    async fn rate_limit(&self, key: &str, quota: Quota, now: DateTime<Utc>) -> Result<Option<Duration>, StoreError>;
    /// Drops the rate-limit state that no longer limits anything at `now`; how
    /// many keys went.
    async fn purge_rate_limits(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// A store on a [`Backend`]: every storage trait of `orgbase_domain::store`.
/// Cloning it shares the backend. App secrets are sealed under its secret key
/// ([`SqlStore::sealing_with`]); without one, writing or reading a secret fails.
#[derive(Debug)]
pub struct SqlStore<B>(Arc<B>, Option<Arc<SecretKey>>);

impl<B> Clone for SqlStore<B> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0), self.1.clone())
    }
}

impl<B: Backend> SqlStore<B> {
    /// A store on `backend`.
    pub fn new(backend: B) -> Self {
        Self(Arc::new(backend), None)
    }

    /// The store sealing app secrets under `key`.
    #[must_use]
    pub fn sealing_with(self, key: SecretKey) -> Self {
        Self(self.0, Some(Arc::new(key)))
    }

    /// The key that seals app secrets.
    pub(crate) fn secret_key(&self) -> Result<&SecretKey, StoreError> {
        self.1.as_deref().ok_or_else(|| StoreError::Backend("no secret key to seal app secrets with".into()))
    }

    /// A connection from the reader pool.
    pub(crate) async fn read(&self) -> Result<PoolConnection<B::Db>, StoreError> {
        self.0.reader().acquire().await.map_err(backend)
    }

    /// A connection from the writer pool.
    pub(crate) async fn write(&self) -> Result<PoolConnection<B::Db>, StoreError> {
        self.0.writer().acquire().await.map_err(backend)
    }

    /// A transaction on the writer pool.
    pub(crate) async fn begin(&self) -> Result<sqlx::Transaction<'static, B::Db>, StoreError> {
        self.0.writer().begin().await.map_err(backend)
    }
}

impl<B> Deref for SqlStore<B> {
    type Target = B;

    fn deref(&self) -> &B {
        &self.0
    }
}

#[async_trait]
impl<B: Backend> Store for SqlStore<B> {
    fn backend(&self) -> &'static str {
        B::NAME
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.0.ping().await
    }
}

#[async_trait]
impl<B: Backend> RateLimitStore for SqlStore<B> {
    async fn rate_limit(&self, key: &str, quota: Quota, now: DateTime<Utc>) -> Result<Option<Duration>, StoreError> {
        Backend::rate_limit(&*self.0, key, quota, now).await
    }
}
