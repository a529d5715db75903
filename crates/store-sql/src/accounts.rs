//! An account row: its columns, its decoder and the account writes both dialects
//! phrase alike.

use orgbase_domain::Id;
use orgbase_domain::StoreError;
use orgbase_domain::account::{Account, Email, PersonName};

use crate::bind::sql;
use crate::cells::Cells;
use crate::dialect::Dialect;
use crate::error::map_err;

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
    sql::<D>(
        "INSERT INTO accounts (id, email, name_first, name_last, password_hash, verified, created, updated) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
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
    Ok(())
}
