//! The `AccountStore` impl: accounts, passwords and the one-time reset and verify
//! tokens. No row is locked: each write is one statement on the account's row, or
//! a transaction whose statements all guard on that row's own values.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orgbase_domain::Id;
use orgbase_domain::StoreError;
use orgbase_domain::account::{Account, Member, PersonName};
use orgbase_domain::email::Email;
use orgbase_domain::store::AccountStore;

use crate::backend::{Backend, SqlStore};
use crate::bind::sql;
use crate::cells::Cells;
use crate::dialect::Dialect;
use crate::error::{backend, map_err};
use crate::members::insert_member_row;

/// The columns [`account_row`] reads, in table order.
pub const ACCOUNT_COLUMNS: &str = "id, email, name_first, name_last, password_hash, verified, created, updated";

/// The error for a stored value that does not parse.
pub(crate) fn bad(what: &str, id: &str) -> StoreError {
    StoreError::Backend(format!("stored {what} {id}: bad value"))
}

/// Rebuilds an account from a row of [`ACCOUNT_COLUMNS`].
pub fn account_row(row: &impl Cells) -> Result<Account, StoreError> {
    let id = row.text("id")?;
    let email = row.string("email")?;
    let name = PersonName { first: row.string("name_first")?, last: row.string("name_last")? };
    let (password_hash, verified) = (row.opt_string("password_hash")?, row.flag("verified")?);
    let (created, updated) = (row.time("created")?, row.time("updated")?);
    Ok(Account {
        id: Id::parse(id).ok_or_else(|| bad("account", id))?,
        email: Email::from_stored(email),
        name,
        password_hash,
        verified,
        created,
        updated,
    })
}

/// Inserts an account row.
pub async fn insert_account_row<D: Dialect>(conn: &mut D::Connection, a: &Account) -> Result<(), StoreError> {
    insert_account::<D>(conn, a, "").await.map(drop)
}

/// Inserts an account row unless one with its email exists (on PostgreSQL, once
/// a transaction inserting that email has ended); whether it went in.
pub async fn insert_account_if_new<D: Dialect>(conn: &mut D::Connection, a: &Account) -> Result<bool, StoreError> {
    insert_account::<D>(conn, a, " ON CONFLICT DO NOTHING").await
}

async fn insert_account<D: Dialect>(
    conn: &mut D::Connection,
    a: &Account,
    on_conflict: &str,
) -> Result<bool, StoreError> {
    let query = format!(
        "INSERT INTO accounts (id, email, name_first, name_last, password_hash, verified, created, updated) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8){on_conflict}"
    );
    let done = sql::<D>(&query)
        .id(a.id)
        .text(a.email.as_str())
        .text(&a.name.first)
        .text(&a.name.last)
        .opt_text(a.password_hash.clone())
        .flag(a.verified)
        .time(a.created)
        .time(a.updated)
        .execute(conn)
        .await
        .map_err(|e| map_err(e, "An account with this email already exists."))?;
    Ok(done == 1)
}

/// Sets an account's password, clearing its reset token (one mailed before the
/// change must not undo it); the number of accounts changed.
pub async fn set_password_row<D: Dialect>(
    conn: &mut D::Connection,
    account: Id,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    sql::<D>(
        "UPDATE accounts SET password_hash = $1, reset_token_hash = NULL, reset_expires = NULL, updated = $2 \
         WHERE id = $3",
    )
    .text(hash)
    .time(now)
    .id(account)
    .execute(conn)
    .await
    .map_err(backend)
}

/// Sets the mailed token of `kind` (`reset` or `verify`, the prefix of its
/// `{kind}_token_hash` and `{kind}_expires` columns).
pub async fn set_token<D: Dialect>(
    conn: &mut D::Connection,
    kind: &'static str,
    account: Id,
    token_hash: &str,
    expires: DateTime<Utc>,
) -> Result<(), StoreError> {
    let query = format!("UPDATE accounts SET {kind}_token_hash = $1, {kind}_expires = $2 WHERE id = $3");
    sql::<D>(&query).text(token_hash).time(expires).id(account).execute(conn).await.map_err(backend)?;
    Ok(())
}

/// The account holding the token of `kind`, with the token's expiry.
pub async fn account_by_token<D: Dialect>(
    conn: &mut D::Connection,
    kind: &'static str,
    token_hash: &str,
) -> Result<Option<(Account, DateTime<Utc>)>, StoreError> {
    let query =
        format!("SELECT {ACCOUNT_COLUMNS}, {kind}_expires AS expires FROM accounts WHERE {kind}_token_hash = $1");
    let row = sql::<D>(&query).text(token_hash).fetch_optional(conn).await.map_err(backend)?;
    match row {
        None => Ok(None),
        Some(row) => Ok(Some((account_row(&row)?, row.time("expires")?))),
    }
}

/// Consumes an unexpired token of `kind`: the password becomes `hash`, the email
/// is verified (the mailed link proved it), every token is cleared and every
/// session ends. The caller holds the transaction.
pub async fn consume_token<D: Dialect>(
    conn: &mut D::Connection,
    kind: &'static str,
    token_hash: &str,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<Id>, StoreError> {
    let query = format!(
        "UPDATE accounts SET password_hash = $1, verified = $2, reset_token_hash = NULL, \
         reset_expires = NULL, verify_token_hash = NULL, verify_expires = NULL, updated = $3 \
         WHERE {kind}_token_hash = $4 AND {kind}_expires > $5 RETURNING id"
    );
    let row = sql::<D>(&query)
        .text(hash)
        .flag(true)
        .time(now)
        .text(token_hash)
        .time(now)
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?;
    let Some(row) = row else { return Ok(None) };
    let id = row.string("id")?;
    sql::<D>("DELETE FROM login_sessions WHERE account_id = $1").text(&id).execute(conn).await.map_err(backend)?;
    Ok(Id::parse(&id))
}

/// The account with `email`, if any.
pub async fn account_by_email<D: Dialect>(
    conn: &mut D::Connection,
    email: &str,
) -> Result<Option<Account>, StoreError> {
    let query = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE email = $1");
    let row = sql::<D>(&query).text(email).fetch_optional(conn).await.map_err(backend)?;
    row.as_ref().map(account_row).transpose()
}

/// The account with `id`, if any.
pub async fn account_by_id<D: Dialect>(conn: &mut D::Connection, id: Id) -> Result<Option<Account>, StoreError> {
    let query = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1");
    let row = sql::<D>(&query).id(id).fetch_optional(conn).await.map_err(backend)?;
    row.as_ref().map(account_row).transpose()
}

#[async_trait]
impl<B: Backend> AccountStore for SqlStore<B> {
    async fn insert_account(&self, account: &Account, member: Option<&Member>) -> Result<(), StoreError> {
        let _changing = self.changing();
        let mut tx = self.begin().await?;
        insert_account_row::<B::Db>(&mut tx, account).await?;
        if let Some(member) = member {
            insert_member_row::<B::Db>(&mut tx, member).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn account_by_email(&self, email: &Email) -> Result<Option<Account>, StoreError> {
        account_by_email::<B::Db>(&mut *self.read().await?, email.as_str()).await
    }

    async fn account_by_id(&self, id: Id) -> Result<Option<Account>, StoreError> {
        if let Some(account) = self.cached().and_then(|c| c.account(id)) {
            return Ok(Some(account));
        }
        let read_in = self.cache().generation();
        let account = account_by_id::<B::Db>(&mut *self.read().await?, id).await?;
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
        let _changing = self.changing();
        let mut tx = self.begin().await?;
        // A reset token mailed before the change must not undo it.
        if set_password_row::<B::Db>(&mut tx, account, hash, now).await? == 0 {
            return Err(StoreError::NotFound);
        }
        sql::<B::Db>("DELETE FROM login_sessions WHERE account_id = $1 AND id IS DISTINCT FROM $2")
            .id(account)
            .opt_id(keep)
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn set_reset_token(&self, account: Id, token_hash: &str, expires: DateTime<Utc>) -> Result<(), StoreError> {
        self.set_account_token("reset", account, token_hash, expires).await
    }

    async fn account_by_reset_token(&self, token_hash: &str) -> Result<Option<(Account, DateTime<Utc>)>, StoreError> {
        account_by_token::<B::Db>(&mut *self.read().await?, "reset", token_hash).await
    }

    async fn reset_password(&self, token_hash: &str, hash: &str, now: DateTime<Utc>) -> Result<Option<Id>, StoreError> {
        self.consume_token("reset", token_hash, hash, now).await
    }

    async fn set_verify_token(&self, account: Id, token_hash: &str, expires: DateTime<Utc>) -> Result<(), StoreError> {
        self.set_account_token("verify", account, token_hash, expires).await
    }

    async fn account_by_verify_token(&self, token_hash: &str) -> Result<Option<(Account, DateTime<Utc>)>, StoreError> {
        account_by_token::<B::Db>(&mut *self.read().await?, "verify", token_hash).await
    }

    async fn verify_account(&self, token_hash: &str, hash: &str, now: DateTime<Utc>) -> Result<Option<Id>, StoreError> {
        self.consume_token("verify", token_hash, hash, now).await
    }
}

/// The mailed tokens of accounts: `reset` (a password reset) and `verify` (an email
/// verification), each in its own `{kind}_token_hash` and `{kind}_expires` columns.
impl<B: Backend> SqlStore<B> {
    async fn set_account_token(
        &self,
        kind: &'static str,
        account: Id,
        token_hash: &str,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _changing = self.changing();
        set_token::<B::Db>(&mut *self.write().await?, kind, account, token_hash, expires).await
    }

    /// Consumes an unexpired token of `kind` (see [`consume_token`]), in one
    /// transaction.
    async fn consume_token(
        &self,
        kind: &'static str,
        token_hash: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Id>, StoreError> {
        let _changing = self.changing();
        let mut tx = self.begin().await?;
        let done = consume_token::<B::Db>(&mut tx, kind, token_hash, hash, now).await?;
        tx.commit().await.map_err(backend)?;
        Ok(done)
    }
}
