//! The `LoginSessionStore` impl: login sessions (table `login_sessions`; not live
//! sessions, see `live_sessions`) and the request nonces. Touching and deleting a
//! session run the backend's way (`Backend::touch_login_session`: SQLite shares
//! one commit among a burst of them), with the SQL of [`touch`] and [`delete`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orgbase_domain::account::LoginSession;
use orgbase_domain::store::LoginSessionStore;
use orgbase_domain::{Id, StoreError};

use crate::accounts::bad;
use crate::backend::{Backend, SqlStore};
use crate::bind::sql;
use crate::cells::Cells;
use crate::dialect::Dialect;
use crate::error::backend;

/// The columns [`login_session_row`] reads, in table order.
pub const LOGIN_SESSION_COLUMNS: &str = "id, token_hash, account_id, org_id, created, last_seen, expires";

/// Rebuilds a login session from a row of [`LOGIN_SESSION_COLUMNS`].
pub fn login_session_row(row: &impl Cells) -> Result<LoginSession, StoreError> {
    let id = row.text("id")?;
    let (token_hash, account, org) = (row.string("token_hash")?, row.text("account_id")?, row.text("org_id")?);
    let (created, last_seen, expires) = (row.time("created")?, row.time("last_seen")?, row.time("expires")?);
    Ok(LoginSession {
        id: Id::parse(id).ok_or_else(|| bad("session", id))?,
        token_hash,
        account: Id::parse(account).ok_or_else(|| bad("session account", id))?,
        org: Id::parse(org).ok_or_else(|| bad("session org", id))?,
        created,
        last_seen,
        expires,
    })
}

/// Inserts a login session row.
pub async fn insert_session_row<D: Dialect>(conn: &mut D::Connection, s: &LoginSession) -> Result<(), StoreError> {
    sql::<D>(
        "INSERT INTO login_sessions (id, token_hash, account_id, org_id, created, last_seen, expires) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .id(s.id)
    .text(&s.token_hash)
    .id(s.account)
    .id(s.org)
    .time(s.created)
    .time(s.last_seen)
    .time(s.expires)
    .execute(conn)
    .await
    .map_err(backend)?;
    Ok(())
}

/// Moves a session's `last_seen` and `expires` forward; of concurrent requests of
/// one session that all see it due, only the first moves it.
pub async fn touch<D: Dialect>(
    conn: &mut D::Connection,
    id: Id,
    last_seen: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<(), StoreError> {
    sql::<D>("UPDATE login_sessions SET last_seen = $1, expires = $2 WHERE id = $3 AND last_seen < $4")
        .time(last_seen)
        .time(expires)
        .id(id)
        .time(last_seen)
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

/// Deletes a session.
pub async fn delete<D: Dialect>(conn: &mut D::Connection, id: Id) -> Result<(), StoreError> {
    sql::<D>("DELETE FROM login_sessions WHERE id = $1").id(id).execute(conn).await.map_err(backend)?;
    Ok(())
}

#[async_trait]
impl<B: Backend> LoginSessionStore for SqlStore<B> {
    async fn insert_login_session(&self, s: &LoginSession) -> Result<(), StoreError> {
        insert_session_row::<B::Db>(&mut *self.write().await?, s).await
    }

    async fn login_session_by_token_hash(&self, token_hash: &str) -> Result<Option<LoginSession>, StoreError> {
        if let Some(session) = self.cached().and_then(|c| c.login_session(token_hash)) {
            return Ok(Some(session));
        }
        let read_in = self.cache().generation();
        let query = format!("SELECT {LOGIN_SESSION_COLUMNS} FROM login_sessions WHERE token_hash = $1");
        let row = sql::<B::Db>(&query).text(token_hash).fetch_optional(&mut *self.read().await?).await;
        // Unknown tokens are not kept: anyone can present any number of them.
        let session = row.map_err(backend)?.as_ref().map(login_session_row).transpose()?;
        if let (Some(cache), Some(session)) = (self.cached(), &session) {
            cache.put_login_session(read_in, session);
        }
        Ok(session)
    }

    async fn touch_login_session(
        &self,
        id: Id,
        last_seen: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Backend::touch_login_session(&**self, id, last_seen, expires).await
    }

    async fn delete_login_session(&self, id: Id) -> Result<(), StoreError> {
        Backend::delete_login_session(&**self, id).await
    }

    async fn record_nonce(
        &self,
        app: Id,
        nonce: &str,
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let forget = sql::<B::Db>("DELETE FROM request_nonces WHERE seen < $1").time(forget_before);
        forget.execute(&mut tx).await.map_err(backend)?;
        let record =
            sql::<B::Db>("INSERT INTO request_nonces (app_id, nonce, seen) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING");
        let done = record.id(app).text(nonce).time(now).execute(&mut tx).await.map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(done == 1)
    }

    async fn purge_expired(&self, now: DateTime<Utc>, nonces_before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let expired = sql::<B::Db>("DELETE FROM login_sessions WHERE expires <= $1 RETURNING id").time(now);
        let sessions = expired.fetch_all(&mut tx).await.map_err(backend)?;
        let nonces = sql::<B::Db>("DELETE FROM request_nonces WHERE seen < $1").time(nonces_before);
        let nonces = nonces.execute(&mut tx).await.map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        for row in &sessions {
            if let Some(id) = Id::parse(row.text("id")?) {
                self.cache().forget_login_session(id);
            }
        }
        let limits = self.purge_rate_limits(now).await?;
        Ok(sessions.len() as u64 + nonces + limits)
    }
}
