//! Connections (invitations into an org) as both databases store them: the column
//! list, the row decoder and the insert, whose times and roles each backend binds
//! its own way.

use chrono::{DateTime, Utc};
use orgbase_domain::connection::{Connection, ConnectionState};
use orgbase_domain::email::Email;
use orgbase_domain::{Id, StoreError};
use sqlx::{Database, Encode, QueryBuilder, Type};

use crate::cells::Cells;

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

/// `INSERT INTO connections (…) VALUES (…)`, with ` ON CONFLICT DO NOTHING` when
/// `or_ignore`; `roles` is the roles as the dialect stores JSON, and `time` turns a
/// time into what the dialect stores.
pub fn connection_insert<'a, DB, J, T>(
    c: &'a Connection,
    roles: J,
    time: impl Fn(DateTime<Utc>) -> T,
    or_ignore: bool,
) -> QueryBuilder<'a, DB>
where
    DB: Database,
    J: 'a + Encode<'a, DB> + Type<DB>,
    T: 'a + Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    Option<String>: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    &'a Option<String>: Encode<'a, DB> + Type<DB>,
    i16: Encode<'a, DB> + Type<DB>,
{
    let mut q = QueryBuilder::new(format!("INSERT INTO connections ({CONNECTION_COLUMNS}) VALUES ("));
    let mut values = q.separated(", ");
    values.push_bind(c.id.to_string());
    values.push_bind(c.org.to_string());
    values.push_bind(c.email.as_str());
    values.push_bind(&c.name);
    values.push_bind(roles);
    values.push_bind(c.state.as_i16());
    values.push_bind(&c.token_hash);
    values.push_bind(time(c.expires));
    values.push_bind(c.creator.map(|x| x.to_string()));
    values.push_bind(c.account.map(|x| x.to_string()));
    values.push_bind(time(c.created));
    values.push_bind(time(c.updated));
    q.push(if or_ignore { ") ON CONFLICT DO NOTHING" } else { ")" });
    q
}
