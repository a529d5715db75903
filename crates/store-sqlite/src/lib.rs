//! The embedded SQLite backend, the default. One file in the data dir, WAL journal,
//! `synchronous=FULL` so every committed write survives a power cut.
//!
//! Writes go through a pool of one connection, so they are serialised in-process
//! and never meet `SQLITE_BUSY` from each other; reads use a separate pool of
//! read-only connections that WAL lets run beside the writer. This crate owns the
//! SQL and the migrations; it holds no business rule.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use orgbase_domain::app::{App, app_from_row};
use orgbase_domain::org::{Org, OrgState, org_from_row};
use orgbase_domain::paging::{Page, PageRequest};
use orgbase_domain::store::{AppStore, OrgStore, Store};
use orgbase_domain::{Id, StoreError};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Maps a driver error, turning unique-constraint violations into `Exists`.
fn map_err(e: sqlx::Error, what: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Exists(what.to_owned()),
        _ => backend(e),
    }
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
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
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(backend)?;
        MIGRATOR.run(&writer).await.map_err(backend)?;
        let readers = std::thread::available_parallelism().map_or(4, |n| n.get() as u32 * 2).max(4);
        let reader = SqlitePoolOptions::new()
            .max_connections(readers)
            .min_connections(1)
            .connect_with(options.read_only(true))
            .await
            .map_err(backend)?;
        Ok(Self { writer, reader })
    }

    /// Closes both pools, checkpointing the WAL.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

const ORG_COLUMNS: &str = "id, code, state, version, created, updated, updater, props";

fn org_row(row: &sqlx::sqlite::SqliteRow) -> Result<Org, StoreError> {
    let props: String = row.try_get("props").map_err(backend)?;
    org_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("code").map_err(backend)?,
        row.try_get("state").map_err(backend)?,
        row.try_get("version").map_err(backend)?,
        from_millis(row.try_get("created").map_err(backend)?),
        from_millis(row.try_get("updated").map_err(backend)?),
        row.try_get("updater").map_err(backend)?,
        serde_json::from_str(&props).map_err(backend)?,
    )
}

fn sort_column(field: &str) -> &'static str {
    match field {
        "code" => "code",
        "name" => "name",
        "created" => "created",
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
    async fn insert_org(&self, org: &Org) -> Result<(), StoreError> {
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
        .execute(&self.writer)
        .await
        .map_err(|e| map_err(e, "An org with this code already exists."))?;
        Ok(())
    }

    async fn org_by_code(&self, code: &str) -> Result<Option<Org>, StoreError> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE code = ?");
        let row = sqlx::query(&sql).bind(code).fetch_optional(&self.reader).await.map_err(backend)?;
        row.as_ref().map(org_row).transpose()
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
        row.as_ref().map(org_row).transpose()?.ok_or(StoreError::NotFound)
    }
}

const APP_COLUMNS: &str = "id, org_id, name, key, secret, enabled, cors_origins, created";

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
    )
}

#[async_trait]
impl AppStore for SqliteStore {
    async fn insert_app(&self, app: &App) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO apps (id, org_id, name, key, secret, enabled, cors_origins, created) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(app.id.to_string())
        .bind(app.org.to_string())
        .bind(&app.name)
        .bind(&app.key)
        .bind(&app.secret)
        .bind(app.enabled)
        .bind(serde_json::to_string(&app.cors_origins).map_err(backend)?)
        .bind(millis(app.created))
        .execute(&self.writer)
        .await
        .map_err(|e| map_err(e, "An app with this key already exists."))?;
        Ok(())
    }

    async fn app_by_key(&self, key: &str) -> Result<Option<App>, StoreError> {
        let sql = format!("SELECT {APP_COLUMNS} FROM apps WHERE key = ?");
        let row = sqlx::query(&sql).bind(key).fetch_optional(&self.reader).await.map_err(backend)?;
        row.as_ref().map(app_row).transpose()
    }

    async fn apps_of_org(&self, org: Id) -> Result<Vec<App>, StoreError> {
        let sql = format!("SELECT {APP_COLUMNS} FROM apps WHERE org_id = ? ORDER BY id");
        let rows = sqlx::query(&sql).bind(org.to_string()).fetch_all(&self.reader).await.map_err(backend)?;
        rows.iter().map(app_row).collect()
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await.map_err(backend)?;
        Ok(())
    }
}
