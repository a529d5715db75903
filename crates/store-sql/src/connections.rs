//! The `ConnectionStore` impl: connections (invitations into an org), their join
//! tokens and their acceptance. Accepting reads the account's `verified` with
//! `Dialect::FOR_UPDATE`, so that two acceptances for one unverified account cannot
//! both verify it and keep their own sessions on PostgreSQL (SQLite's single writer
//! orders them). The pending-connection answer is cached while reads may trust the
//! cache.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orgbase_domain::account::{Account, Member};
use orgbase_domain::connection::{Connection, ConnectionState};
use orgbase_domain::email::Email;
use orgbase_domain::paging::{Page, PageRequest};
use orgbase_domain::store::{Acceptance, ConnectionStore};
use orgbase_domain::{Id, StoreError};
use sqlx::QueryBuilder;

use crate::accounts::insert_account_row;
use crate::backend::{Backend, SqlStore};
use crate::bind::{built, sql};
use crate::cells::Cells;
use crate::dialect::Dialect;
use crate::error::{backend, map_err};
use crate::members::insert_member_row;
use crate::paging::push_keyset;

/// The columns [`connection`] reads, in table order.
pub const CONNECTION_COLUMNS: &str =
    "id, org_id, email, name, roles, state, token_hash, expires, creator, account_id, created, updated";

/// Rebuilds a connection from a row of [`CONNECTION_COLUMNS`].
pub fn connection<R: Cells>(row: &R) -> Result<Connection, StoreError> {
    let id = row.text("id")?;
    let bad = || StoreError::Backend(format!("stored connection {id}: bad value"));
    let opt_id = |column: &str| -> Result<Option<Id>, StoreError> {
        row.opt_text(column)?.map(|c| Id::parse(c).ok_or_else(bad)).transpose()
    };
    Ok(Connection {
        id: Id::parse(id).ok_or_else(bad)?,
        org: Id::parse(row.text("org_id")?).ok_or_else(bad)?,
        email: Email::parse("email", row.text("email")?).map_err(|_| bad())?,
        name: row.opt_string("name")?,
        roles: serde_json::from_value(row.json("roles")?).map_err(|_| bad())?,
        state: ConnectionState::from_i16(row.small_int("state")?).ok_or_else(bad)?,
        token_hash: row.opt_string("token_hash")?,
        expires: row.time("expires")?,
        creator: opt_id("creator")?,
        account: opt_id("account_id")?,
        created: row.time("created")?,
        updated: row.time("updated")?,
    })
}

/// Inserts a connection row; with `or_ignore`, one that conflicts (a pending
/// connection for the email) is skipped. Whether a row went in.
pub async fn insert_connection_row<D: Dialect>(
    conn: &mut D::Connection,
    c: &Connection,
    or_ignore: bool,
) -> Result<bool, StoreError> {
    let query = format!(
        "INSERT INTO connections ({CONNECTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12){}",
        if or_ignore { " ON CONFLICT DO NOTHING" } else { "" }
    );
    let insert = sql::<D>(&query).id(c.id).id(c.org).text(c.email.as_str()).opt_text(c.name.clone());
    let insert = insert.json(&c.roles)?.small_int(c.state.as_i16()).opt_text(c.token_hash.clone());
    let done = insert
        .time(c.expires)
        .opt_id(c.creator)
        .opt_id(c.account)
        .time(c.created)
        .time(c.updated)
        .execute(conn)
        .await
        .map_err(|e| map_err(e, "A pending connection for this email already exists."))?;
    Ok(done == 1)
}

#[async_trait]
impl<B: Backend> ConnectionStore for SqlStore<B> {
    async fn insert_connection(&self, c: &Connection) -> Result<(), StoreError> {
        let _changing = self.changing();
        let mut tx = self.begin().await?;
        let member = sql::<B::Db>(
            "SELECT m.id FROM members m JOIN accounts a ON a.id = m.account_id WHERE m.org_id = $1 AND a.email = $2",
        )
        .id(c.org)
        .text(c.email.as_str())
        .fetch_optional(&mut tx)
        .await
        .map_err(backend)?;
        if member.is_some() {
            return Err(StoreError::Exists("This email already belongs to a member.".into()));
        }
        insert_connection_row::<B::Db>(&mut tx, c, false).await?;
        tx.commit().await.map_err(backend)
    }

    async fn list_connections(
        &self,
        org: Id,
        state: Option<ConnectionState>,
        req: &PageRequest,
    ) -> Result<Page<Connection>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE org_id = "));
        B::Db::bind_text(&mut q, org.to_string());
        if let Some(state) = state {
            q.push(" AND state = ");
            B::Db::bind_int(&mut q, i64::from(state.as_i16()));
        }
        push_keyset(&mut q, "connections", req);
        let rows = built(&mut q).fetch_all(&mut *self.read().await?).await.map_err(backend)?;
        let items = rows.iter().map(connection).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(items, req))
    }

    async fn connection_by_id(&self, org: Id, id: Id) -> Result<Option<Connection>, StoreError> {
        let query = format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE org_id = $1 AND id = $2");
        let row = sql::<B::Db>(&query).id(org).id(id).fetch_optional(&mut *self.read().await?).await;
        row.map_err(backend)?.as_ref().map(connection).transpose()
    }

    async fn connection_by_token(&self, token_hash: &str) -> Result<Option<Connection>, StoreError> {
        let query = format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE token_hash = $1");
        let row = sql::<B::Db>(&query).text(token_hash).fetch_optional(&mut *self.read().await?).await;
        row.map_err(backend)?.as_ref().map(connection).transpose()
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
        let query = format!(
            "UPDATE connections SET token_hash = $1, expires = $2, updated = $3 \
             WHERE org_id = $4 AND id = $5 AND state = 0 RETURNING {CONNECTION_COLUMNS}"
        );
        let update = sql::<B::Db>(&query).text(token_hash).time(expires).time(now).id(org).id(id);
        let row = update.fetch_optional(&mut *self.write().await?).await.map_err(backend)?;
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
        let query = format!(
            "UPDATE connections SET state = $1, token_hash = NULL, updated = $2 \
             WHERE org_id = $3 AND id = $4 AND state = 0 RETURNING {CONNECTION_COLUMNS}"
        );
        let update = sql::<B::Db>(&query).small_int(state.as_i16()).time(now).id(org).id(id);
        let row = update.fetch_optional(&mut *self.write().await?).await.map_err(backend)?;
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
        let mut tx = self.begin().await?;
        match how {
            Acceptance::Register => insert_account_row::<B::Db>(&mut tx, &account.clone().verified()).await?,
            Acceptance::Existing { keep } => verify_for_acceptance::<B::Db>(&mut tx, account.id, *keep, now).await?,
            Acceptance::Reclaim { password_hash, name } => {
                let done = sql::<B::Db>(
                    "UPDATE accounts SET password_hash = $1, name_first = $2, name_last = $3, verified = TRUE, \
                     verify_token_hash = NULL, verify_expires = NULL, reset_token_hash = NULL, reset_expires = NULL, \
                     updated = $4 WHERE id = $5 AND NOT verified",
                )
                .text(password_hash)
                .text(&name.first)
                .text(&name.last)
                .time(now)
                .id(account.id)
                .execute(&mut tx)
                .await
                .map_err(backend)?;
                if done != 1 {
                    return Err(StoreError::Conflict("This account was verified meanwhile: log in to accept.".into()));
                }
                let sessions = sql::<B::Db>("DELETE FROM login_sessions WHERE account_id = $1").id(account.id);
                sessions.execute(&mut tx).await.map_err(backend)?;
            }
        }
        let query = format!(
            "UPDATE connections SET state = 1, token_hash = NULL, account_id = $1, updated = $2 \
             WHERE token_hash = $3 AND state = 0 AND expires > $4 RETURNING {CONNECTION_COLUMNS}"
        );
        let accept = sql::<B::Db>(&query).id(account.id).time(now).text(token_hash).time(now);
        let row = accept.fetch_optional(&mut tx).await.map_err(backend)?.ok_or(StoreError::NotFound)?;
        let connection = connection(&row)?;
        let member = Member::new(connection.org, account.id, connection.roles, now);
        insert_member_row::<B::Db>(&mut tx, &member).await?;
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
        let read_in = self.cache().generation();
        // The latest expiry is kept, so that the answer stays right as time passes.
        let latest = sql::<B::Db>(
            "SELECT MAX(expires) AS latest FROM connections \
             WHERE org_id = $1 AND state = 0 AND (CAST($2 AS TEXT) IS NULL OR email = $3)",
        )
        .id(org)
        .opt_text(email_key.map(str::to_owned))
        .opt_text(email_key.map(str::to_owned))
        .fetch_optional(&mut *self.read().await?)
        .await
        .map_err(backend)?;
        let latest = latest.as_ref().map(|row| row.opt_time("latest")).transpose()?.flatten();
        if let Some(cache) = self.cached() {
            cache.put_pending(read_in, org, email_key, latest);
        }
        Ok(latest.is_some_and(|expires| expires > now))
    }
}

/// An existing account accepting: an unverified one is verified by the accepted
/// link, and whoever else held one of its sessions loses it (`keep` is the
/// acceptor's own session).
async fn verify_for_acceptance<D: Dialect>(
    conn: &mut D::Connection,
    account: Id,
    keep: Option<Id>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let query = format!("SELECT verified FROM accounts WHERE id = $1{}", D::FOR_UPDATE);
    let row = sql::<D>(&query).id(account).fetch_optional(&mut *conn).await.map_err(backend)?;
    match row.as_ref().map(|r| r.flag("verified")).transpose()? {
        None => Err(StoreError::NotFound),
        Some(true) => Ok(()),
        Some(false) => {
            let sessions = sql::<D>("DELETE FROM login_sessions WHERE account_id = $1 AND id IS DISTINCT FROM $2");
            sessions.id(account).opt_id(keep).execute(&mut *conn).await.map_err(backend)?;
            let verify = sql::<D>("UPDATE accounts SET verified = TRUE, updated = $1 WHERE id = $2");
            verify.time(now).id(account).execute(conn).await.map_err(backend)?;
            Ok(())
        }
    }
}
