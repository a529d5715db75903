//! The embedded SQLite backend, the default. One file in the data dir, WAL journal,
//! `synchronous=FULL` so every committed write survives a power cut.
//!
//! Writes go through a pool of one connection, so they are serialised in-process
//! and never meet `SQLITE_BUSY` from each other; reads use a separate pool of
//! read-only connections that WAL lets run beside the writer.
//!
//! The storage traits are implemented once, on `orgbase_store_sql::SqlStore`; this
//! crate gives it a [`SqliteBackend`]: the pools, the cache, the migrations, and
//! the writes that run through the group-commit batcher (org changes, touching and
//! deleting login sessions), plus rate limits kept in memory. It holds no business
//! rule.

mod batch;
mod login_sessions;
mod org_writes;
mod rate_limits;
mod watcher;

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orgbase_domain::org::Org;
use orgbase_domain::rate::Quota;
use orgbase_domain::store::OrgChange;
use orgbase_domain::{DomainError, Id, StoreError};
use orgbase_store_cache::Cache;
use orgbase_store_sql::backend::{Backend, SqlStore};
use sqlx::SqliteConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::org_writes::StagedOrgs;
use crate::watcher::watch_external_changes;
// The modules map driver errors with it, under the crate root.
pub(crate) use orgbase_store_sql::error::backend;

/// The database this crate speaks, and its connection.
type Db = sqlx::Sqlite;
type Conn = SqliteConnection;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The SQLite store: every storage trait, on a [`SqliteBackend`].
pub type SqliteStore = SqlStore<SqliteBackend>;

/// What the SQLite store runs on.
#[derive(Debug)]
pub struct SqliteBackend {
    writer: SqlitePool,
    reader: SqlitePool,
    batcher: batch::Batcher<StagedOrgs>,
    cache: Arc<Cache>,
    /// Rate-limit state (key → theoretical arrival time, ms): in memory, since a
    /// SQLite database has one serving node.
    rate_limits: Mutex<HashMap<String, i64>>,
}

/// A store error back out of a batched write's [`DomainError`].
fn store_error(e: DomainError) -> StoreError {
    match e {
        DomainError::Store(e) => e,
        DomainError::NotFound => StoreError::NotFound,
        other => StoreError::Backend(other.to_string()),
    }
}

/// Held by a write method that changes what the cache's auth part keeps (accounts,
/// members, connections, apps): empties it when dropped, after the commit, and
/// once more when the writer connection is next free. The second time covers a
/// write whose caller went away mid-way (a timeout, a client that hung up): SQLite
/// may still finish it after the drop, and a read in between may have kept the
/// old rows.
pub struct Changing {
    writer: SqlitePool,
    cache: Arc<Cache>,
}

impl Drop for Changing {
    fn drop(&mut self) {
        self.cache.clear_auth();
        // No runtime left (the process is shutting down): nothing will read again.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let (writer, cache) = (self.writer.clone(), Arc::clone(&self.cache));
        runtime.spawn(async move {
            if let Ok(mut conn) = writer.acquire().await {
                // Queued behind whatever the connection's worker is still running.
                let _ = sqlx::query("SELECT 1").execute(&mut *conn).await;
            }
            cache.clear_auth();
        });
    }
}

/// Whether the writer connection may go back to its pool. A transaction that
/// failed (a full disk failing its `COMMIT`, say) can leave sqlx believing the
/// connection is still inside it: SQLite already rolled it back, so the `ROLLBACK`
/// queued when the transaction was dropped fails too, sqlx's transaction depth
/// stays at one, and every later `BEGIN` on the connection would be refused
/// ("attempted to call begin_with at non-zero transaction depth"). Such a
/// connection is closed instead, and the pool opens a fresh one for the next write.
async fn release_writer(conn: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    // Runs after whatever the connection still has queued (that `ROLLBACK`).
    sqlx::Connection::ping(conn).await?;
    if sqlx::Connection::is_in_transaction(conn) {
        tracing::warn!("the writer connection was left inside a failed transaction; opening a fresh one");
        return Ok(false);
    }
    Ok(true)
}

/// Opens (creating if needed) `orgbase.db` in `data_dir` and runs the migrations.
pub async fn open_dir(data_dir: &Path) -> Result<SqliteStore, StoreError> {
    std::fs::create_dir_all(data_dir).map_err(backend)?;
    let options = SqliteConnectOptions::new().filename(data_dir.join("orgbase.db"));
    SqliteBackend::open(options).await.map(SqlStore::new)
}

/// Opens a `sqlite:` URL and runs the migrations.
pub async fn open_url(url: &str) -> Result<SqliteStore, StoreError> {
    SqliteBackend::open(SqliteConnectOptions::from_str(url).map_err(backend)?).await.map(SqlStore::new)
}

impl SqliteBackend {
    async fn open(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("cache_size", "-16000")
            .pragma("temp_store", "memory");
        // One writer connection for the life of the store: `PRAGMA data_version`
        // (see `watch_external_changes`) compares readings of one connection.
        // Connections are in-process: no ping before each use (a round trip to
        // the connection's thread), as there is no network to have broken them.
        let writer = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .after_release(|conn, _| Box::pin(release_writer(conn)))
            .max_connections(1)
            .min_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_with(options.clone())
            .await
            .map_err(backend)?;
        MIGRATOR.run(&writer).await.map_err(backend)?;
        let readers = std::thread::available_parallelism().map_or(4, |n| n.get() as u32 * 2).max(4);
        let reader = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(readers)
            .min_connections(1)
            .connect_with(options.read_only(true))
            .await
            .map_err(backend)?;
        let cache = Arc::<Cache>::default();
        tokio::spawn(watch_external_changes(writer.clone(), Arc::downgrade(&cache)));
        let batcher = batch::Batcher::start(writer.clone());
        Ok(Self { batcher, writer, reader, cache, rate_limits: Mutex::default() })
    }

    /// Closes both pools, checkpointing the WAL.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    type Db = Db;
    type Changing<'a> = Changing;
    const NAME: &'static str = "sqlite";

    /// Read-only connections beside the writer.
    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// The one writer connection.
    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Always: every write of this process goes through it, and the watcher
    /// empties it when another process writes.
    fn cached(&self) -> Option<&Cache> {
        Some(&self.cache)
    }

    fn changing(&self) -> Changing {
        Changing { writer: self.writer.clone(), cache: Arc::clone(&self.cache) }
    }

    /// Kept: every write of this process passes here.
    fn wrote_org(&self, org: &Org) {
        self.cache.wrote_org(Arc::new(org.clone()));
    }

    /// Reads answer, and writes: after a batch failed because the storage was full
    /// or unreachable, and until one commits, a probe write (page 1's
    /// `user_version`, set to what it is) goes through the writer, so that the
    /// node is ready again once space is back even if no client writes meanwhile.
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await.map_err(backend)?;
        if self.batcher.is_failing() {
            self.batcher.write(|conn, _| Box::pin(probe_write(conn)), |()| {}).await.map_err(store_error)?;
        }
        Ok(())
    }

    async fn modify_org(
        &self,
        id: Id,
        change: OrgChange,
        updater: Option<Id>,
        now: DateTime<Utc>,
    ) -> Result<Org, DomainError> {
        self.modify_org_in_batch(id, change, updater, now).await
    }

    async fn touch_login_session(
        &self,
        id: Id,
        last_seen: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.touch_in_batch(id, last_seen, expires).await
    }

    async fn delete_login_session(&self, id: Id) -> Result<(), StoreError> {
        self.delete_in_batch(id).await
    }

    async fn rate_limit(&self, key: &str, quota: Quota, now: DateTime<Utc>) -> Result<Option<Duration>, StoreError> {
        Ok(self.rate_limit_in_memory(key, quota, now))
    }

    async fn purge_rate_limits(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(self.purge_rate_limits_in_memory(now))
    }
}

/// Sets page 1's `user_version` to what it is: a write that changes nothing.
async fn probe_write(conn: &mut Conn) -> Result<(), DomainError> {
    let version: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&mut *conn).await.map_err(backend)?;
    sqlx::query(&format!("PRAGMA user_version = {version}")).execute(&mut *conn).await.map_err(backend)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests: a failed unwrap is a failed test"
    )]

    use chrono::{DateTime, Utc};
    use orgbase_domain::org::{NewOrg, Org};
    use orgbase_domain::store::{OrgChange, OrgStore, Store};

    use super::*;
    use orgbase_store_sql::cells::from_millis;

    /// A fixed time: tests take no time from the system clock.
    fn now() -> DateTime<Utc> {
        from_millis(1_700_000_000_000)
    }

    async fn org(store: &SqliteStore, code: &str) -> Org {
        let new = NewOrg { code: code.into(), name: code.into(), locale: None, tz: None };
        let org = Org::create(new, now()).unwrap();
        store.insert_org(&org, None).await.unwrap();
        org
    }

    fn rename(name: &'static str) -> OrgChange {
        Box::new(move |org: &Org| {
            let mut props = org.props.clone();
            props.name = name.into();
            Ok((props, org.schema.clone()))
        })
    }

    /// One org's row cannot be read (a document deeper than serde_json reads back);
    /// a change to it shares a group-commit batch with changes to two other orgs.
    /// It fails alone: the others commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_fails_alone_and_the_rest_of_its_batch_commits() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_dir(dir.path()).await.unwrap();
        let (a, broken, b) = (org(&store, "alpha").await, org(&store, "broken").await, org(&store, "bravo").await);
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        sqlx::query("UPDATE orgs SET props = json_set(props, '$.deep', json(?)) WHERE id = ?")
            .bind(&deep)
            .bind(broken.id.to_string())
            .execute(&store.writer)
            .await
            .unwrap();
        // Hold the writer connection, so that a first write waits for it and the
        // three below queue behind it: they then run as one batch.
        let held = store.writer.acquire().await.unwrap();
        let first = tokio::spawn({
            let store = store.clone();
            async move { store.modify_org(a.id, rename("First"), None, now()).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let writes: Vec<_> = [(a.id, "Alpha"), (broken.id, "Broken"), (b.id, "Bravo")]
            .into_iter()
            .map(|(id, name)| {
                let store = store.clone();
                tokio::spawn(async move { store.modify_org(id, rename(name), None, now()).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(held);
        first.await.unwrap().unwrap();
        let mut results = Vec::new();
        for write in writes {
            results.push(write.await.unwrap());
        }
        assert_eq!(results[0].as_ref().unwrap().props.name, "Alpha");
        assert!(matches!(results[1], Err(DomainError::Store(StoreError::Backend(_)))), "{:?}", results[1]);
        assert_eq!(results[2].as_ref().unwrap().props.name, "Bravo");
        assert_eq!(store.org_by_id(a.id).await.unwrap().unwrap().props.name, "Alpha");
        assert_eq!(store.org_by_id(b.id).await.unwrap().unwrap().props.name, "Bravo");
        store.close().await;
    }

    /// A capped database (`max_page_count`) fails writes with `SQLITE_FULL`: they
    /// are told the storage is full, and once the cap is lifted writes work again
    /// on the same store.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_database_is_told_apart_and_the_writer_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_dir(dir.path()).await.unwrap();
        let org = org(&store, "alpha").await;
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count").fetch_one(&store.writer).await.unwrap();
        sqlx::query(&format!("PRAGMA max_page_count = {}", pages + 2)).execute(&store.writer).await.unwrap();
        let big: &'static str = "x".repeat(64 * 1024).leak();
        let mut full = None;
        for _ in 0..20 {
            match store.modify_org(org.id, rename(big), None, now()).await {
                Ok(_) => {}
                Err(e) => {
                    full = Some(e);
                    break;
                }
            }
        }
        assert!(matches!(full, Some(DomainError::Store(StoreError::StorageFull(_)))), "{full:?}");
        // The cap is the connection's: lifted on the writer connection if it is the
        // same, gone with it if the failed batch made the pool replace it.
        sqlx::query("PRAGMA max_page_count = 1073741823").execute(&store.writer).await.unwrap();
        store.ping().await.unwrap();
        assert_eq!(store.modify_org(org.id, rename("Alpha"), None, now()).await.unwrap().props.name, "Alpha");
        store.close().await;
    }
}
