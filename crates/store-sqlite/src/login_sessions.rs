//! The `LoginSessionStore` impl on SQLite: login sessions (not live sessions, see
//! `live_sessions`) and the request nonces. Touching and deleting a session go
//! through the group-commit batcher, so a burst of requests of one session shares
//! one commit; `purge_expired` also drops the in-memory rate-limit keys that no
//! longer limit anything (see `rate_limits.rs`).

use std::sync::{Arc, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orgbase_domain::account::LoginSession;
use orgbase_domain::store::LoginSessionStore;
use orgbase_domain::{Id, StoreError};
use orgbase_store_sql::login_sessions::{self, LOGIN_SESSION_COLUMNS, login_session_row};
use sqlx::Sqlite;

use crate::sql::millis;
use crate::sql::stored_time;
use crate::{SqliteStore, backend, store_error};

#[async_trait]
impl LoginSessionStore for SqliteStore {
    async fn insert_login_session(&self, s: &LoginSession) -> Result<(), StoreError> {
        let mut conn = self.writer().acquire().await.map_err(backend)?;
        login_sessions::insert_session_row::<Sqlite>(&mut conn, s).await
    }

    async fn login_session_by_token_hash(&self, token_hash: &str) -> Result<Option<LoginSession>, StoreError> {
        if let Some(session) = self.cached().and_then(|c| c.login_session(token_hash)) {
            return Ok(Some(session));
        }
        let read_in = self.cache.generation();
        let sql = format!("SELECT {LOGIN_SESSION_COLUMNS} FROM login_sessions WHERE token_hash = $1");
        let row = sqlx::query(&sql).bind(token_hash).fetch_optional(self.reader()).await.map_err(backend)?;
        // Unknown tokens are not kept: anyone can present any number of them.
        let session = row.as_ref().map(login_session_row).transpose()?;
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
        // Concurrent requests of one session all see it due for a touch at once:
        // through the batcher they share one commit, and only the first moves it.
        let cache = Arc::clone(&self.cache);
        self.batcher
            .write(
                move |conn, _| {
                    Box::pin(async move {
                        sqlx::query(
                            "UPDATE login_sessions SET last_seen = $1, expires = $2 WHERE id = $3 AND last_seen < $4",
                        )
                        .bind(stored_time(last_seen))
                        .bind(stored_time(expires))
                        .bind(id.to_string())
                        .bind(stored_time(last_seen))
                        .execute(&mut *conn)
                        .await
                        .map_err(backend)?;
                        Ok(())
                    })
                },
                move |()| cache.forget_login_session(id),
            )
            .await
            .map_err(store_error)
    }

    async fn delete_login_session(&self, id: Id) -> Result<(), StoreError> {
        // Through the batcher: the session is forgotten once the delete commits,
        // even if the caller (a logout) has gone away by then.
        let cache = Arc::clone(&self.cache);
        self.batcher
            .write(
                move |conn, _| {
                    Box::pin(async move {
                        let sql = sqlx::query("DELETE FROM login_sessions WHERE id = $1").bind(id.to_string());
                        sql.execute(&mut *conn).await.map_err(backend)?;
                        Ok(())
                    })
                },
                move |()| cache.forget_login_session(id),
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
        let mut tx = self.writer().begin().await.map_err(backend)?;
        sqlx::query("DELETE FROM request_nonces WHERE seen < $1")
            .bind(stored_time(forget_before))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let done =
            sqlx::query("INSERT INTO request_nonces (app_id, nonce, seen) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(app.to_string())
                .bind(nonce)
                .bind(stored_time(now))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn purge_expired(&self, now: DateTime<Utc>, nonces_before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut tx = self.writer().begin().await.map_err(backend)?;
        let sessions = sqlx::query_scalar::<_, String>("DELETE FROM login_sessions WHERE expires <= $1 RETURNING id")
            .bind(stored_time(now))
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        let nonces = sqlx::query("DELETE FROM request_nonces WHERE seen < $1")
            .bind(stored_time(nonces_before))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        for id in sessions.iter().filter_map(|id| Id::parse(id)) {
            self.cache.forget_login_session(id);
        }
        let mut limits = self.rate_limits.lock().unwrap_or_else(PoisonError::into_inner);
        let before = limits.len();
        limits.retain(|_, tat| *tat >= millis(now));
        Ok(sessions.len() as u64 + nonces.rows_affected() + (before - limits.len()) as u64)
    }
}
