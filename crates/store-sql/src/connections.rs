//! Connections (invitations into an org) as both databases store them: the column
//! list and the row decoder.

use orgbase_domain::account::Email;
use orgbase_domain::connection::{Connection, ConnectionState};
use orgbase_domain::{Id, StoreError};

use crate::cells::Cells;
use crate::extra_cells::ExtraCells;

/// The columns [`connection`] reads, in table order.
pub const CONNECTION_COLUMNS: &str =
    "id, org_id, email, name, roles, state, token_hash, expires, creator, account_id, created, updated";

/// Rebuilds a connection from a row of [`CONNECTION_COLUMNS`].
pub fn connection<R: Cells + ExtraCells>(row: &R) -> Result<Connection, StoreError> {
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
