//! The `AccountStore` impl on PostgreSQL: accounts, passwords and the one-time
//! reset and verify tokens. `IS DISTINCT FROM` is the null-safe inequality.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orgbase_domain::account::{Account, Member};
use orgbase_domain::email::Email;
use orgbase_domain::store::AccountStore;
use orgbase_domain::{Id, StoreError};
use orgbase_store_sql::accounts;
use sqlx::Postgres;

use crate::Conn;
use crate::members::insert_member_row;
use crate::{PgStore, backend};

/// Inserts an account row.
pub(crate) async fn insert_account_row(conn: &mut Conn, a: &Account) -> Result<(), StoreError> {
    accounts::insert_account_row::<Postgres>(conn, a).await
}

#[async_trait]
impl AccountStore for PgStore {
    async fn insert_account(&self, account: &Account, member: Option<&Member>) -> Result<(), StoreError> {
        let _changing = self.changing();
        let mut tx = self.writer().begin().await.map_err(backend)?;
        insert_account_row(&mut tx, account).await?;
        if let Some(member) = member {
            insert_member_row(&mut tx, member).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn account_by_email(&self, email: &Email) -> Result<Option<Account>, StoreError> {
        let mut conn = self.reader().acquire().await.map_err(backend)?;
        accounts::account_by_email::<Postgres>(&mut conn, email.as_str()).await
    }

    async fn account_by_id(&self, id: Id) -> Result<Option<Account>, StoreError> {
        if let Some(account) = self.cached().and_then(|c| c.account(id)) {
            return Ok(Some(account));
        }
        let read_in = self.cache.generation();
        let mut conn = self.reader().acquire().await.map_err(backend)?;
        let account = accounts::account_by_id::<Postgres>(&mut conn, id).await?;
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
        let mut tx = self.writer().begin().await.map_err(backend)?;
        // A reset token mailed before the change must not undo it.
        let done = accounts::set_password_row::<Postgres>(&mut tx, account, hash, now).await?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM login_sessions WHERE account_id = $1 AND id IS DISTINCT FROM $2")
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
        let _changing = self.changing();
        let mut conn = self.writer().acquire().await.map_err(backend)?;
        accounts::set_token::<Postgres>(&mut conn, kind, account, token_hash, expires).await
    }

    async fn account_by_token(
        &self,
        kind: &'static str,
        token_hash: &str,
    ) -> Result<Option<(Account, DateTime<Utc>)>, StoreError> {
        let mut conn = self.reader().acquire().await.map_err(backend)?;
        accounts::account_by_token::<Postgres>(&mut conn, kind, token_hash).await
    }

    /// Consumes an unexpired token of `kind` (see `accounts::consume_token`), in one
    /// transaction.
    async fn consume_token(
        &self,
        kind: &'static str,
        token_hash: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Id>, StoreError> {
        let _changing = self.changing();
        let mut tx = self.writer().begin().await.map_err(backend)?;
        let done = accounts::consume_token::<Postgres>(&mut tx, kind, token_hash, hash, now).await?;
        tx.commit().await.map_err(backend)?;
        Ok(done)
    }
}
