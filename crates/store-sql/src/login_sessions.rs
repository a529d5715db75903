//! A login session row (table `login_sessions`): its columns, its decoder and its insert. Not a live
//! (video) session.

use orgbase_domain::account::LoginSession;
use orgbase_domain::{Id, StoreError};

use crate::accounts::bad;
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
