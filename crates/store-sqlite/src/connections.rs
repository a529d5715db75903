//! The `ConnectionStore` impl on SQLite: connections between orgs, their join tokens and
//! acceptance. The columns and row decoder are shared with PostgreSQL
//! (`orgbase_store_sql::connections`). Where the SQL differs, and why: times are
//! integer milliseconds and roles a JSON TEXT; booleans are `0`/`1` and a NULL-safe
//! comparison is `IS NOT`; accepting reads the account's `verified` without a lock,
//! because the single writer runs the whole acceptance alone (PostgreSQL locks the
//! account row `FOR UPDATE`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orgbase_domain::account::{Account, Member};
use orgbase_domain::connection::{Connection, ConnectionState};
use orgbase_domain::email::Email;
use orgbase_domain::paging::{Page, PageRequest};
use orgbase_domain::store::{Acceptance, ConnectionStore};
use orgbase_domain::{Id, StoreError};
use orgbase_store_sql::connections::{CONNECTION_COLUMNS, connection, connection_insert};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use crate::accounts::insert_account_row;
use crate::members::insert_member_row;
use crate::sql::{from_millis, millis, push_keyset};
use crate::{SqliteStore, backend, map_err};

/// Inserts a connection row. A pending one for the same email is
/// [`StoreError::Exists`], or, with `or_ignore`, `false`.
pub(crate) async fn insert_connection_row(
    conn: &mut SqliteConnection,
    c: &Connection,
    or_ignore: bool,
) -> Result<bool, StoreError> {
    let done =
        connection_insert::<Sqlite, _, _>(c, serde_json::to_string(&c.roles).map_err(backend)?, millis, or_ignore)
            .build()
            .execute(conn)
            .await
            .map_err(|e| map_err(e, "A pending connection for this email already exists."))?;
    Ok(done.rows_affected() == 1)
}

#[async_trait]
impl ConnectionStore for SqliteStore {
    async fn insert_connection(&self, c: &Connection) -> Result<(), StoreError> {
        let _changing = self.changing();
        let mut tx = self.writer.begin().await.map_err(backend)?;
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
        let rows = q.build().fetch_all(&self.reader).await.map_err(backend)?;
        let items = rows.iter().map(connection).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(items, req))
    }

    async fn connection_by_id(&self, org: Id, id: Id) -> Result<Option<Connection>, StoreError> {
        let sql = format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE org_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.as_ref().map(connection).transpose()
    }

    async fn connection_by_token(&self, token_hash: &str) -> Result<Option<Connection>, StoreError> {
        let sql = format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE token_hash = $1");
        let row = sqlx::query(&sql).bind(token_hash).fetch_optional(&self.reader).await.map_err(backend)?;
        row.as_ref().map(connection).transpose()
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
            "UPDATE connections SET token_hash = $1, expires = $2, updated = $3 WHERE org_id = $4 AND id = $5 AND state = 0 \
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
        row.as_ref().map(connection).transpose()?.ok_or(StoreError::NotFound)
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
            "UPDATE connections SET state = $1, token_hash = NULL, updated = $2 WHERE org_id = $3 AND id = $4 AND state = 0 \
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
        row.as_ref().map(connection).transpose()?.ok_or(StoreError::NotFound)
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
                let was: Option<(bool,)> = sqlx::query_as("SELECT verified FROM accounts WHERE id = $1")
                    .bind(account.id.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
                match was {
                    None => return Err(StoreError::NotFound),
                    Some((true,)) => {}
                    Some((false,)) => {
                        // Whoever else held a session of the unverified account loses it.
                        sqlx::query("DELETE FROM login_sessions WHERE account_id = $1 AND id IS NOT $2")
                            .bind(account.id.to_string())
                            .bind(keep.map(|k| k.to_string()))
                            .execute(&mut *tx)
                            .await
                            .map_err(backend)?;
                        sqlx::query("UPDATE accounts SET verified = 1, updated = $1 WHERE id = $2")
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
                    "UPDATE accounts SET password_hash = $1, name_first = $2, name_last = $3, verified = 1, \
                     verify_token_hash = NULL, verify_expires = NULL, reset_token_hash = NULL, reset_expires = NULL, \
                     updated = $4 WHERE id = $5 AND verified = 0",
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
                sqlx::query("DELETE FROM login_sessions WHERE account_id = $1")
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
            .bind(millis(now))
            .bind(token_hash)
            .bind(millis(now))
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?
            .ok_or(StoreError::NotFound)?;
        let connection = connection(&row)?;
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
            "SELECT MAX(expires) FROM connections WHERE org_id = $1 AND state = 0 AND ($2 IS NULL OR email = $3)",
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
