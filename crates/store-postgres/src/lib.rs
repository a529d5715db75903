//! The PostgreSQL backend, for scale-out: several orgbase nodes on one database.
//! Same traits and same migration file names as `store-sqlite`; this crate owns the
//! SQL and the migrations, and holds no business rule.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
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
use orgbase_store_cache::Cache;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder, Row};

mod org_writes;

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

/// How often a node notifies itself, and how long it waits to hear anything
/// before it takes its listening connection for dead (a connection can die without
/// a word, behind a NAT or a proxy).
const HEARTBEAT: Duration = Duration::from_secs(5);
const SILENCE: Duration = Duration::from_secs(15);

async fn subscribe(pool: &PgPool, channel: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(channel).await?;
    Ok(listener)
}

/// Notifies this node's own channel every [`HEARTBEAT`], so that its listener
/// hears something even when nothing changes. Ends when the pool closes.
async fn heartbeat(pool: PgPool, channel: String) {
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
async fn listen_for_changes(
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
        (Some(("sessions", id)), _) => cache.forget_session(id),
        (None, "apps") => cache.forget_apps(),
        (None, "accounts" | "members" | "connections") => cache.clear_auth(),
        (None, "ping") => {}
        _ => cache.clear(),
    }
}

const ORG_COLUMNS: &str = "id, code, state, version, created, updated, updater, props, custom_props";

fn org_row(row: &PgRow) -> Result<Org, StoreError> {
    let Json(props): Json<serde_json::Value> = row.try_get("props").map_err(backend)?;
    let Json(schema): Json<serde_json::Value> = row.try_get("custom_props").map_err(backend)?;
    org_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("code").map_err(backend)?,
        row.try_get("state").map_err(backend)?,
        row.try_get("version").map_err(backend)?,
        row.try_get("created").map_err(backend)?,
        row.try_get("updated").map_err(backend)?,
        row.try_get("updater").map_err(backend)?,
        props,
        schema,
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
fn push_keyset(q: &mut QueryBuilder<'_, Postgres>, table: &str, req: &PageRequest) {
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
impl OrgStore for PgStore {
    async fn insert_org(&self, org: &Org, admin: Option<&LinkRequest>) -> Result<Option<Linked>, StoreError> {
        let _changing = self.cache.changing();
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query(
            "INSERT INTO orgs (id, code, name, state, version, created, updated, updater, props) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(org.id.to_string())
        .bind(org.code.as_str())
        .bind(&org.props.name)
        .bind(org.state.as_str())
        .bind(org.version)
        .bind(org.created)
        .bind(org.updated)
        .bind(org.updater.map(|u| u.to_string()))
        .bind(Json(org.props.to_value()))
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
        if let Some(org) = self.cached().and_then(|c| c.org(code)) {
            return Ok(Some(org));
        }
        let read_in = self.cache.generation();
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE code = $1");
        let row = sqlx::query(&sql).bind(code).fetch_optional(&self.pool).await.map_err(backend)?;
        let org = row.as_ref().map(org_row).transpose()?.map(Arc::new);
        if let (Some(cache), Some(org)) = (self.cached(), &org) {
            cache.put_org(read_in, Arc::clone(org));
        }
        Ok(org)
    }

    async fn org_by_id(&self, id: Id) -> Result<Option<Org>, StoreError> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = $1");
        let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&self.pool).await.map_err(backend)?;
        row.as_ref().map(org_row).transpose()
    }

    async fn list_orgs(&self, req: &PageRequest) -> Result<Page<Org>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {ORG_COLUMNS} FROM orgs WHERE 1 = 1"));
        push_keyset(&mut q, "orgs", req);
        let rows = q.build().fetch_all(&self.pool).await.map_err(backend)?;
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
        self.org_writes.modify(&self.pool, &self.cache, id, change, updater, now).await
    }

    async fn set_org_state(&self, id: Id, state: OrgState, now: DateTime<Utc>) -> Result<Org, StoreError> {
        let sql = format!(
            "UPDATE orgs SET state = $1, version = version + 1, updated = $2 WHERE id = $3 RETURNING {ORG_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(state.as_str())
            .bind(now)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        let org = row.as_ref().map(org_row).transpose()?.ok_or(StoreError::NotFound)?;
        self.cache.forget_org(id);
        Ok(org)
    }
}

const APP_COLUMNS: &str = "id, org_id, name, key, secret, enabled, cors_origins, created, require_signature_v2, act_as";

fn app_row(row: &PgRow) -> Result<App, StoreError> {
    let Json(origins): Json<serde_json::Value> = row.try_get("cors_origins").map_err(backend)?;
    app_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("org_id").map_err(backend)?,
        row.try_get("name").map_err(backend)?,
        row.try_get("key").map_err(backend)?,
        row.try_get("secret").map_err(backend)?,
        row.try_get("enabled").map_err(backend)?,
        origins,
        row.try_get("created").map_err(backend)?,
        row.try_get("require_signature_v2").map_err(backend)?,
        row.try_get::<Option<Json<serde_json::Value>>, _>("act_as").map_err(backend)?.map(|Json(v)| v),
    )
}

#[async_trait]
impl AppStore for PgStore {
    async fn insert_app(&self, app: &App) -> Result<(), StoreError> {
        let _changing = self.cache.changing();
        sqlx::query(
            "INSERT INTO apps (id, org_id, name, key, secret, enabled, cors_origins, created, \
             require_signature_v2, act_as) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(app.id.to_string())
        .bind(app.org.to_string())
        .bind(&app.name)
        .bind(&app.key)
        .bind(&app.secret)
        .bind(app.enabled)
        .bind(Json(&app.cors_origins))
        .bind(app.created)
        .bind(app.require_signature_v2)
        .bind(app.act_as.to_stored().map(Json))
        .execute(&self.pool)
        .await
        .map_err(|e| map_err(e, "An app with this key already exists."))?;
        Ok(())
    }

    async fn app_by_key(&self, key: &str) -> Result<Option<Arc<App>>, StoreError> {
        if let Some(app) = self.cached().and_then(|c| c.app(key)) {
            return Ok(Some(app));
        }
        let read_in = self.cache.generation();
        let sql = format!("SELECT {APP_COLUMNS} FROM apps WHERE key = $1");
        let row = sqlx::query(&sql).bind(key).fetch_optional(&self.pool).await.map_err(backend)?;
        let app = row.as_ref().map(app_row).transpose()?.map(Arc::new);
        if let (Some(cache), Some(app)) = (self.cached(), &app) {
            cache.put_app(read_in, Arc::clone(app));
        }
        Ok(app)
    }

    async fn apps_of_org(&self, org: Id) -> Result<Vec<App>, StoreError> {
        if let Some(apps) = self.cached().and_then(|c| c.org_apps(org)) {
            return Ok(apps);
        }
        let read_in = self.cache.generation();
        let sql = format!("SELECT {APP_COLUMNS} FROM apps WHERE org_id = $1 ORDER BY id");
        let rows = sqlx::query(&sql).bind(org.to_string()).fetch_all(&self.pool).await.map_err(backend)?;
        let apps = rows.iter().map(app_row).collect::<Result<Vec<_>, _>>()?;
        if let Some(cache) = self.cached() {
            cache.put_org_apps(read_in, org, &apps);
        }
        Ok(apps)
    }
}

const ACCOUNT_COLUMNS: &str = "id, email, name_first, name_last, password_hash, verified, created, updated";
const MEMBER_COLUMNS: &str = "id, org_id, account_id, roles, state, created, updated";
const SESSION_COLUMNS: &str = "id, token_hash, account_id, org_id, created, last_seen, expires";

fn account_row(row: &PgRow) -> Result<Account, StoreError> {
    account_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("email").map_err(backend)?,
        row.try_get("name_first").map_err(backend)?,
        row.try_get("name_last").map_err(backend)?,
        row.try_get("password_hash").map_err(backend)?,
        row.try_get("verified").map_err(backend)?,
        row.try_get("created").map_err(backend)?,
        row.try_get("updated").map_err(backend)?,
    )
}

fn member_row(row: &PgRow) -> Result<Member, StoreError> {
    let Json(roles): Json<serde_json::Value> = row.try_get("roles").map_err(backend)?;
    member_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("org_id").map_err(backend)?,
        row.try_get("account_id").map_err(backend)?,
        roles,
        row.try_get("state").map_err(backend)?,
        row.try_get("created").map_err(backend)?,
        row.try_get("updated").map_err(backend)?,
    )
}

fn session_row(row: &PgRow) -> Result<Session, StoreError> {
    session_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("token_hash").map_err(backend)?,
        row.try_get("account_id").map_err(backend)?,
        row.try_get("org_id").map_err(backend)?,
        row.try_get("created").map_err(backend)?,
        row.try_get("last_seen").map_err(backend)?,
        row.try_get("expires").map_err(backend)?,
    )
}

/// Inserts an account row.
async fn insert_account_row(conn: &mut PgConnection, a: &Account) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO accounts (id, email, name_first, name_last, password_hash, verified, created, updated) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(a.id.to_string())
    .bind(a.email.as_str())
    .bind(&a.name.first)
    .bind(&a.name.last)
    .bind(&a.password_hash)
    .bind(a.verified)
    .bind(a.created)
    .bind(a.updated)
    .execute(conn)
    .await
    .map_err(|e| map_err(e, "An account with this email already exists."))?;
    Ok(())
}

async fn insert_member_row(conn: &mut PgConnection, m: &Member) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO members (id, org_id, account_id, roles, state, created, updated) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(m.id.to_string())
    .bind(m.org.to_string())
    .bind(m.account.to_string())
    .bind(Json(&m.roles))
    .bind(m.state.as_str())
    .bind(m.created)
    .bind(m.updated)
    .execute(conn)
    .await
    .map_err(|e| map_err(e, "This account is already a member of the org."))?;
    Ok(())
}

#[async_trait]
impl AccountStore for PgStore {
    async fn insert_account(&self, account: &Account, member: Option<&Member>) -> Result<(), StoreError> {
        let _changing = self.cache.changing();
        let mut tx = self.pool.begin().await.map_err(backend)?;
        insert_account_row(&mut tx, account).await?;
        if let Some(member) = member {
            insert_member_row(&mut tx, member).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn account_by_email(&self, email: &Email) -> Result<Option<Account>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE email = $1");
        let row = sqlx::query(&sql).bind(email.as_str()).fetch_optional(&self.pool).await.map_err(backend)?;
        row.as_ref().map(account_row).transpose()
    }

    async fn account_by_id(&self, id: Id) -> Result<Option<Account>, StoreError> {
        if let Some(account) = self.cached().and_then(|c| c.account(id)) {
            return Ok(Some(account));
        }
        let read_in = self.cache.generation();
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1");
        let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&self.pool).await.map_err(backend)?;
        let account = row.as_ref().map(account_row).transpose()?;
        if let (Some(cache), Some(account)) = (self.cached(), &account) {
            cache.put_account(read_in, account);
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
        let _changing = self.cache.changing();
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // A reset token mailed before the change must not undo it.
        let done = sqlx::query(
            "UPDATE accounts SET password_hash = $1, reset_token_hash = NULL, reset_expires = NULL, updated = $2 \
             WHERE id = $3",
        )
        .bind(hash)
        .bind(now)
        .bind(account.to_string())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND id IS DISTINCT FROM $2")
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
impl PgStore {
    async fn set_account_token(
        &self,
        kind: &'static str,
        account: Id,
        token_hash: &str,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _changing = self.cache.changing();
        let sql = format!("UPDATE accounts SET {kind}_token_hash = $1, {kind}_expires = $2 WHERE id = $3");
        sqlx::query(&sql)
            .bind(token_hash)
            .bind(expires)
            .bind(account.to_string())
            .execute(&self.pool)
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
            format!("SELECT {ACCOUNT_COLUMNS}, {kind}_expires AS expires FROM accounts WHERE {kind}_token_hash = $1");
        let row = sqlx::query(&sql).bind(token_hash).fetch_optional(&self.pool).await.map_err(backend)?;
        match row {
            None => Ok(None),
            Some(row) => {
                let expires: DateTime<Utc> = row.try_get("expires").map_err(backend)?;
                Ok(Some((account_row(&row)?, expires)))
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
        let _changing = self.cache.changing();
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let sql = format!(
            "UPDATE accounts SET password_hash = $1, verified = TRUE, reset_token_hash = NULL, \
             reset_expires = NULL, verify_token_hash = NULL, verify_expires = NULL, updated = $2 \
             WHERE {kind}_token_hash = $3 AND {kind}_expires > $4 RETURNING id"
        );
        let row = sqlx::query(&sql)
            .bind(hash)
            .bind(now)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let id: String = row.try_get("id").map_err(backend)?;
        sqlx::query("DELETE FROM sessions WHERE account_id = $1").bind(&id).execute(&mut *tx).await.map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(Id::parse(&id))
    }
}

/// Links the holder of `request`'s email to `org` (see `MemberStore::link_member`),
/// inside the caller's transaction.
async fn link_row(
    conn: &mut PgConnection,
    org: Id,
    request: &LinkRequest,
    now: DateTime<Utc>,
) -> Result<Linked, StoreError> {
    // Locked, so that a concurrent reclaim or verification cannot change it under us.
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE email = $1 FOR UPDATE");
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
    let member: Option<(String,)> = sqlx::query_as("SELECT id FROM members WHERE org_id = $1 AND account_id = $2")
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

/// Inserts a connection row. A pending one for the same email is
/// [`StoreError::Exists`], or, with `or_ignore`, `false`.
async fn insert_connection_row(conn: &mut PgConnection, c: &Connection, or_ignore: bool) -> Result<bool, StoreError> {
    let conflict = if or_ignore { " ON CONFLICT DO NOTHING" } else { "" };
    let sql = format!(
        "INSERT INTO connections (id, org_id, email, name, roles, state, token_hash, expires, creator, account_id, \
         created, updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12){conflict}"
    );
    let done = sqlx::query(&sql)
        .bind(c.id.to_string())
        .bind(c.org.to_string())
        .bind(c.email.as_str())
        .bind(&c.name)
        .bind(Json(&c.roles))
        .bind(c.state.as_i16())
        .bind(&c.token_hash)
        .bind(c.expires)
        .bind(c.creator.map(|x| x.to_string()))
        .bind(c.account.map(|x| x.to_string()))
        .bind(c.created)
        .bind(c.updated)
        .execute(conn)
        .await
        .map_err(|e| map_err(e, "A pending connection for this email already exists."))?;
    Ok(done.rows_affected() == 1)
}

#[async_trait]
impl MemberStore for PgStore {
    async fn insert_member(&self, member: &Member) -> Result<(), StoreError> {
        let _changing = self.cache.changing();
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        insert_member_row(&mut conn, member).await
    }

    async fn member_of(&self, org: Id, account: Id) -> Result<Option<Member>, StoreError> {
        if let Some(member) = self.cached().and_then(|c| c.member(org, account)) {
            return Ok(member);
        }
        let read_in = self.cache.generation();
        let sql = format!("SELECT {MEMBER_COLUMNS} FROM members WHERE org_id = $1 AND account_id = $2");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(account.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        let member = row.as_ref().map(member_row).transpose()?;
        if let Some(cache) = self.cached() {
            cache.put_member(read_in, org, account, member.as_ref());
        }
        Ok(member)
    }

    async fn list_members(
        &self,
        org: Id,
        filter: &MemberFilter,
        req: &PageRequest,
    ) -> Result<Arc<Page<MemberEntry>>, StoreError> {
        if let Some(page) = self.cached().and_then(|c| c.member_page(org, filter, req)) {
            return Ok(page);
        }
        let read_in = self.cache.generation();
        let mut q = QueryBuilder::new(format!(
            "SELECT {MEMBER_JOIN_COLUMNS} FROM members m JOIN accounts a ON a.id = m.account_id WHERE m.org_id = "
        ));
        q.push_bind(org.to_string());
        if let Some(role) = filter.role {
            q.push(" AND m.roles @> jsonb_build_array(");
            q.push_bind(role.to_string());
            q.push("::text)");
        }
        if let Some(state) = filter.state {
            q.push(" AND m.state = ");
            q.push_bind(state.as_str());
        }
        if let Some(search) = &filter.search {
            let pattern = format!("{}%", like_escape(&search.to_lowercase()));
            q.push(" AND (a.email ILIKE ");
            q.push_bind(pattern.clone());
            q.push(" ESCAPE '\\' OR a.name_first ILIKE ");
            q.push_bind(pattern.clone());
            q.push(" ESCAPE '\\' OR a.name_last ILIKE ");
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
        let rows = q.build().fetch_all(&self.pool).await.map_err(backend)?;
        let items = rows.iter().map(member_join_row).collect::<Result<Vec<_>, _>>()?;
        let page = Arc::new(Page::from_rows(items, req));
        if let Some(cache) = self.cached() {
            cache.put_member_page(read_in, org, filter, req, &page);
        }
        Ok(page)
    }

    async fn member_by_id(&self, org: Id, id: Id) -> Result<Option<MemberEntry>, StoreError> {
        let sql = format!(
            "SELECT {MEMBER_JOIN_COLUMNS} FROM members m JOIN accounts a ON a.id = m.account_id WHERE m.org_id = $1 AND m.id = $2"
        );
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
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
        let _changing = self.cache.changing();
        // Locking the org row serialises member changes per org, so two admins
        // demoting each other cannot both pass the guard below.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        lock_org(&mut tx, org).await?;
        let roles_json = roles.map(|r| Json(r.to_vec()));
        let sql = format!(
            "UPDATE members SET roles = COALESCE($1::jsonb, roles), state = COALESCE($2, state), updated = $3 \
             WHERE org_id = $4 AND id = $5 RETURNING {MEMBER_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(roles_json)
            .bind(state.map(MemberState::as_str))
            .bind(now)
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
        let _changing = self.cache.changing();
        let mut tx = self.pool.begin().await.map_err(backend)?;
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
        let _changing = self.cache.changing();
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let mut linked = Vec::with_capacity(rows.len());
        for row in rows {
            linked.push(link_row(&mut tx, org, row, now).await?);
        }
        tx.commit().await.map_err(backend)?;
        Ok(linked)
    }

    async fn delete_member(&self, org: Id, id: Id, admins: Admins<'_>, now: DateTime<Utc>) -> Result<(), StoreError> {
        let _changing = self.cache.changing();
        let mut tx = self.pool.begin().await.map_err(backend)?;
        lock_org(&mut tx, org).await?;
        let account: String =
            sqlx::query_scalar("DELETE FROM members WHERE org_id = $1 AND id = $2 RETURNING account_id")
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
        let sql = format!("SELECT {MEMBER_COLUMNS} FROM members WHERE account_id = $1 ORDER BY created, id");
        let rows = sqlx::query(&sql).bind(account.to_string()).fetch_all(&self.pool).await.map_err(backend)?;
        rows.iter().map(member_row).collect()
    }
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Takes the org's row lock for the rest of the transaction.
async fn lock_org(conn: &mut PgConnection, org: Id) -> Result<(), StoreError> {
    sqlx::query("SELECT id FROM orgs WHERE id = $1 FOR UPDATE")
        .bind(org.to_string())
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

/// Fails when no active member of the org holds one of `admin_roles`.
async fn guard_admins(conn: &mut PgConnection, org: Id, admin_roles: &[Id]) -> Result<(), StoreError> {
    let roles: Vec<String> = admin_roles.iter().map(Id::to_string).collect();
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM members WHERE org_id = $1 AND state = 'active' AND roles ?| $2::text[]")
            .bind(org.to_string())
            .bind(roles)
            .fetch_one(conn)
            .await
            .map_err(backend)?;
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
    conn: &mut PgConnection,
    org: Id,
    account: Id,
    admins: Admins<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let owned: Vec<String> =
        sqlx::query_scalar("SELECT id FROM live_sessions WHERE org_id = $1 AND owner_id = $2 FOR UPDATE")
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
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (session_id, account_id) DO UPDATE \
                 SET home_org_id = excluded.home_org_id, permissions = excluded.permissions, updated = excluded.updated",
            )
            .bind(Id::generate(now).to_string())
            .bind(session)
            .bind(&heir)
            .bind(org.to_string())
            .bind(Permissions::ALL.bits())
            .bind(now)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
        }
        sqlx::query("UPDATE live_sessions SET owner_id = $1, updated = $2 WHERE org_id = $3 AND owner_id = $4")
            .bind(&heir)
            .bind(now)
            .bind(org.to_string())
            .bind(account.to_string())
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
    }
    sqlx::query(
        "DELETE FROM participants WHERE account_id = $1 \
         AND (home_org_id = $2 OR session_id IN (SELECT id FROM live_sessions WHERE org_id = $2))",
    )
    .bind(account.to_string())
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
async fn heir(conn: &mut PgConnection, org: Id, leaver: Id, admins: Admins<'_>) -> Result<String, StoreError> {
    let roles: Vec<String> = admins.roles.iter().map(Id::to_string).collect();
    let heir: Option<String> = sqlx::query_scalar(
        "SELECT account_id FROM members WHERE org_id = $1 AND state = 'active' AND account_id <> $2 \
         AND roles ?| $3::text[] ORDER BY account_id IS NOT DISTINCT FROM $4 DESC, created, id LIMIT 1",
    )
    .bind(org.to_string())
    .bind(leaver.to_string())
    .bind(roles)
    .bind(admins.acting.map(|a| a.to_string()))
    .fetch_optional(conn)
    .await
    .map_err(backend)?;
    heir.ok_or_else(|| StoreError::Invariant("The org must keep at least one active Administrator.".into()))
}

const MEMBER_JOIN_COLUMNS: &str =
    "m.id, m.org_id, m.account_id, m.roles, m.state, m.created, m.updated, a.email, a.name_first, a.name_last";

fn member_join_row(row: &PgRow) -> Result<MemberEntry, StoreError> {
    Ok(member_entry_from_row(
        member_row(row)?,
        row.try_get("email").map_err(backend)?,
        row.try_get("name_first").map_err(backend)?,
        row.try_get("name_last").map_err(backend)?,
    ))
}

const CONNECTION_COLUMNS: &str =
    "id, org_id, email, name, roles, state, token_hash, expires, creator, account_id, created, updated";

fn connection_row(row: &PgRow) -> Result<Connection, StoreError> {
    let Json(roles): Json<serde_json::Value> = row.try_get("roles").map_err(backend)?;
    let state: i16 = row.try_get("state").map_err(backend)?;
    connection_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("org_id").map_err(backend)?,
        row.try_get("email").map_err(backend)?,
        row.try_get("name").map_err(backend)?,
        roles,
        state,
        row.try_get("token_hash").map_err(backend)?,
        row.try_get("expires").map_err(backend)?,
        row.try_get("creator").map_err(backend)?,
        row.try_get("account_id").map_err(backend)?,
        row.try_get("created").map_err(backend)?,
        row.try_get("updated").map_err(backend)?,
    )
}

#[async_trait]
impl ConnectionStore for PgStore {
    async fn insert_connection(&self, c: &Connection) -> Result<(), StoreError> {
        let _changing = self.cache.changing();
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let member: Option<(String,)> = sqlx::query_as(
            "SELECT m.id FROM members m JOIN accounts a ON a.id = m.account_id WHERE m.org_id = $1 AND a.email = $2",
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
        let rows = q.build().fetch_all(&self.pool).await.map_err(backend)?;
        let items = rows.iter().map(connection_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(items, req))
    }

    async fn connection_by_id(&self, org: Id, id: Id) -> Result<Option<Connection>, StoreError> {
        let sql = format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE org_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(connection_row).transpose()
    }

    async fn connection_by_token(&self, token_hash: &str) -> Result<Option<Connection>, StoreError> {
        let sql = format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE token_hash = $1");
        let row = sqlx::query(&sql).bind(token_hash).fetch_optional(&self.pool).await.map_err(backend)?;
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
        let _changing = self.cache.changing();
        let sql = format!(
            "UPDATE connections SET token_hash = $1, expires = $2, updated = $3 WHERE org_id = $4 AND id = $5 AND state = 0 \
             RETURNING {CONNECTION_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(token_hash)
            .bind(expires)
            .bind(now)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
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
        let _changing = self.cache.changing();
        let sql = format!(
            "UPDATE connections SET state = $1, token_hash = NULL, updated = $2 WHERE org_id = $3 AND id = $4 AND state = 0 \
             RETURNING {CONNECTION_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(state.as_i16())
            .bind(now)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
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
        let _changing = self.cache.changing();
        let mut tx = self.pool.begin().await.map_err(backend)?;
        match how {
            Acceptance::Register => insert_account_row(&mut tx, &account.clone().verified()).await?,
            Acceptance::Existing { keep } => {
                let was: Option<(bool,)> = sqlx::query_as("SELECT verified FROM accounts WHERE id = $1 FOR UPDATE")
                    .bind(account.id.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
                match was {
                    None => return Err(StoreError::NotFound),
                    Some((true,)) => {}
                    Some((false,)) => {
                        // Whoever else held a session of the unverified account loses it.
                        sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND id IS DISTINCT FROM $2")
                            .bind(account.id.to_string())
                            .bind(keep.map(|k| k.to_string()))
                            .execute(&mut *tx)
                            .await
                            .map_err(backend)?;
                        sqlx::query("UPDATE accounts SET verified = TRUE, updated = $1 WHERE id = $2")
                            .bind(now)
                            .bind(account.id.to_string())
                            .execute(&mut *tx)
                            .await
                            .map_err(backend)?;
                    }
                }
            }
            Acceptance::Reclaim { password_hash, name } => {
                let done = sqlx::query(
                    "UPDATE accounts SET password_hash = $1, name_first = $2, name_last = $3, verified = TRUE, \
                     verify_token_hash = NULL, verify_expires = NULL, reset_token_hash = NULL, reset_expires = NULL, \
                     updated = $4 WHERE id = $5 AND NOT verified",
                )
                .bind(password_hash)
                .bind(&name.first)
                .bind(&name.last)
                .bind(now)
                .bind(account.id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::Conflict("This account was verified meanwhile: log in to accept.".into()));
                }
                sqlx::query("DELETE FROM sessions WHERE account_id = $1")
                    .bind(account.id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
            }
        }
        let sql = format!(
            "UPDATE connections SET state = 1, token_hash = NULL, account_id = $1, updated = $2 \
             WHERE token_hash = $3 AND state = 0 AND expires > $4 RETURNING {CONNECTION_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(account.id.to_string())
            .bind(now)
            .bind(token_hash)
            .bind(now)
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
        if let Some(latest) = self.cached().and_then(|c| c.pending(org, email_key)) {
            return Ok(latest.is_some_and(|expires| expires > now));
        }
        let read_in = self.cache.generation();
        // The latest expiry is kept, so that the answer stays right as time passes.
        let (latest,): (Option<DateTime<Utc>>,) = sqlx::query_as(
            "SELECT MAX(expires) FROM connections WHERE org_id = $1 AND state = 0 AND ($2::text IS NULL OR email = $3)",
        )
        .bind(org.to_string())
        .bind(email_key)
        .bind(email_key)
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        if let Some(cache) = self.cached() {
            cache.put_pending(read_in, org, email_key, latest);
        }
        Ok(latest.is_some_and(|expires| expires > now))
    }
}

#[async_trait]
impl SessionStore for PgStore {
    async fn insert_session(&self, s: &Session) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id, token_hash, account_id, org_id, created, last_seen, expires) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(s.id.to_string())
        .bind(&s.token_hash)
        .bind(s.account.to_string())
        .bind(s.org.to_string())
        .bind(s.created)
        .bind(s.last_seen)
        .bind(s.expires)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn session_by_token_hash(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        if let Some(session) = self.cached().and_then(|c| c.session(token_hash)) {
            return Ok(Some(session));
        }
        let read_in = self.cache.generation();
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1");
        let row = sqlx::query(&sql).bind(token_hash).fetch_optional(&self.pool).await.map_err(backend)?;
        let session = row.as_ref().map(session_row).transpose()?;
        if let (Some(cache), Some(session)) = (self.cached(), &session) {
            cache.put_session(read_in, session);
        }
        Ok(session)
    }

    async fn touch_session(&self, id: Id, last_seen: DateTime<Utc>, expires: DateTime<Utc>) -> Result<(), StoreError> {
        // Concurrent requests of one session may all touch it; only the first moves it.
        sqlx::query("UPDATE sessions SET last_seen = $1, expires = $2 WHERE id = $3 AND last_seen < $1")
            .bind(last_seen)
            .bind(expires)
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        self.cache.forget_session(id);
        Ok(())
    }

    async fn delete_session(&self, id: Id) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        self.cache.forget_session(id);
        Ok(())
    }

    async fn record_nonce(
        &self,
        app: Id,
        nonce: &str,
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("DELETE FROM request_nonces WHERE seen < $1")
            .bind(forget_before)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let done =
            sqlx::query("INSERT INTO request_nonces (app_id, nonce, seen) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(app.to_string())
                .bind(nonce)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn purge_expired(&self, now: DateTime<Utc>, nonces_before: DateTime<Utc>) -> Result<u64, StoreError> {
        let sessions = sqlx::query("DELETE FROM sessions WHERE expires <= $1 RETURNING id")
            .bind(now)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        for row in &sessions {
            let id: String = row.try_get("id").map_err(backend)?;
            if let Some(id) = Id::parse(&id) {
                self.cache.forget_session(id);
            }
        }
        let nonces = sqlx::query("DELETE FROM request_nonces WHERE seen < $1")
            .bind(nonces_before)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        let limits = sqlx::query("DELETE FROM rate_limits WHERE tat < $1")
            .bind(now.timestamp_millis())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(sessions.len() as u64 + nonces.rows_affected() + limits.rows_affected())
    }
}

#[async_trait]
impl RateLimitStore for PgStore {
    async fn rate_limit(&self, key: &str, quota: Quota, now: DateTime<Utc>) -> Result<Option<Duration>, StoreError> {
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

const POST_COLUMNS: &str = "id, org_id, creator, body, created";

fn post_row(row: &PgRow) -> Result<Post, StoreError> {
    post_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("org_id").map_err(backend)?,
        row.try_get("creator").map_err(backend)?,
        row.try_get("body").map_err(backend)?,
        row.try_get("created").map_err(backend)?,
    )
}

#[async_trait]
impl PostStore for PgStore {
    async fn insert_post(&self, post: &Post) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO posts (id, org_id, creator, body, created) VALUES ($1, $2, $3, $4, $5)")
            .bind(post.id.to_string())
            .bind(post.org.to_string())
            .bind(post.creator.to_string())
            .bind(&post.body)
            .bind(post.created)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn list_posts(&self, org: Id, req: &PageRequest) -> Result<Page<Post>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {POST_COLUMNS} FROM posts WHERE org_id = "));
        q.push_bind(org.to_string());
        push_keyset(&mut q, "posts", req);
        let rows = q.build().fetch_all(&self.pool).await.map_err(backend)?;
        let posts = rows.iter().map(post_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(posts, req))
    }

    async fn post_by_id(&self, org: Id, id: Id) -> Result<Option<Post>, StoreError> {
        let sql = format!("SELECT {POST_COLUMNS} FROM posts WHERE org_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(post_row).transpose()
    }

    async fn delete_post(&self, org: Id, id: Id) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM posts WHERE org_id = $1 AND id = $2")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
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

const LIVE_SESSION_COLUMNS: &str = "id, org_id, owner_id, name, type, speciality, estimated_duration, access, \
     facility_id, room_id, scheduled_start, state, started, ended, created, updated";
const PARTICIPANT_COLUMNS: &str = "id, session_id, account_id, home_org_id, permissions, created, updated";

fn live_session_row(row: &PgRow) -> Result<LiveSession, StoreError> {
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
        row.try_get("scheduled_start").map_err(backend)?,
        row.try_get("state").map_err(backend)?,
        row.try_get("started").map_err(backend)?,
        row.try_get("ended").map_err(backend)?,
        row.try_get("created").map_err(backend)?,
        row.try_get("updated").map_err(backend)?,
    )
}

fn participant_row(row: &PgRow) -> Result<Participant, StoreError> {
    participant_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("session_id").map_err(backend)?,
        row.try_get("account_id").map_err(backend)?,
        row.try_get("home_org_id").map_err(backend)?,
        row.try_get("permissions").map_err(backend)?,
        row.try_get("created").map_err(backend)?,
        row.try_get("updated").map_err(backend)?,
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
    conn: &mut PgConnection,
    mut sessions: Vec<LiveSession>,
) -> Result<Vec<LiveSession>, StoreError> {
    if sessions.is_empty() {
        return Ok(sessions);
    }
    let ids: Vec<String> = sessions.iter().map(|s| s.id.to_string()).collect();
    let sql = format!("SELECT {PARTICIPANT_COLUMNS} FROM participants WHERE session_id = ANY($1)");
    let rows = sqlx::query(&sql).bind(&ids).fetch_all(&mut *conn).await.map_err(backend)?;
    let participants = rows.iter().map(participant_row).collect::<Result<Vec<_>, _>>()?;
    attach_participants(&mut sessions, participants);
    Ok(sessions)
}

async fn fetch_live_session(conn: &mut PgConnection, id: Id) -> Result<Option<LiveSession>, StoreError> {
    let sql = format!("SELECT {LIVE_SESSION_COLUMNS} FROM live_sessions WHERE id = $1");
    let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *conn).await.map_err(backend)?;
    let Some(session) = row.as_ref().map(live_session_row).transpose()? else { return Ok(None) };
    Ok(with_participants(conn, vec![session]).await?.pop())
}

/// The state of a session, for the reason of a refused change. `FOR SHARE` holds
/// it until the transaction ends, so a racing start or end waits for us.
async fn live_session_state(conn: &mut PgConnection, id: Id) -> Result<SessionState, StoreError> {
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM live_sessions WHERE id = $1 FOR SHARE")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?;
    state.as_deref().and_then(SessionState::parse).ok_or(StoreError::NotFound)
}

/// Checks, inside a write transaction, that a session exists and has not ended.
async fn require_open_session(conn: &mut PgConnection, id: Id) -> Result<(), StoreError> {
    match live_session_state(conn, id).await? {
        SessionState::Ended => Err(StoreError::Conflict(session::ENDED.into())),
        _ => Ok(()),
    }
}

/// Inserts a participant whose account is an active member of its home org
/// ([`StoreError::NotFound`] otherwise), so that a member removed meanwhile is never
/// added back.
async fn insert_participant_row(conn: &mut PgConnection, p: &Participant) -> Result<(), StoreError> {
    // FOR SHARE: a removal or suspension of this member waits for the insert to
    // commit (and then takes the participation away with it), or the insert waits
    // for it and finds no active member.
    let member: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM members WHERE org_id = $1 AND account_id = $2 AND state = 'active' FOR SHARE",
    )
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
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(p.id.to_string())
    .bind(p.session.to_string())
    .bind(p.account.to_string())
    .bind(p.home_org.to_string())
    .bind(p.permissions.bits())
    .bind(p.created)
    .bind(p.updated)
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

fn push_session_scope(q: &mut QueryBuilder<'_, Postgres>, query: &SessionQuery) {
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
impl LiveSessionStore for PgStore {
    async fn insert_live_session(&self, s: &LiveSession) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query(
            "INSERT INTO live_sessions (id, org_id, owner_id, name, type, speciality, estimated_duration, access, \
             facility_id, room_id, scheduled_start, state, started, ended, created, updated) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
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
        .bind(s.scheduled_start)
        .bind(s.state.as_str())
        .bind(s.started)
        .bind(s.ended)
        .bind(s.created)
        .bind(s.updated)
        .execute(&mut *tx)
        .await
        .map_err(|e| map_ref_err(e, "A session with this id already exists."))?;
        for p in &s.participants {
            insert_participant_row(&mut tx, p).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn live_session(&self, id: Id) -> Result<Option<LiveSession>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
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
        let mut conn = self.pool.acquire().await.map_err(backend)?;
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let mut q = QueryBuilder::new("UPDATE live_sessions SET updated = ");
        q.push_bind(now);
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
            q.push(", scheduled_start = ").push_bind(start);
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let stamp = match to {
            SessionState::Live => ", started = $2",
            SessionState::Ended => ", ended = $2",
            SessionState::Scheduled => "",
        };
        let done = match to.comes_from() {
            None => None,
            Some(from) => Some(
                sqlx::query(&format!(
                    "UPDATE live_sessions SET state = $1, updated = $2{stamp} WHERE id = $3 AND state = $4"
                ))
                .bind(to.as_str())
                .bind(now)
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
        let done = sqlx::query("DELETE FROM live_sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn insert_participant(&self, p: &Participant) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        require_open_session(&mut tx, session).await?;
        let sql = format!(
            "UPDATE participants SET permissions = $1, updated = $2 WHERE session_id = $3 AND account_id = $4 \
             RETURNING {PARTICIPANT_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(permissions.bits())
            .bind(now)
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        require_open_session(&mut tx, session).await?;
        let done = sqlx::query("DELETE FROM participants WHERE session_id = $1 AND account_id = $2")
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

fn facility_row(row: &PgRow) -> Result<Facility, StoreError> {
    facility_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("org_id").map_err(backend)?,
        row.try_get("name").map_err(backend)?,
        row.try_get("is_removable").map_err(backend)?,
        row.try_get("created").map_err(backend)?,
        row.try_get("updated").map_err(backend)?,
    )
}

fn room_row(row: &PgRow) -> Result<Room, StoreError> {
    room_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("org_id").map_err(backend)?,
        row.try_get("facility_id").map_err(backend)?,
        row.try_get("name").map_err(backend)?,
        row.try_get("is_removable").map_err(backend)?,
        row.try_get("created").map_err(backend)?,
        row.try_get("updated").map_err(backend)?,
    )
}

/// `UPDATE {table} SET … WHERE org_id = $ AND id = $ RETURNING {columns}`.
fn place_update<'a>(
    table: &str,
    columns: &str,
    org: Id,
    id: Id,
    changes: &'a PlaceChanges,
    now: DateTime<Utc>,
) -> QueryBuilder<'a, Postgres> {
    let mut q = QueryBuilder::new(format!("UPDATE {table} SET updated = "));
    q.push_bind(now);
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
async fn exists(conn: &mut PgConnection, sql: &str, id: Id) -> Result<bool, StoreError> {
    let found: Option<i32> =
        sqlx::query_scalar(sql).bind(id.to_string()).fetch_optional(&mut *conn).await.map_err(backend)?;
    Ok(found.is_some())
}

/// Locks a facility or room row of `org` for deletion and says whether it is
/// removable. The lock makes sessions that would take it (whose foreign key check
/// needs a share lock on the row) wait until the delete is done.
async fn lock_for_delete(conn: &mut PgConnection, table: &str, org: Id, id: Id) -> Result<(), StoreError> {
    let removable: Option<bool> =
        sqlx::query_scalar(&format!("SELECT is_removable FROM {table} WHERE org_id = $1 AND id = $2 FOR UPDATE"))
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(backend)?;
    match removable {
        None => Err(StoreError::NotFound),
        Some(false) => Err(StoreError::Conflict(facility::NOT_REMOVABLE.into())),
        Some(true) => Ok(()),
    }
}

#[async_trait]
impl FacilityStore for PgStore {
    async fn insert_facility(&self, f: &Facility) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO facilities (id, org_id, name, is_removable, created, updated) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(f.id.to_string())
        .bind(f.org.to_string())
        .bind(&f.name)
        .bind(f.is_removable)
        .bind(f.created)
        .bind(f.updated)
        .execute(&self.pool)
        .await
        .map_err(|e| map_ref_err(e, "A facility with this id already exists."))?;
        Ok(())
    }

    async fn facility(&self, org: Id, id: Id) -> Result<Option<Facility>, StoreError> {
        let sql = format!("SELECT {FACILITY_COLUMNS} FROM facilities WHERE org_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(facility_row).transpose()
    }

    async fn list_facilities(&self, org: Id, req: &PageRequest) -> Result<Page<Facility>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {FACILITY_COLUMNS} FROM facilities WHERE org_id = "));
        q.push_bind(org.to_string());
        push_keyset(&mut q, "facilities", req);
        let rows = q.build().fetch_all(&self.pool).await.map_err(backend)?;
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
        let row = q.build().fetch_optional(&self.pool).await.map_err(backend)?;
        row.as_ref().map(facility_row).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn delete_facility(&self, org: Id, id: Id) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        lock_for_delete(&mut tx, "facilities", org, id).await?;
        if exists(&mut tx, "SELECT 1 FROM rooms WHERE facility_id = $1 AND NOT is_removable LIMIT 1", id).await? {
            return Err(StoreError::Conflict(facility::ROOM_NOT_REMOVABLE.into()));
        }
        let in_use = "SELECT 1 FROM live_sessions WHERE facility_id = $1 AND state <> 'ended' LIMIT 1";
        if exists(&mut tx, in_use, id).await? {
            return Err(StoreError::Conflict(facility::IN_USE.into()));
        }
        sqlx::query("DELETE FROM facilities WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn insert_room(&self, r: &Room) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO rooms (id, org_id, facility_id, name, is_removable, created, updated) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(r.id.to_string())
        .bind(r.org.to_string())
        .bind(r.facility.to_string())
        .bind(&r.name)
        .bind(r.is_removable)
        .bind(r.created)
        .bind(r.updated)
        .execute(&self.pool)
        .await
        .map_err(|e| map_ref_err(e, "A room with this id already exists."))?;
        Ok(())
    }

    async fn room(&self, org: Id, id: Id) -> Result<Option<Room>, StoreError> {
        let sql = format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE org_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(room_row).transpose()
    }

    async fn list_rooms(&self, org: Id, facility: Id, req: &PageRequest) -> Result<Page<Room>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE org_id = "));
        q.push_bind(org.to_string());
        q.push(" AND facility_id = ").push_bind(facility.to_string());
        push_keyset(&mut q, "rooms", req);
        let rows = q.build().fetch_all(&self.pool).await.map_err(backend)?;
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
        let row = q.build().fetch_optional(&self.pool).await.map_err(backend)?;
        row.as_ref().map(room_row).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn delete_room(&self, org: Id, id: Id) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        lock_for_delete(&mut tx, "rooms", org, id).await?;
        if exists(&mut tx, "SELECT 1 FROM live_sessions WHERE room_id = $1 AND state <> 'ended' LIMIT 1", id).await? {
            return Err(StoreError::Conflict(facility::IN_USE.into()));
        }
        sqlx::query("DELETE FROM rooms WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await.map_err(backend)?;
        tx.commit().await.map_err(backend)
    }
}

/// Test support: isolated schemas in one database, so each test gets a fresh,
/// migrated store without the cost of `CREATE DATABASE`.
pub mod testing {
    use sqlx::Connection;
    use sqlx::postgres::PgConnection;

    use super::backend;
    use orgbase_domain::StoreError;

    /// Creates a new empty schema in the database at `base_url` and returns a URL
    /// whose connections use it. Schemas left by earlier runs (older than two
    /// hours) are dropped on the way.
    pub async fn fresh_schema_url(base_url: &str, unix_secs: i64) -> Result<String, StoreError> {
        let mut conn = PgConnection::connect(base_url).await.map_err(backend)?;
        let stale: Vec<(String,)> =
            sqlx::query_as("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'orgbase\\_t\\_%'")
                .fetch_all(&mut conn)
                .await
                .map_err(backend)?;
        for (name,) in stale {
            let born = name.split('_').nth(2).and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
            if unix_secs - born > 2 * 3600 {
                let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE")).execute(&mut conn).await;
            }
        }
        let suffix: u64 = rand_suffix();
        let schema = format!("orgbase_t_{unix_secs}_{suffix:016x}");
        sqlx::query(&format!("CREATE SCHEMA \"{schema}\"")).execute(&mut conn).await.map_err(backend)?;
        let sep = if base_url.contains('?') { '&' } else { '?' };
        Ok(format!("{base_url}{sep}options=-c%20search_path%3D{schema}"))
    }

    /// Drops a schema made by [`fresh_schema_url`].
    pub async fn drop_schema(base_url: &str, schema_url: &str) -> Result<(), StoreError> {
        let Some(schema) = schema_url.rsplit("search_path%3D").next().filter(|s| s.starts_with("orgbase_t_")) else {
            return Ok(());
        };
        let mut conn = PgConnection::connect(base_url).await.map_err(backend)?;
        sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .execute(&mut conn)
            .await
            .map_err(backend)?;
        Ok(())
    }

    fn rand_suffix() -> u64 {
        use std::hash::{BuildHasher, RandomState};
        RandomState::new().hash_one(std::process::id())
    }
}
