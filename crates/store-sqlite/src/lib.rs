//! The embedded SQLite backend, the default. One file in the data dir, WAL journal,
//! `synchronous=FULL` so every committed write survives a power cut.
//!
//! Writes go through a pool of one connection, so they are serialised in-process
//! and never meet `SQLITE_BUSY` from each other; reads use a separate pool of
//! read-only connections that WAL lets run beside the writer. This crate owns the
//! SQL and the migrations; it holds no business rule.

mod batch;

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use orgbase_domain::account::{
    Account, Email, Member, MemberEntry, MemberState, Session, account_from_row, member_entry_from_row,
    member_from_row, session_from_row,
};
use orgbase_domain::app::{App, app_from_row};
use orgbase_domain::connection::{Connection, ConnectionState, connection_from_row};
use orgbase_domain::facility::{self, Facility, PlaceChanges, Room, facility_from_row, room_from_row};
use orgbase_domain::org::{Org, OrgState, org_from_row};
use orgbase_domain::paging::{Page, PageRequest};
use orgbase_domain::post::{Post, post_from_row};
use orgbase_domain::rate::Quota;
use orgbase_domain::session::{
    self, LiveSession, Participant, Permissions, SessionChanges, SessionQuery, SessionScope, SessionState,
    attach_participants, live_session_from_row, participant_from_row,
};
use orgbase_domain::store::{
    Acceptance, AccountStore, Admins, AppStore, ConnectionStore, FacilityStore, LinkRequest, Linked, LiveSessionStore,
    MemberFilter, MemberStore, OrgChange, OrgStore, PostStore, RateLimitStore, SessionStore, Store,
};
use orgbase_domain::{DomainError, Id, StoreError};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    batcher: Arc<batch::Batcher<StagedOrgs>>,
    cache: Arc<orgbase_store_cache::Cache>,
    /// Rate-limit state (key → theoretical arrival time, ms): in memory, since a
    /// SQLite database has one serving node.
    rate_limits: Arc<Mutex<HashMap<String, i64>>>,
}

/// Past this many rate-limit keys, those that no longer limit anything are
/// dropped at once rather than at the next purge.
const MAX_RATE_LIMIT_KEYS: usize = 100_000;

/// How often the store looks for changes made by another process.
const EXTERNAL_CHANGE_POLL: Duration = Duration::from_millis(250);

/// Empties the cache when another process commits to the database. SQLite's
/// `PRAGMA data_version`, read on the writer connection, changes exactly when a
/// *different* connection committed; every write of this process goes through the
/// writer, so a change means another process (the CLI, say) wrote. Ends when the
/// store is dropped or closed.
async fn watch_external_changes(writer: SqlitePool, cache: Weak<orgbase_store_cache::Cache>) {
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

/// SQLite's primary result codes that [`classify`] tells apart
/// (<https://www.sqlite.org/rescode.html>).
const SQLITE_BUSY: i64 = 5;
const SQLITE_FULL: i64 = 13;

/// Sorts a driver error: `SQLITE_FULL` (a full disk or a capped database) is
/// [`StoreError::StorageFull`]; a pool that timed out or closed, a crashed worker,
/// an I/O error opening the file, or a database locked by another process past the
/// busy timeout is [`StoreError::Unavailable`]; anything else is a plain backend
/// failure.
fn classify(e: &sqlx::Error, message: String) -> StoreError {
    match e {
        sqlx::Error::Database(db) => {
            // The extended result code; its low byte is the primary code.
            match db.code().and_then(|c| c.parse::<i64>().ok()).map(|c| c & 0xff) {
                Some(SQLITE_FULL) => StoreError::StorageFull(message),
                Some(SQLITE_BUSY) => StoreError::Unavailable(message),
                _ => StoreError::Backend(message),
            }
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(message)
        }
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
struct Changing {
    writer: SqlitePool,
    cache: Arc<orgbase_store_cache::Cache>,
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

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
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

impl SqliteStore {
    /// Opens (creating if needed) `orgbase.db` in `data_dir` and runs the migrations.
    pub async fn open_dir(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(backend)?;
        let options = SqliteConnectOptions::new().filename(data_dir.join("orgbase.db"));
        Self::open(options).await
    }

    /// Opens a `sqlite:` URL and runs the migrations.
    pub async fn open_url(url: &str) -> Result<Self, StoreError> {
        Self::open(SqliteConnectOptions::from_str(url).map_err(backend)?).await
    }

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
        let cache = Arc::<orgbase_store_cache::Cache>::default();
        tokio::spawn(watch_external_changes(writer.clone(), Arc::downgrade(&cache)));
        let batcher = Arc::new(batch::Batcher::start(writer.clone()));
        Ok(Self { batcher, writer, reader, cache, rate_limits: Arc::default() })
    }

    fn changing(&self) -> Changing {
        Changing { writer: self.writer.clone(), cache: Arc::clone(&self.cache) }
    }

    /// Closes both pools, checkpointing the WAL.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

const ORG_COLUMNS: &str = "id, code, state, version, created, updated, updater, props, custom_props";

/// The org changes of one batch (see [`batch`]): each org is read once per batch,
/// changed in memory by each of the batch's writes in turn, and written once, just
/// before the commit. The batch holds SQLite's write lock from its start, so the
/// row cannot change between the read and the write.
#[derive(Debug, Default)]
struct StagedOrgs(Vec<StagedOrg>);

#[derive(Debug)]
struct StagedOrg {
    /// The version of the row as read.
    read: i64,
    org: Arc<Org>,
}

impl batch::Stage for StagedOrgs {
    fn flush<'c>(self, conn: &'c mut SqliteConnection) -> batch::ConnFuture<'c, Result<(), StoreError>> {
        Box::pin(async move {
            for StagedOrg { read, org } in self.0 {
                let custom = serde_json::to_string(&org.schema).map_err(backend)?;
                let written = sqlx::query(
                    "UPDATE orgs SET props = ?, custom_props = ?, name = ?, updater = ?, updated = ?, version = ? \
                     WHERE id = ? AND version = ?",
                )
                .bind(org.props.to_value().to_string())
                .bind(custom)
                .bind(&org.props.name)
                .bind(org.updater.map(|u| u.to_string()))
                .bind(millis(org.updated))
                .bind(org.version)
                .bind(org.id.to_string())
                .bind(read)
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                if written.rows_affected() != 1 {
                    return Err(StoreError::Backend(format!(
                        "org {}: the row changed under the batch's write lock",
                        org.id
                    )));
                }
            }
            Ok(())
        })
    }
}

/// One org change inside a batch: applied to the batch's latest version of the org
/// (read from the row the first time), and staged. A change that is refused stages
/// nothing.
async fn modify_in_batch(
    conn: &mut SqliteConnection,
    staged: &mut StagedOrgs,
    id: Id,
    change: &OrgChange,
    updater: Option<Id>,
    now: DateTime<Utc>,
) -> Result<Arc<Org>, DomainError> {
    let slot = match staged.0.iter().position(|s| s.org.id == id) {
        Some(slot) => slot,
        None => {
            let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = ?");
            let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *conn).await.map_err(backend)?;
            let org = row.as_ref().map(org_row).transpose()?.ok_or(StoreError::NotFound)?;
            staged.0.push(StagedOrg { read: org.version, org: Arc::new(org) });
            staged.0.len() - 1
        }
    };
    let current = &staged.0[slot].org;
    let (props, schema) = change(current)?;
    let updated = Arc::new(current.next(props, schema, updater, from_millis(millis(now))));
    staged.0[slot].org = Arc::clone(&updated);
    Ok(updated)
}

fn org_row(row: &sqlx::sqlite::SqliteRow) -> Result<Org, StoreError> {
    let props: String = row.try_get("props").map_err(backend)?;
    let schema: String = row.try_get("custom_props").map_err(backend)?;
    org_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("code").map_err(backend)?,
        row.try_get("state").map_err(backend)?,
        row.try_get("version").map_err(backend)?,
        from_millis(row.try_get("created").map_err(backend)?),
        from_millis(row.try_get("updated").map_err(backend)?),
        row.try_get("updater").map_err(backend)?,
        serde_json::from_str(&props).map_err(backend)?,
        serde_json::from_str(&schema).map_err(backend)?,
    )
}

fn sort_column(field: &str) -> &'static str {
    match field {
        "code" => "code",
        "name" => "name",
        "created" => "created",
        "scheduledStart" => "scheduled_start",
        _ => "id",
    }
}

/// Appends keyset paging over `(column, id)` to a query that already has a WHERE.
fn push_keyset(q: &mut QueryBuilder<'_, Sqlite>, table: &str, req: &PageRequest) {
    let column = sort_column(req.sort.field);
    if let Some(id) = req.cursor_id() {
        q.push(format_args!(
            " AND ({column}, id) {} (SELECT {column}, id FROM {table} WHERE id = ",
            req.sql_comparison()
        ));
        q.push_bind(id.to_string());
        q.push(")");
    }
    let dir = req.sql_direction();
    q.push(format_args!(" ORDER BY {column} {dir}, id {dir} LIMIT "));
    q.push_bind(i64::from(req.limit) + 1);
    q.push(" OFFSET ");
    q.push_bind(i64::from(req.skip));
}

#[async_trait]
impl OrgStore for SqliteStore {
    async fn insert_org(&self, org: &Org, admin: Option<&LinkRequest>) -> Result<Option<Linked>, StoreError> {
        let _changing = self.changing();
        let mut tx = self.writer.begin().await.map_err(backend)?;
        sqlx::query(
            "INSERT INTO orgs (id, code, name, state, version, created, updated, updater, props) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(org.id.to_string())
        .bind(org.code.as_str())
        .bind(&org.props.name)
        .bind(org.state.as_str())
        .bind(org.version)
        .bind(millis(org.created))
        .bind(millis(org.updated))
        .bind(org.updater.map(|u| u.to_string()))
        .bind(org.props.to_value().to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| map_err(e, "An org with this code already exists."))?;
        let linked = match admin {
            None => None,
            Some(admin) => Some(link_row(&mut tx, org.id, admin, org.created).await?),
        };
        tx.commit().await.map_err(backend)?;
        Ok(linked)
    }

    async fn org_by_code(&self, code: &str) -> Result<Option<Arc<Org>>, StoreError> {
        if let Some(org) = self.cache.org(code) {
            return Ok(Some(org));
        }
        let read_in = self.cache.generation();
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE code = ?");
        let row = sqlx::query(&sql).bind(code).fetch_optional(&self.reader).await.map_err(backend)?;
        let org = row.as_ref().map(org_row).transpose()?.map(Arc::new);
        if let Some(org) = &org {
            self.cache.put_org(read_in, Arc::clone(org));
        }
        Ok(org)
    }

    async fn org_by_id(&self, id: Id) -> Result<Option<Org>, StoreError> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = ?");
        let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&self.reader).await.map_err(backend)?;
        row.as_ref().map(org_row).transpose()
    }

    async fn list_orgs(&self, req: &PageRequest) -> Result<Page<Org>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {ORG_COLUMNS} FROM orgs WHERE 1 = 1"));
        push_keyset(&mut q, "orgs", req);
        let rows = q.build().fetch_all(&self.reader).await.map_err(backend)?;
        let orgs = rows.iter().map(org_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(orgs, req))
    }

    async fn modify_org(
        &self,
        id: Id,
        change: OrgChange,
        updater: Option<Id>,
        now: DateTime<Utc>,
    ) -> Result<Org, DomainError> {
        let cache = Arc::clone(&self.cache);
        let org = self
            .batcher
            .write(
                move |conn, staged| {
                    Box::pin(async move { modify_in_batch(conn, staged, id, &change, updater, now).await })
                },
                move |org: &Arc<Org>| cache.wrote_org(Arc::clone(org)),
            )
            .await?;
        Ok(Arc::unwrap_or_clone(org))
    }

    async fn set_org_state(&self, id: Id, state: OrgState, now: DateTime<Utc>) -> Result<Org, StoreError> {
        let sql = format!(
            "UPDATE orgs SET state = ?, version = version + 1, updated = ? WHERE id = ? RETURNING {ORG_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(state.as_str())
            .bind(millis(now))
            .bind(id.to_string())
            .fetch_optional(&self.writer)
            .await
            .map_err(backend)?;
        let org = row.as_ref().map(org_row).transpose()?.ok_or(StoreError::NotFound)?;
        self.cache.wrote_org(Arc::new(org.clone()));
        Ok(org)
    }
}

const APP_COLUMNS: &str = "id, org_id, name, key, secret, enabled, cors_origins, created, require_signature_v2, act_as";

fn app_row(row: &sqlx::sqlite::SqliteRow) -> Result<App, StoreError> {
    let origins: String = row.try_get("cors_origins").map_err(backend)?;
    app_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("org_id").map_err(backend)?,
        row.try_get("name").map_err(backend)?,
        row.try_get("key").map_err(backend)?,
        row.try_get("secret").map_err(backend)?,
        row.try_get("enabled").map_err(backend)?,
        serde_json::from_str(&origins).map_err(backend)?,
        from_millis(row.try_get("created").map_err(backend)?),
        row.try_get("require_signature_v2").map_err(backend)?,
        row.try_get::<Option<String>, _>("act_as")
            .map_err(backend)?
            .map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(backend)?,
    )
}

#[async_trait]
impl AppStore for SqliteStore {
    async fn insert_app(&self, app: &App) -> Result<(), StoreError> {
        let _changing = self.changing();
        sqlx::query(
            "INSERT INTO apps (id, org_id, name, key, secret, enabled, cors_origins, created, \
             require_signature_v2, act_as) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(app.id.to_string())
        .bind(app.org.to_string())
        .bind(&app.name)
        .bind(&app.key)
        .bind(&app.secret)
        .bind(app.enabled)
        .bind(serde_json::to_string(&app.cors_origins).map_err(backend)?)
        .bind(millis(app.created))
        .bind(app.require_signature_v2)
        .bind(app.act_as.to_stored().map(|ids| ids.to_string()))
        .execute(&self.writer)
        .await
        .map_err(|e| map_err(e, "An app with this key already exists."))?;
        Ok(())
    }

    async fn app_by_key(&self, key: &str) -> Result<Option<Arc<App>>, StoreError> {
        if let Some(app) = self.cache.app(key) {
            return Ok(Some(app));
        }
        let read_in = self.cache.generation();
        let sql = format!("SELECT {APP_COLUMNS} FROM apps WHERE key = ?");
        let row = sqlx::query(&sql).bind(key).fetch_optional(&self.reader).await.map_err(backend)?;
        let app = row.as_ref().map(app_row).transpose()?.map(Arc::new);
        if let Some(app) = &app {
            self.cache.put_app(read_in, Arc::clone(app));
        }
        Ok(app)
    }

    async fn apps_of_org(&self, org: Id) -> Result<Vec<App>, StoreError> {
        if let Some(apps) = self.cache.org_apps(org) {
            return Ok(apps);
        }
        let read_in = self.cache.generation();
        let sql = format!("SELECT {APP_COLUMNS} FROM apps WHERE org_id = ? ORDER BY id");
        let rows = sqlx::query(&sql).bind(org.to_string()).fetch_all(&self.reader).await.map_err(backend)?;
        let apps = rows.iter().map(app_row).collect::<Result<Vec<_>, _>>()?;
        self.cache.put_org_apps(read_in, org, &apps);
        Ok(apps)
    }
}

const ACCOUNT_COLUMNS: &str = "id, email, name_first, name_last, password_hash, verified, created, updated";
const MEMBER_COLUMNS: &str = "id, org_id, account_id, roles, state, created, updated";
const SESSION_COLUMNS: &str = "id, token_hash, account_id, org_id, created, last_seen, expires";

fn account_row(row: &sqlx::sqlite::SqliteRow) -> Result<Account, StoreError> {
    account_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("email").map_err(backend)?,
        row.try_get("name_first").map_err(backend)?,
        row.try_get("name_last").map_err(backend)?,
        row.try_get("password_hash").map_err(backend)?,
        row.try_get("verified").map_err(backend)?,
        from_millis(row.try_get("created").map_err(backend)?),
        from_millis(row.try_get("updated").map_err(backend)?),
    )
}

fn member_row(row: &sqlx::sqlite::SqliteRow) -> Result<Member, StoreError> {
    let roles: String = row.try_get("roles").map_err(backend)?;
    member_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("org_id").map_err(backend)?,
        row.try_get("account_id").map_err(backend)?,
        serde_json::from_str(&roles).map_err(backend)?,
        row.try_get("state").map_err(backend)?,
        from_millis(row.try_get("created").map_err(backend)?),
        from_millis(row.try_get("updated").map_err(backend)?),
    )
}

fn session_row(row: &sqlx::sqlite::SqliteRow) -> Result<Session, StoreError> {
    session_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("token_hash").map_err(backend)?,
        row.try_get("account_id").map_err(backend)?,
        row.try_get("org_id").map_err(backend)?,
        from_millis(row.try_get("created").map_err(backend)?),
        from_millis(row.try_get("last_seen").map_err(backend)?),
        from_millis(row.try_get("expires").map_err(backend)?),
    )
}

/// Inserts an account row.
async fn insert_account_row(conn: &mut SqliteConnection, a: &Account) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO accounts (id, email, name_first, name_last, password_hash, verified, created, updated) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(a.id.to_string())
    .bind(a.email.as_str())
    .bind(&a.name.first)
    .bind(&a.name.last)
    .bind(&a.password_hash)
    .bind(a.verified)
    .bind(millis(a.created))
    .bind(millis(a.updated))
    .execute(conn)
    .await
    .map_err(|e| map_err(e, "An account with this email already exists."))?;
    Ok(())
}

async fn insert_member_row(conn: &mut SqliteConnection, m: &Member) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO members (id, org_id, account_id, roles, state, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(m.id.to_string())
    .bind(m.org.to_string())
    .bind(m.account.to_string())
    .bind(serde_json::to_string(&m.roles).map_err(backend)?)
    .bind(m.state.as_str())
    .bind(millis(m.created))
    .bind(millis(m.updated))
    .execute(conn)
    .await
    .map_err(|e| map_err(e, "This account is already a member of the org."))?;
    Ok(())
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn insert_account(&self, account: &Account, member: Option<&Member>) -> Result<(), StoreError> {
        let _changing = self.changing();
        let mut tx = self.writer.begin().await.map_err(backend)?;
        insert_account_row(&mut tx, account).await?;
        if let Some(member) = member {
            insert_member_row(&mut tx, member).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn account_by_email(&self, email: &Email) -> Result<Option<Account>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE email = ?");
        let row = sqlx::query(&sql).bind(email.as_str()).fetch_optional(&self.reader).await.map_err(backend)?;
        row.as_ref().map(account_row).transpose()
    }

    async fn account_by_id(&self, id: Id) -> Result<Option<Account>, StoreError> {
        if let Some(account) = self.cache.account(id) {
            return Ok(Some(account));
        }
        let read_in = self.cache.generation();
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?");
        let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&self.reader).await.map_err(backend)?;
        let account = row.as_ref().map(account_row).transpose()?;
        if let Some(account) = &account {
            self.cache.put_account(read_in, account);
        }
        Ok(account)
    }

    async fn set_password(
        &self,
        account: Id,
        hash: &str,
        keep: Option<Id>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _changing = self.changing();
        let mut tx = self.writer.begin().await.map_err(backend)?;
        // A reset token mailed before the change must not undo it.
        let done = sqlx::query(
            "UPDATE accounts SET password_hash = ?, reset_token_hash = NULL, reset_expires = NULL, updated = ? \
             WHERE id = ?",
        )
        .bind(hash)
        .bind(millis(now))
        .bind(account.to_string())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM sessions WHERE account_id = ? AND id IS NOT ?")
            .bind(account.to_string())
            .bind(keep.map(|k| k.to_string()))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn set_reset_token(&self, account: Id, token_hash: &str, expires: DateTime<Utc>) -> Result<(), StoreError> {
        self.set_account_token("reset", account, token_hash, expires).await
    }

    async fn account_by_reset_token(&self, token_hash: &str) -> Result<Option<(Account, DateTime<Utc>)>, StoreError> {
        self.account_by_token("reset", token_hash).await
    }

    async fn reset_password(&self, token_hash: &str, hash: &str, now: DateTime<Utc>) -> Result<Option<Id>, StoreError> {
        self.consume_token("reset", token_hash, hash, now).await
    }

    async fn set_verify_token(&self, account: Id, token_hash: &str, expires: DateTime<Utc>) -> Result<(), StoreError> {
        self.set_account_token("verify", account, token_hash, expires).await
    }

    async fn account_by_verify_token(&self, token_hash: &str) -> Result<Option<(Account, DateTime<Utc>)>, StoreError> {
        self.account_by_token("verify", token_hash).await
    }

    async fn verify_account(&self, token_hash: &str, hash: &str, now: DateTime<Utc>) -> Result<Option<Id>, StoreError> {
        self.consume_token("verify", token_hash, hash, now).await
    }
}

/// The mailed tokens of accounts: `reset` (a password reset) and `verify` (an email
/// verification), each in its own `{kind}_token_hash` and `{kind}_expires` columns.
impl SqliteStore {
    async fn set_account_token(
        &self,
        kind: &'static str,
        account: Id,
        token_hash: &str,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _changing = self.changing();
        let sql = format!("UPDATE accounts SET {kind}_token_hash = ?, {kind}_expires = ? WHERE id = ?");
        sqlx::query(&sql)
            .bind(token_hash)
            .bind(millis(expires))
            .bind(account.to_string())
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn account_by_token(
        &self,
        kind: &'static str,
        token_hash: &str,
    ) -> Result<Option<(Account, DateTime<Utc>)>, StoreError> {
        let sql =
            format!("SELECT {ACCOUNT_COLUMNS}, {kind}_expires AS expires FROM accounts WHERE {kind}_token_hash = ?");
        let row = sqlx::query(&sql).bind(token_hash).fetch_optional(&self.reader).await.map_err(backend)?;
        match row {
            None => Ok(None),
            Some(row) => {
                let expires: i64 = row.try_get("expires").map_err(backend)?;
                Ok(Some((account_row(&row)?, from_millis(expires))))
            }
        }
    }

    /// Consumes an unexpired token of `kind`: the password becomes `hash`, the email
    /// is verified (the mailed link proved it), every token is cleared and every
    /// session ends, in one transaction.
    async fn consume_token(
        &self,
        kind: &'static str,
        token_hash: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Id>, StoreError> {
        let _changing = self.changing();
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let sql = format!(
            "UPDATE accounts SET password_hash = ?, verified = 1, reset_token_hash = NULL, \
             reset_expires = NULL, verify_token_hash = NULL, verify_expires = NULL, updated = ? \
             WHERE {kind}_token_hash = ? AND {kind}_expires > ? RETURNING id"
        );
        let row = sqlx::query(&sql)
            .bind(hash)
            .bind(millis(now))
            .bind(token_hash)
            .bind(millis(now))
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let id: String = row.try_get("id").map_err(backend)?;
        sqlx::query("DELETE FROM sessions WHERE account_id = ?").bind(&id).execute(&mut *tx).await.map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(Id::parse(&id))
    }
}

/// Links the holder of `request`'s email to `org` (see `MemberStore::link_member`),
/// inside the caller's transaction.
async fn link_row(
    conn: &mut SqliteConnection,
    org: Id,
    request: &LinkRequest,
    now: DateTime<Utc>,
) -> Result<Linked, StoreError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE email = ?");
    let row =
        sqlx::query(&sql).bind(request.account.email.as_str()).fetch_optional(&mut *conn).await.map_err(backend)?;
    let account = match row.as_ref().map(account_row).transpose()? {
        None => {
            let account = request.account.clone().verified();
            insert_account_row(&mut *conn, &account).await?;
            account
        }
        Some(existing) => existing,
    };
    let member: Option<(String,)> = sqlx::query_as("SELECT id FROM members WHERE org_id = ? AND account_id = ?")
        .bind(org.to_string())
        .bind(account.id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?;
    if member.is_some() {
        return Ok(Linked::AlreadyMember);
    }
    if !account.verified {
        let invitation = &request.invitation;
        let done = insert_connection_row(&mut *conn, invitation, true).await?;
        return Ok(if done { Linked::Invited(invitation.clone()) } else { Linked::AlreadyInvited });
    }
    let member = Member::new(org, account.id, request.roles.clone(), now);
    insert_member_row(&mut *conn, &member).await?;
    Ok(Linked::Member(member, account))
}

#[async_trait]
impl MemberStore for SqliteStore {
    async fn insert_member(&self, member: &Member) -> Result<(), StoreError> {
        let _changing = self.changing();
        let mut conn = self.writer.acquire().await.map_err(backend)?;
        insert_member_row(&mut conn, member).await
    }

    async fn member_of(&self, org: Id, account: Id) -> Result<Option<Member>, StoreError> {
        if let Some(member) = self.cache.member(org, account) {
            return Ok(member);
        }
        let read_in = self.cache.generation();
        let sql = format!("SELECT {MEMBER_COLUMNS} FROM members WHERE org_id = ? AND account_id = ?");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(account.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        let member = row.as_ref().map(member_row).transpose()?;
        self.cache.put_member(read_in, org, account, member.as_ref());
        Ok(member)
    }

    async fn list_members(
        &self,
        org: Id,
        filter: &MemberFilter,
        req: &PageRequest,
    ) -> Result<Arc<Page<MemberEntry>>, StoreError> {
        if let Some(page) = self.cache.member_page(org, filter, req) {
            return Ok(page);
        }
        let read_in = self.cache.generation();
        let mut q = QueryBuilder::new(format!(
            "SELECT {MEMBER_JOIN_COLUMNS} FROM members m JOIN accounts a ON a.id = m.account_id WHERE m.org_id = "
        ));
        q.push_bind(org.to_string());
        if let Some(role) = filter.role {
            q.push(" AND EXISTS (SELECT 1 FROM json_each(m.roles) WHERE value = ");
            q.push_bind(role.to_string());
            q.push(")");
        }
        if let Some(state) = filter.state {
            q.push(" AND m.state = ");
            q.push_bind(state.as_str());
        }
        if let Some(search) = &filter.search {
            let pattern = format!("{}%", like_escape(&search.to_lowercase()));
            q.push(" AND (a.email LIKE ");
            q.push_bind(pattern.clone());
            q.push(" ESCAPE '\\' OR lower(a.name_first) LIKE ");
            q.push_bind(pattern.clone());
            q.push(" ESCAPE '\\' OR lower(a.name_last) LIKE ");
            q.push_bind(pattern);
            q.push(" ESCAPE '\\')");
        }
        if let Some(id) = req.cursor_id() {
            q.push(format_args!(" AND m.id {} ", req.sql_comparison()));
            q.push_bind(id.to_string());
        }
        let dir = req.sql_direction();
        q.push(format_args!(" ORDER BY m.id {dir} LIMIT "));
        q.push_bind(i64::from(req.limit) + 1);
        q.push(" OFFSET ");
        q.push_bind(i64::from(req.skip));
        let rows = q.build().fetch_all(&self.reader).await.map_err(backend)?;
        let items = rows.iter().map(member_join_row).collect::<Result<Vec<_>, _>>()?;
        let page = Arc::new(Page::from_rows(items, req));
        self.cache.put_member_page(read_in, org, filter, req, &page);
        Ok(page)
    }

    async fn member_by_id(&self, org: Id, id: Id) -> Result<Option<MemberEntry>, StoreError> {
        let sql = format!(
            "SELECT {MEMBER_JOIN_COLUMNS} FROM members m JOIN accounts a ON a.id = m.account_id WHERE m.org_id = ? AND m.id = ?"
        );
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.as_ref().map(member_join_row).transpose()
    }

    async fn update_member(
        &self,
        org: Id,
        id: Id,
        roles: Option<&[Id]>,
        state: Option<MemberState>,
        admins: Admins<'_>,
        now: DateTime<Utc>,
    ) -> Result<Member, StoreError> {
        let _changing = self.changing();
        // The single writer connection serialises this transaction with every other
        // write, so the guard below sees the final state.
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let roles_json = roles.map(serde_json::to_string).transpose().map_err(backend)?;
        let sql = format!(
            "UPDATE members SET roles = COALESCE(?, roles), state = COALESCE(?, state), updated = ? \
             WHERE org_id = ? AND id = ? RETURNING {MEMBER_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(roles_json)
            .bind(state.map(MemberState::as_str))
            .bind(millis(now))
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?
            .ok_or(StoreError::NotFound)?;
        let member = member_row(&row)?;
        guard_admins(&mut tx, org, admins.roles).await?;
        if member.state == MemberState::Suspended {
            leave_sessions(&mut tx, org, member.account, admins, now).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(member)
    }

    async fn link_member(&self, org: Id, request: &LinkRequest, now: DateTime<Utc>) -> Result<Linked, StoreError> {
        let _changing = self.changing();
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let linked = link_row(&mut tx, org, request, now).await?;
        tx.commit().await.map_err(backend)?;
        Ok(linked)
    }

    async fn import_members(
        &self,
        org: Id,
        rows: &[LinkRequest],
        now: DateTime<Utc>,
    ) -> Result<Vec<Linked>, StoreError> {
        let _changing = self.changing();
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let mut linked = Vec::with_capacity(rows.len());
        for row in rows {
            linked.push(link_row(&mut tx, org, row, now).await?);
        }
        tx.commit().await.map_err(backend)?;
        Ok(linked)
    }

    async fn delete_member(&self, org: Id, id: Id, admins: Admins<'_>, now: DateTime<Utc>) -> Result<(), StoreError> {
        let _changing = self.changing();
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let account: String =
            sqlx::query_scalar("DELETE FROM members WHERE org_id = ? AND id = ? RETURNING account_id")
                .bind(org.to_string())
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?
                .ok_or(StoreError::NotFound)?;
        let account = Id::parse(&account).ok_or_else(|| backend(format!("stored member {id}: bad account")))?;
        guard_admins(&mut tx, org, admins.roles).await?;
        leave_sessions(&mut tx, org, account, admins, now).await?;
        tx.commit().await.map_err(backend)
    }

    async fn memberships_of(&self, account: Id) -> Result<Vec<Member>, StoreError> {
        let sql = format!("SELECT {MEMBER_COLUMNS} FROM members WHERE account_id = ? ORDER BY created, id");
        let rows = sqlx::query(&sql).bind(account.to_string()).fetch_all(&self.reader).await.map_err(backend)?;
        rows.iter().map(member_row).collect()
    }
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Fails when no active member of the org holds one of `admin_roles`.
async fn guard_admins(conn: &mut SqliteConnection, org: Id, admin_roles: &[Id]) -> Result<(), StoreError> {
    let mut q = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM members m WHERE m.state = 'active' AND m.org_id = ");
    q.push_bind(org.to_string());
    q.push(" AND EXISTS (SELECT 1 FROM json_each(m.roles) WHERE value IN (");
    let mut sep = q.separated(", ");
    for role in admin_roles {
        sep.push_bind(role.to_string());
    }
    q.push("))");
    let (count,): (i64,) = q.build_query_as().fetch_one(conn).await.map_err(backend)?;
    if count == 0 {
        return Err(StoreError::Invariant("The org must keep at least one active Administrator.".into()));
    }
    Ok(())
}

/// A member leaving `org` (removed or suspended) leaves its sessions, inside the
/// transaction of the change: the sessions of the org it owns pass to the heir
/// (see `Admins::acting`), who takes part in them with every permission; then its
/// participations in the org's sessions, and those that came in through the org,
/// go. Ended sessions pass too, so that an owner is always a participant.
async fn leave_sessions(
    conn: &mut SqliteConnection,
    org: Id,
    account: Id,
    admins: Admins<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let owned: Vec<String> = sqlx::query_scalar("SELECT id FROM live_sessions WHERE org_id = ? AND owner_id = ?")
        .bind(org.to_string())
        .bind(account.to_string())
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
    if !owned.is_empty() {
        let heir = heir(conn, org, account, admins).await?;
        for session in &owned {
            sqlx::query(
                "INSERT INTO participants (id, session_id, account_id, home_org_id, permissions, created, updated) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, account_id) DO UPDATE \
                 SET home_org_id = excluded.home_org_id, permissions = excluded.permissions, updated = excluded.updated",
            )
            .bind(Id::generate(now).to_string())
            .bind(session)
            .bind(&heir)
            .bind(org.to_string())
            .bind(Permissions::ALL.bits())
            .bind(millis(now))
            .bind(millis(now))
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
        }
        sqlx::query("UPDATE live_sessions SET owner_id = ?, updated = ? WHERE org_id = ? AND owner_id = ?")
            .bind(&heir)
            .bind(millis(now))
            .bind(org.to_string())
            .bind(account.to_string())
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
    }
    sqlx::query(
        "DELETE FROM participants WHERE account_id = ? \
         AND (home_org_id = ? OR session_id IN (SELECT id FROM live_sessions WHERE org_id = ?))",
    )
    .bind(account.to_string())
    .bind(org.to_string())
    .bind(org.to_string())
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}

/// The account that takes over a leaving member's sessions: `admins.acting` when
/// it is an active administrator other than the leaver, otherwise the first such
/// administrator to have joined. The last-administrator guard ran first, so one
/// exists.
async fn heir(conn: &mut SqliteConnection, org: Id, leaver: Id, admins: Admins<'_>) -> Result<String, StoreError> {
    let mut q =
        QueryBuilder::<Sqlite>::new("SELECT m.account_id FROM members m WHERE m.state = 'active' AND m.org_id = ");
    q.push_bind(org.to_string());
    q.push(" AND m.account_id <> ").push_bind(leaver.to_string());
    q.push(" AND EXISTS (SELECT 1 FROM json_each(m.roles) WHERE value IN (");
    let mut sep = q.separated(", ");
    for role in admins.roles {
        sep.push_bind(role.to_string());
    }
    q.push(")) ORDER BY m.account_id IS ").push_bind(admins.acting.map(|a| a.to_string()));
    q.push(" DESC, m.created, m.id LIMIT 1");
    let heir: Option<(String,)> = q.build_query_as().fetch_optional(conn).await.map_err(backend)?;
    heir.map(|(id,)| id)
        .ok_or_else(|| StoreError::Invariant("The org must keep at least one active Administrator.".into()))
}

const MEMBER_JOIN_COLUMNS: &str =
    "m.id, m.org_id, m.account_id, m.roles, m.state, m.created, m.updated, a.email, a.name_first, a.name_last";

fn member_join_row(row: &sqlx::sqlite::SqliteRow) -> Result<MemberEntry, StoreError> {
    Ok(member_entry_from_row(
        member_row(row)?,
        row.try_get("email").map_err(backend)?,
        row.try_get("name_first").map_err(backend)?,
        row.try_get("name_last").map_err(backend)?,
    ))
}

/// Inserts a connection row. A pending one for the same email is
/// [`StoreError::Exists`], or, with `or_ignore`, `false`.
async fn insert_connection_row(
    conn: &mut SqliteConnection,
    c: &Connection,
    or_ignore: bool,
) -> Result<bool, StoreError> {
    let conflict = if or_ignore { " ON CONFLICT DO NOTHING" } else { "" };
    let sql = format!(
        "INSERT INTO connections (id, org_id, email, name, roles, state, token_hash, expires, creator, account_id, \
         created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?){conflict}"
    );
    let done = sqlx::query(&sql)
        .bind(c.id.to_string())
        .bind(c.org.to_string())
        .bind(c.email.as_str())
        .bind(&c.name)
        .bind(serde_json::to_string(&c.roles).map_err(backend)?)
        .bind(c.state.as_i16())
        .bind(&c.token_hash)
        .bind(millis(c.expires))
        .bind(c.creator.map(|x| x.to_string()))
        .bind(c.account.map(|x| x.to_string()))
        .bind(millis(c.created))
        .bind(millis(c.updated))
        .execute(conn)
        .await
        .map_err(|e| map_err(e, "A pending connection for this email already exists."))?;
    Ok(done.rows_affected() == 1)
}

const CONNECTION_COLUMNS: &str =
    "id, org_id, email, name, roles, state, token_hash, expires, creator, account_id, created, updated";

fn connection_row(row: &sqlx::sqlite::SqliteRow) -> Result<Connection, StoreError> {
    let roles: String = row.try_get("roles").map_err(backend)?;
    let state: i64 = row.try_get("state").map_err(backend)?;
    connection_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("org_id").map_err(backend)?,
        row.try_get("email").map_err(backend)?,
        row.try_get("name").map_err(backend)?,
        serde_json::from_str(&roles).map_err(backend)?,
        i16::try_from(state).map_err(backend)?,
        row.try_get("token_hash").map_err(backend)?,
        from_millis(row.try_get("expires").map_err(backend)?),
        row.try_get("creator").map_err(backend)?,
        row.try_get("account_id").map_err(backend)?,
        from_millis(row.try_get("created").map_err(backend)?),
        from_millis(row.try_get("updated").map_err(backend)?),
    )
}

#[async_trait]
impl ConnectionStore for SqliteStore {
    async fn insert_connection(&self, c: &Connection) -> Result<(), StoreError> {
        let _changing = self.changing();
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let member: Option<(String,)> = sqlx::query_as(
            "SELECT m.id FROM members m JOIN accounts a ON a.id = m.account_id WHERE m.org_id = ? AND a.email = ?",
        )
        .bind(c.org.to_string())
        .bind(c.email.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        if member.is_some() {
            return Err(StoreError::Exists("This email already belongs to a member.".into()));
        }
        insert_connection_row(&mut tx, c, false).await?;
        tx.commit().await.map_err(backend)
    }

    async fn list_connections(
        &self,
        org: Id,
        state: Option<ConnectionState>,
        req: &PageRequest,
    ) -> Result<Page<Connection>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE org_id = "));
        q.push_bind(org.to_string());
        if let Some(state) = state {
            q.push(" AND state = ");
            q.push_bind(state.as_i16());
        }
        push_keyset(&mut q, "connections", req);
        let rows = q.build().fetch_all(&self.reader).await.map_err(backend)?;
        let items = rows.iter().map(connection_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(items, req))
    }

    async fn connection_by_id(&self, org: Id, id: Id) -> Result<Option<Connection>, StoreError> {
        let sql = format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE org_id = ? AND id = ?");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.as_ref().map(connection_row).transpose()
    }

    async fn connection_by_token(&self, token_hash: &str) -> Result<Option<Connection>, StoreError> {
        let sql = format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE token_hash = ?");
        let row = sqlx::query(&sql).bind(token_hash).fetch_optional(&self.reader).await.map_err(backend)?;
        row.as_ref().map(connection_row).transpose()
    }

    async fn reissue_connection(
        &self,
        org: Id,
        id: Id,
        token_hash: &str,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Connection, StoreError> {
        let _changing = self.changing();
        let sql = format!(
            "UPDATE connections SET token_hash = ?, expires = ?, updated = ? WHERE org_id = ? AND id = ? AND state = 0 \
             RETURNING {CONNECTION_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(token_hash)
            .bind(millis(expires))
            .bind(millis(now))
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.writer)
            .await
            .map_err(backend)?;
        row.as_ref().map(connection_row).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn close_connection(
        &self,
        org: Id,
        id: Id,
        state: ConnectionState,
        now: DateTime<Utc>,
    ) -> Result<Connection, StoreError> {
        let _changing = self.changing();
        let sql = format!(
            "UPDATE connections SET state = ?, token_hash = NULL, updated = ? WHERE org_id = ? AND id = ? AND state = 0 \
             RETURNING {CONNECTION_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(state.as_i16())
            .bind(millis(now))
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.writer)
            .await
            .map_err(backend)?;
        row.as_ref().map(connection_row).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn accept_connection(
        &self,
        token_hash: &str,
        account: &Account,
        how: &Acceptance,
        now: DateTime<Utc>,
    ) -> Result<Member, StoreError> {
        let _changing = self.changing();
        let mut tx = self.writer.begin().await.map_err(backend)?;
        match how {
            Acceptance::Register => insert_account_row(&mut tx, &account.clone().verified()).await?,
            Acceptance::Existing { keep } => {
                let was: Option<(bool,)> = sqlx::query_as("SELECT verified FROM accounts WHERE id = ?")
                    .bind(account.id.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
                match was {
                    None => return Err(StoreError::NotFound),
                    Some((true,)) => {}
                    Some((false,)) => {
                        // Whoever else held a session of the unverified account loses it.
                        sqlx::query("DELETE FROM sessions WHERE account_id = ? AND id IS NOT ?")
                            .bind(account.id.to_string())
                            .bind(keep.map(|k| k.to_string()))
                            .execute(&mut *tx)
                            .await
                            .map_err(backend)?;
                        sqlx::query("UPDATE accounts SET verified = 1, updated = ? WHERE id = ?")
                            .bind(millis(now))
                            .bind(account.id.to_string())
                            .execute(&mut *tx)
                            .await
                            .map_err(backend)?;
                    }
                }
            }
            Acceptance::Reclaim { password_hash, name } => {
                let done = sqlx::query(
                    "UPDATE accounts SET password_hash = ?, name_first = ?, name_last = ?, verified = 1, \
                     verify_token_hash = NULL, verify_expires = NULL, reset_token_hash = NULL, reset_expires = NULL, \
                     updated = ? WHERE id = ? AND verified = 0",
                )
                .bind(password_hash)
                .bind(&name.first)
                .bind(&name.last)
                .bind(millis(now))
                .bind(account.id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::Conflict("This account was verified meanwhile: log in to accept.".into()));
                }
                sqlx::query("DELETE FROM sessions WHERE account_id = ?")
                    .bind(account.id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
            }
        }
        let sql = format!(
            "UPDATE connections SET state = 1, token_hash = NULL, account_id = ?, updated = ? \
             WHERE token_hash = ? AND state = 0 AND expires > ? RETURNING {CONNECTION_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(account.id.to_string())
            .bind(millis(now))
            .bind(token_hash)
            .bind(millis(now))
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?
            .ok_or(StoreError::NotFound)?;
        let connection = connection_row(&row)?;
        let member = Member::new(connection.org, account.id, connection.roles, now);
        insert_member_row(&mut tx, &member).await?;
        tx.commit().await.map_err(backend)?;
        Ok(member)
    }

    async fn has_pending_connection(
        &self,
        org: Id,
        email: Option<&Email>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let email_key = email.map(Email::as_str);
        if let Some(latest) = self.cache.pending(org, email_key) {
            return Ok(latest.is_some_and(|expires| expires > now));
        }
        let read_in = self.cache.generation();
        // The latest expiry is kept, so that the answer stays right as time passes.
        let (latest,): (Option<i64>,) = sqlx::query_as(
            "SELECT MAX(expires) FROM connections WHERE org_id = ? AND state = 0 AND (? IS NULL OR email = ?)",
        )
        .bind(org.to_string())
        .bind(email_key)
        .bind(email_key)
        .fetch_one(&self.reader)
        .await
        .map_err(backend)?;
        let latest = latest.map(from_millis);
        self.cache.put_pending(read_in, org, email_key, latest);
        Ok(latest.is_some_and(|expires| expires > now))
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn insert_session(&self, s: &Session) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id, token_hash, account_id, org_id, created, last_seen, expires) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(s.id.to_string())
        .bind(&s.token_hash)
        .bind(s.account.to_string())
        .bind(s.org.to_string())
        .bind(millis(s.created))
        .bind(millis(s.last_seen))
        .bind(millis(s.expires))
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn session_by_token_hash(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        if let Some(session) = self.cache.session(token_hash) {
            return Ok(Some(session));
        }
        let read_in = self.cache.generation();
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = ?");
        let row = sqlx::query(&sql).bind(token_hash).fetch_optional(&self.reader).await.map_err(backend)?;
        // Unknown tokens are not kept: anyone can present any number of them.
        let session = row.as_ref().map(session_row).transpose()?;
        if let Some(session) = &session {
            self.cache.put_session(read_in, session);
        }
        Ok(session)
    }

    async fn touch_session(&self, id: Id, last_seen: DateTime<Utc>, expires: DateTime<Utc>) -> Result<(), StoreError> {
        // Concurrent requests of one session all see it due for a touch at once:
        // through the batcher they share one commit, and only the first moves it.
        let cache = Arc::clone(&self.cache);
        self.batcher
            .write(
                move |conn, _| {
                    Box::pin(async move {
                        sqlx::query("UPDATE sessions SET last_seen = ?, expires = ? WHERE id = ? AND last_seen < ?")
                            .bind(millis(last_seen))
                            .bind(millis(expires))
                            .bind(id.to_string())
                            .bind(millis(last_seen))
                            .execute(&mut *conn)
                            .await
                            .map_err(backend)?;
                        Ok(())
                    })
                },
                move |()| cache.forget_session(id),
            )
            .await
            .map_err(store_error)
    }

    async fn delete_session(&self, id: Id) -> Result<(), StoreError> {
        // Through the batcher: the session is forgotten once the delete commits,
        // even if the caller (a logout) has gone away by then.
        let cache = Arc::clone(&self.cache);
        self.batcher
            .write(
                move |conn, _| {
                    Box::pin(async move {
                        let sql = sqlx::query("DELETE FROM sessions WHERE id = ?").bind(id.to_string());
                        sql.execute(&mut *conn).await.map_err(backend)?;
                        Ok(())
                    })
                },
                move |()| cache.forget_session(id),
            )
            .await
            .map_err(store_error)
    }

    async fn record_nonce(
        &self,
        app: Id,
        nonce: &str,
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        sqlx::query("DELETE FROM request_nonces WHERE seen < ?")
            .bind(millis(forget_before))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let done =
            sqlx::query("INSERT INTO request_nonces (app_id, nonce, seen) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
                .bind(app.to_string())
                .bind(nonce)
                .bind(millis(now))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn purge_expired(&self, now: DateTime<Utc>, nonces_before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let sessions = sqlx::query_scalar::<_, String>("DELETE FROM sessions WHERE expires <= ? RETURNING id")
            .bind(millis(now))
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        let nonces = sqlx::query("DELETE FROM request_nonces WHERE seen < ?")
            .bind(millis(nonces_before))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        for id in sessions.iter().filter_map(|id| Id::parse(id)) {
            self.cache.forget_session(id);
        }
        let mut limits = self.rate_limits.lock().unwrap_or_else(PoisonError::into_inner);
        let before = limits.len();
        limits.retain(|_, tat| *tat >= millis(now));
        Ok(sessions.len() as u64 + nonces.rows_affected() + (before - limits.len()) as u64)
    }
}

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

const POST_COLUMNS: &str = "id, org_id, creator, body, created";

fn post_row(row: &sqlx::sqlite::SqliteRow) -> Result<Post, StoreError> {
    post_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("org_id").map_err(backend)?,
        row.try_get("creator").map_err(backend)?,
        row.try_get("body").map_err(backend)?,
        from_millis(row.try_get("created").map_err(backend)?),
    )
}

#[async_trait]
impl PostStore for SqliteStore {
    async fn insert_post(&self, post: &Post) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO posts (id, org_id, creator, body, created) VALUES (?, ?, ?, ?, ?)")
            .bind(post.id.to_string())
            .bind(post.org.to_string())
            .bind(post.creator.to_string())
            .bind(&post.body)
            .bind(millis(post.created))
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn list_posts(&self, org: Id, req: &PageRequest) -> Result<Page<Post>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {POST_COLUMNS} FROM posts WHERE org_id = "));
        q.push_bind(org.to_string());
        push_keyset(&mut q, "posts", req);
        let rows = q.build().fetch_all(&self.reader).await.map_err(backend)?;
        let posts = rows.iter().map(post_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(posts, req))
    }

    async fn post_by_id(&self, org: Id, id: Id) -> Result<Option<Post>, StoreError> {
        let sql = format!("SELECT {POST_COLUMNS} FROM posts WHERE org_id = ? AND id = ?");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.as_ref().map(post_row).transpose()
    }

    async fn delete_post(&self, org: Id, id: Id) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM posts WHERE org_id = ? AND id = ?")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    /// Reads answer, and writes: after a batch failed because the storage was full
    /// or unreachable, and until one commits, a probe write (page 1's
    /// `user_version`, set to what it is) goes through the writer, so that the
    /// node is ready again once space is back even if no client writes meanwhile.
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await.map_err(backend)?;
        if self.batcher.is_failing() {
            self.batcher
                .write(
                    |conn, _| {
                        Box::pin(async move {
                            let version: i64 = sqlx::query_scalar("PRAGMA user_version")
                                .fetch_one(&mut *conn)
                                .await
                                .map_err(backend)?;
                            sqlx::query(&format!("PRAGMA user_version = {version}"))
                                .execute(&mut *conn)
                                .await
                                .map_err(backend)?;
                            Ok(())
                        })
                    },
                    |()| {},
                )
                .await
                .map_err(store_error)?;
        }
        Ok(())
    }
}

const LIVE_SESSION_COLUMNS: &str = "id, org_id, owner_id, name, type, speciality, estimated_duration, access, \
     facility_id, room_id, scheduled_start, state, started, ended, created, updated";
const PARTICIPANT_COLUMNS: &str = "id, session_id, account_id, home_org_id, permissions, created, updated";

fn live_session_row(row: &sqlx::sqlite::SqliteRow) -> Result<LiveSession, StoreError> {
    let opt_time = |name: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(row.try_get::<Option<i64>, _>(name).map_err(backend)?.map(from_millis))
    };
    live_session_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("org_id").map_err(backend)?,
        row.try_get("owner_id").map_err(backend)?,
        row.try_get("name").map_err(backend)?,
        row.try_get("type").map_err(backend)?,
        row.try_get("speciality").map_err(backend)?,
        row.try_get("estimated_duration").map_err(backend)?,
        row.try_get("access").map_err(backend)?,
        row.try_get("facility_id").map_err(backend)?,
        row.try_get("room_id").map_err(backend)?,
        from_millis(row.try_get("scheduled_start").map_err(backend)?),
        row.try_get("state").map_err(backend)?,
        opt_time("started")?,
        opt_time("ended")?,
        from_millis(row.try_get("created").map_err(backend)?),
        from_millis(row.try_get("updated").map_err(backend)?),
    )
}

fn participant_row(row: &sqlx::sqlite::SqliteRow) -> Result<Participant, StoreError> {
    participant_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("session_id").map_err(backend)?,
        row.try_get("account_id").map_err(backend)?,
        row.try_get("home_org_id").map_err(backend)?,
        row.try_get("permissions").map_err(backend)?,
        from_millis(row.try_get("created").map_err(backend)?),
        from_millis(row.try_get("updated").map_err(backend)?),
    )
}

/// Maps a driver error on a write that references other rows: a foreign key that
/// no longer resolves (a facility or room deleted meanwhile) is `NotFound`.
fn map_ref_err(e: sqlx::Error, what: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        _ => map_err(e, what),
    }
}

/// Attaches their participants to sessions, in one query.
async fn with_participants(
    conn: &mut SqliteConnection,
    mut sessions: Vec<LiveSession>,
) -> Result<Vec<LiveSession>, StoreError> {
    if sessions.is_empty() {
        return Ok(sessions);
    }
    let mut q = QueryBuilder::new(format!("SELECT {PARTICIPANT_COLUMNS} FROM participants WHERE session_id IN ("));
    let mut ids = q.separated(", ");
    for s in &sessions {
        ids.push_bind(s.id.to_string());
    }
    q.push(")");
    let rows = q.build().fetch_all(&mut *conn).await.map_err(backend)?;
    let participants = rows.iter().map(participant_row).collect::<Result<Vec<_>, _>>()?;
    attach_participants(&mut sessions, participants);
    Ok(sessions)
}

async fn fetch_live_session(conn: &mut SqliteConnection, id: Id) -> Result<Option<LiveSession>, StoreError> {
    let sql = format!("SELECT {LIVE_SESSION_COLUMNS} FROM live_sessions WHERE id = ?");
    let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *conn).await.map_err(backend)?;
    let Some(session) = row.as_ref().map(live_session_row).transpose()? else { return Ok(None) };
    Ok(with_participants(conn, vec![session]).await?.pop())
}

/// The state of a session, for the reason of a refused change.
async fn live_session_state(conn: &mut SqliteConnection, id: Id) -> Result<SessionState, StoreError> {
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM live_sessions WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?;
    state.as_deref().and_then(SessionState::parse).ok_or(StoreError::NotFound)
}

/// Checks, inside a write transaction, that a session exists and has not ended.
async fn require_open_session(conn: &mut SqliteConnection, id: Id) -> Result<(), StoreError> {
    match live_session_state(conn, id).await? {
        SessionState::Ended => Err(StoreError::Conflict(session::ENDED.into())),
        _ => Ok(()),
    }
}

/// Inserts a participant whose account is an active member of its home org
/// ([`StoreError::NotFound`] otherwise), so that a member removed meanwhile is never
/// added back.
async fn insert_participant_row(conn: &mut SqliteConnection, p: &Participant) -> Result<(), StoreError> {
    // Checked in the transaction of the insert: the single writer orders it with
    // any removal, which either came first (refused here) or comes after (and
    // takes the participation away with it).
    let member: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM members WHERE org_id = ? AND account_id = ? AND state = 'active'")
            .bind(p.home_org.to_string())
            .bind(p.account.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(backend)?;
    if member.is_none() {
        return Err(StoreError::NotFound);
    }
    sqlx::query(
        "INSERT INTO participants (id, session_id, account_id, home_org_id, permissions, created, updated) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(p.id.to_string())
    .bind(p.session.to_string())
    .bind(p.account.to_string())
    .bind(p.home_org.to_string())
    .bind(p.permissions.bits())
    .bind(millis(p.created))
    .bind(millis(p.updated))
    .execute(conn)
    .await
    .map_err(|e| map_ref_err(e, "This account already takes part in the session."))?;
    Ok(())
}

/// A participation the account can still use: it is an active member of the
/// owning org, or of the org it came in through, and that org is enabled
/// (`SessionScope::Participant`). The account id is bound after it.
const REACHES: &str = "EXISTS (SELECT 1 FROM participants p \
     JOIN members m ON m.account_id = p.account_id AND m.state = 'active' \
     AND m.org_id IN (live_sessions.org_id, p.home_org_id) \
     JOIN orgs o ON o.id = m.org_id AND o.state = 'enabled' \
     WHERE p.session_id = live_sessions.id AND p.account_id = ";

fn push_session_scope(q: &mut QueryBuilder<'_, Sqlite>, query: &SessionQuery) {
    let takes_part = "EXISTS (SELECT 1 FROM participants p WHERE p.session_id = live_sessions.id AND p.account_id = ";
    match query.scope {
        SessionScope::Org(org) => {
            q.push(" AND org_id = ").push_bind(org.to_string());
        }
        SessionScope::OrgMember { org, account } => {
            q.push(" AND org_id = ").push_bind(org.to_string());
            q.push(" AND (access = 'ORGANISATION' OR ").push(takes_part).push_bind(account.to_string()).push("))");
        }
        SessionScope::Participant(account) => {
            q.push(" AND ").push(REACHES).push_bind(account.to_string()).push(")");
        }
    }
    if let Some(state) = query.state {
        q.push(" AND state = ").push_bind(state.as_str());
    }
    if let Some(owner) = query.owner {
        q.push(" AND owner_id = ").push_bind(owner.to_string());
    }
    if let Some(participant) = query.participant {
        q.push(" AND ").push(takes_part).push_bind(participant.to_string()).push(")");
    }
}

#[async_trait]
impl LiveSessionStore for SqliteStore {
    async fn insert_live_session(&self, s: &LiveSession) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        sqlx::query(
            "INSERT INTO live_sessions (id, org_id, owner_id, name, type, speciality, estimated_duration, access, \
             facility_id, room_id, scheduled_start, state, started, ended, created, updated) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(s.id.to_string())
        .bind(s.org.to_string())
        .bind(s.owner.to_string())
        .bind(&s.name)
        .bind(&s.session_type)
        .bind(&s.speciality)
        .bind(&s.estimated_duration)
        .bind(s.access.as_str())
        .bind(s.facility.map(|f| f.to_string()))
        .bind(s.room.map(|r| r.to_string()))
        .bind(millis(s.scheduled_start))
        .bind(s.state.as_str())
        .bind(s.started.map(millis))
        .bind(s.ended.map(millis))
        .bind(millis(s.created))
        .bind(millis(s.updated))
        .execute(&mut *tx)
        .await
        .map_err(|e| map_ref_err(e, "A session with this id already exists."))?;
        for p in &s.participants {
            insert_participant_row(&mut tx, p).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn live_session(&self, id: Id) -> Result<Option<LiveSession>, StoreError> {
        let mut conn = self.reader.acquire().await.map_err(backend)?;
        fetch_live_session(&mut conn, id).await
    }

    async fn list_live_sessions(
        &self,
        query: &SessionQuery,
        req: &PageRequest,
    ) -> Result<Page<LiveSession>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {LIVE_SESSION_COLUMNS} FROM live_sessions WHERE 1 = 1"));
        push_session_scope(&mut q, query);
        push_keyset(&mut q, "live_sessions", req);
        let mut conn = self.reader.acquire().await.map_err(backend)?;
        let rows = q.build().fetch_all(&mut *conn).await.map_err(backend)?;
        let sessions = rows.iter().map(live_session_row).collect::<Result<Vec<_>, _>>()?;
        let page = Page::from_rows(sessions, req);
        let data = with_participants(&mut conn, page.data).await?;
        Ok(Page { data, has_more: page.has_more })
    }

    async fn update_live_session(
        &self,
        id: Id,
        changes: &SessionChanges,
        now: DateTime<Utc>,
    ) -> Result<LiveSession, StoreError> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let mut q = QueryBuilder::new("UPDATE live_sessions SET updated = ");
        q.push_bind(millis(now));
        if let Some(name) = &changes.name {
            q.push(", name = ").push_bind(name.clone());
        }
        if let Some(t) = &changes.session_type {
            q.push(", type = ").push_bind(t.clone());
        }
        if let Some(s) = &changes.speciality {
            q.push(", speciality = ").push_bind(s.clone());
        }
        if let Some(d) = &changes.estimated_duration {
            q.push(", estimated_duration = ").push_bind(d.clone());
        }
        if let Some(a) = changes.access {
            q.push(", access = ").push_bind(a.as_str());
        }
        if let Some((facility, room)) = changes.place {
            q.push(", facility_id = ").push_bind(facility.map(|f| f.to_string()));
            q.push(", room_id = ").push_bind(room.map(|r| r.to_string()));
        }
        if let Some(start) = changes.scheduled_start {
            q.push(", scheduled_start = ").push_bind(millis(start));
        }
        q.push(" WHERE id = ").push_bind(id.to_string()).push(" AND state <> 'ended'");
        let done = q.build().execute(&mut *tx).await.map_err(|e| map_ref_err(e, "session"))?;
        if done.rows_affected() == 0 {
            live_session_state(&mut tx, id).await?;
            return Err(StoreError::Conflict(session::ENDED.into()));
        }
        let session = fetch_live_session(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(backend)?;
        Ok(session)
    }

    async fn move_live_session(&self, id: Id, to: SessionState, now: DateTime<Utc>) -> Result<LiveSession, StoreError> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let stamp = match to {
            SessionState::Live => ", started = ?",
            SessionState::Ended => ", ended = ?",
            SessionState::Scheduled => "",
        };
        let done = match to.comes_from() {
            None => None,
            Some(from) => Some(
                sqlx::query(&format!(
                    "UPDATE live_sessions SET state = ?, updated = ?{stamp} WHERE id = ? AND state = ?"
                ))
                .bind(to.as_str())
                .bind(millis(now))
                .bind(millis(now))
                .bind(id.to_string())
                .bind(from.as_str())
                .execute(&mut *tx)
                .await
                .map_err(backend)?,
            ),
        };
        if done.is_none_or(|d| d.rows_affected() == 0) {
            let current = live_session_state(&mut tx, id).await?;
            return Err(StoreError::Conflict(session::illegal_move(current, to)));
        }
        let session = fetch_live_session(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(backend)?;
        Ok(session)
    }

    async fn delete_live_session(&self, id: Id) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM live_sessions WHERE id = ?")
            .bind(id.to_string())
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn insert_participant(&self, p: &Participant) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        require_open_session(&mut tx, p.session).await?;
        insert_participant_row(&mut tx, p).await?;
        tx.commit().await.map_err(backend)
    }

    async fn update_participant(
        &self,
        session: Id,
        account: Id,
        permissions: Permissions,
        now: DateTime<Utc>,
    ) -> Result<Participant, StoreError> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        require_open_session(&mut tx, session).await?;
        let sql = format!(
            "UPDATE participants SET permissions = ?, updated = ? WHERE session_id = ? AND account_id = ? \
             RETURNING {PARTICIPANT_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(permissions.bits())
            .bind(millis(now))
            .bind(session.to_string())
            .bind(account.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let participant = row.as_ref().map(participant_row).transpose()?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(backend)?;
        Ok(participant)
    }

    async fn delete_participant(&self, session: Id, account: Id) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        require_open_session(&mut tx, session).await?;
        let done = sqlx::query("DELETE FROM participants WHERE session_id = ? AND account_id = ?")
            .bind(session.to_string())
            .bind(account.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(backend)
    }
}

const FACILITY_COLUMNS: &str = "id, org_id, name, is_removable, created, updated";
const ROOM_COLUMNS: &str = "id, org_id, facility_id, name, is_removable, created, updated";

fn facility_row(row: &sqlx::sqlite::SqliteRow) -> Result<Facility, StoreError> {
    facility_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("org_id").map_err(backend)?,
        row.try_get("name").map_err(backend)?,
        row.try_get("is_removable").map_err(backend)?,
        from_millis(row.try_get("created").map_err(backend)?),
        from_millis(row.try_get("updated").map_err(backend)?),
    )
}

fn room_row(row: &sqlx::sqlite::SqliteRow) -> Result<Room, StoreError> {
    room_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("org_id").map_err(backend)?,
        row.try_get("facility_id").map_err(backend)?,
        row.try_get("name").map_err(backend)?,
        row.try_get("is_removable").map_err(backend)?,
        from_millis(row.try_get("created").map_err(backend)?),
        from_millis(row.try_get("updated").map_err(backend)?),
    )
}

/// `UPDATE {table} SET … WHERE org_id = ? AND id = ? RETURNING {columns}`.
fn place_update<'a>(
    table: &str,
    columns: &str,
    org: Id,
    id: Id,
    changes: &'a PlaceChanges,
    now: DateTime<Utc>,
) -> QueryBuilder<'a, Sqlite> {
    let mut q = QueryBuilder::new(format!("UPDATE {table} SET updated = "));
    q.push_bind(millis(now));
    if let Some(name) = &changes.name {
        q.push(", name = ").push_bind(name);
    }
    if let Some(removable) = changes.is_removable {
        q.push(", is_removable = ").push_bind(removable);
    }
    q.push(" WHERE org_id = ").push_bind(org.to_string());
    q.push(" AND id = ").push_bind(id.to_string());
    q.push(format_args!(" RETURNING {columns}"));
    q
}

/// True when a query that selects `1` finds a row.
async fn exists(conn: &mut SqliteConnection, sql: &str, id: Id) -> Result<bool, StoreError> {
    let found: Option<i64> =
        sqlx::query_scalar(sql).bind(id.to_string()).fetch_optional(&mut *conn).await.map_err(backend)?;
    Ok(found.is_some())
}

#[async_trait]
impl FacilityStore for SqliteStore {
    async fn insert_facility(&self, f: &Facility) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO facilities (id, org_id, name, is_removable, created, updated) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(f.id.to_string())
        .bind(f.org.to_string())
        .bind(&f.name)
        .bind(f.is_removable)
        .bind(millis(f.created))
        .bind(millis(f.updated))
        .execute(&self.writer)
        .await
        .map_err(|e| map_ref_err(e, "A facility with this id already exists."))?;
        Ok(())
    }

    async fn facility(&self, org: Id, id: Id) -> Result<Option<Facility>, StoreError> {
        let sql = format!("SELECT {FACILITY_COLUMNS} FROM facilities WHERE org_id = ? AND id = ?");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.as_ref().map(facility_row).transpose()
    }

    async fn list_facilities(&self, org: Id, req: &PageRequest) -> Result<Page<Facility>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {FACILITY_COLUMNS} FROM facilities WHERE org_id = "));
        q.push_bind(org.to_string());
        push_keyset(&mut q, "facilities", req);
        let rows = q.build().fetch_all(&self.reader).await.map_err(backend)?;
        Ok(Page::from_rows(rows.iter().map(facility_row).collect::<Result<Vec<_>, _>>()?, req))
    }

    async fn update_facility(
        &self,
        org: Id,
        id: Id,
        changes: &PlaceChanges,
        now: DateTime<Utc>,
    ) -> Result<Facility, StoreError> {
        let mut q = place_update("facilities", FACILITY_COLUMNS, org, id, changes, now);
        let row = q.build().fetch_optional(&self.writer).await.map_err(backend)?;
        row.as_ref().map(facility_row).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn delete_facility(&self, org: Id, id: Id) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let removable: Option<bool> =
            sqlx::query_scalar("SELECT is_removable FROM facilities WHERE org_id = ? AND id = ?")
                .bind(org.to_string())
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        match removable {
            None => return Err(StoreError::NotFound),
            Some(false) => return Err(StoreError::Conflict(facility::NOT_REMOVABLE.into())),
            Some(true) => {}
        }
        if exists(&mut tx, "SELECT 1 FROM rooms WHERE facility_id = ? AND NOT is_removable LIMIT 1", id).await? {
            return Err(StoreError::Conflict(facility::ROOM_NOT_REMOVABLE.into()));
        }
        let in_use = "SELECT 1 FROM live_sessions WHERE facility_id = ? AND state <> 'ended' LIMIT 1";
        if exists(&mut tx, in_use, id).await? {
            return Err(StoreError::Conflict(facility::IN_USE.into()));
        }
        sqlx::query("DELETE FROM facilities WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn insert_room(&self, r: &Room) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO rooms (id, org_id, facility_id, name, is_removable, created, updated) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(r.id.to_string())
        .bind(r.org.to_string())
        .bind(r.facility.to_string())
        .bind(&r.name)
        .bind(r.is_removable)
        .bind(millis(r.created))
        .bind(millis(r.updated))
        .execute(&self.writer)
        .await
        .map_err(|e| map_ref_err(e, "A room with this id already exists."))?;
        Ok(())
    }

    async fn room(&self, org: Id, id: Id) -> Result<Option<Room>, StoreError> {
        let sql = format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE org_id = ? AND id = ?");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.as_ref().map(room_row).transpose()
    }

    async fn list_rooms(&self, org: Id, facility: Id, req: &PageRequest) -> Result<Page<Room>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE org_id = "));
        q.push_bind(org.to_string());
        q.push(" AND facility_id = ").push_bind(facility.to_string());
        push_keyset(&mut q, "rooms", req);
        let rows = q.build().fetch_all(&self.reader).await.map_err(backend)?;
        Ok(Page::from_rows(rows.iter().map(room_row).collect::<Result<Vec<_>, _>>()?, req))
    }

    async fn update_room(
        &self,
        org: Id,
        id: Id,
        changes: &PlaceChanges,
        now: DateTime<Utc>,
    ) -> Result<Room, StoreError> {
        let mut q = place_update("rooms", ROOM_COLUMNS, org, id, changes, now);
        let row = q.build().fetch_optional(&self.writer).await.map_err(backend)?;
        row.as_ref().map(room_row).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn delete_room(&self, org: Id, id: Id) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let removable: Option<bool> = sqlx::query_scalar("SELECT is_removable FROM rooms WHERE org_id = ? AND id = ?")
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        match removable {
            None => return Err(StoreError::NotFound),
            Some(false) => return Err(StoreError::Conflict(facility::NOT_REMOVABLE.into())),
            Some(true) => {}
        }
        if exists(&mut tx, "SELECT 1 FROM live_sessions WHERE room_id = ? AND state <> 'ended' LIMIT 1", id).await? {
            return Err(StoreError::Conflict(facility::IN_USE.into()));
        }
        sqlx::query("DELETE FROM rooms WHERE id = ?").bind(id.to_string()).execute(&mut *tx).await.map_err(backend)?;
        tx.commit().await.map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests: a failed unwrap is a failed test"
    )]

    use orgbase_domain::org::NewOrg;

    use super::*;

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
        let store = SqliteStore::open_dir(dir.path()).await.unwrap();
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
        let store = SqliteStore::open_dir(dir.path()).await.unwrap();
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
