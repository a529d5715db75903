//! A member row, alone or joined with its account: columns and decoders, and the
//! members list's filter, the member insert and delete, and what a leaving member's
//! sessions go through, written once over [`Dialect`].

use chrono::{DateTime, Utc};
use orgbase_domain::account::{Member, MemberEntry, MemberState, PersonName};
use orgbase_domain::email::Email;
use orgbase_domain::live_session::Permissions;
use orgbase_domain::paging::PageRequest;
use orgbase_domain::store::MemberFilter;
use orgbase_domain::{Id, StoreError};
use sqlx::QueryBuilder;

use crate::accounts::bad;
use crate::bind::sql;
use crate::cells::Cells;
use crate::dialect::Dialect;
use crate::error::{backend, map_err};
use crate::paging::{comparison, direction, push_limit};
use crate::text::like_escape;

/// The columns [`member_row`] reads, in table order.
pub const MEMBER_COLUMNS: &str = "id, org_id, account_id, roles, state, created, updated";

/// The columns [`member_entry_row`] reads, from `members m JOIN accounts a`.
pub const MEMBER_JOIN_COLUMNS: &str =
    "m.id, m.org_id, m.account_id, m.roles, m.state, m.created, m.updated, a.email, a.name_first, a.name_last";

/// Rebuilds a member from a row of [`MEMBER_COLUMNS`].
pub fn member_row(row: &impl Cells) -> Result<Member, StoreError> {
    let id = row.text("id")?;
    let (org, account, roles) = (row.text("org_id")?, row.text("account_id")?, row.json("roles")?);
    let (state, created, updated) = (row.text("state")?, row.time("created")?, row.time("updated")?);
    Ok(Member {
        id: Id::parse(id).ok_or_else(|| bad("member", id))?,
        org: Id::parse(org).ok_or_else(|| bad("member org", id))?,
        account: Id::parse(account).ok_or_else(|| bad("member account", id))?,
        roles: serde_json::from_value(roles).map_err(|_| bad("member roles", id))?,
        state: MemberState::parse(state).ok_or_else(|| bad("member state", id))?,
        created,
        updated,
    })
}

/// Rebuilds a member with its account's email and name from a row of
/// [`MEMBER_JOIN_COLUMNS`].
pub fn member_entry_row(row: &impl Cells) -> Result<MemberEntry, StoreError> {
    Ok(MemberEntry {
        member: member_row(row)?,
        email: Email::from_stored(row.string("email")?),
        name: PersonName { first: row.string("name_first")?, last: row.string("name_last")? },
    })
}

/// Starts the members list query: an org's members joined with their accounts,
/// narrowed by the filter, then paged by member id.
pub fn members_query<'a, DB: Dialect>(org: Id, filter: &MemberFilter, req: &PageRequest) -> QueryBuilder<'a, DB> {
    let mut q = QueryBuilder::new(format!(
        "SELECT {MEMBER_JOIN_COLUMNS} FROM members m JOIN accounts a ON a.id = m.account_id WHERE m.org_id = "
    ));
    DB::bind_text(&mut q, org.to_string());
    if let Some(role) = filter.role {
        q.push(" AND ");
        DB::push_holds(&mut q, "m.roles", role.to_string());
    }
    if let Some(state) = filter.state {
        q.push(" AND m.state = ");
        DB::bind_text(&mut q, state.as_str().to_owned());
    }
    if let Some(search) = &filter.search {
        // Emails are stored lowercase; names are not.
        let pattern = format!("{}%", like_escape(&search.to_lowercase()));
        q.push(" AND (");
        DB::push_prefix(&mut q, "a.email", true, pattern.clone());
        q.push(" OR ");
        DB::push_prefix(&mut q, "a.name_first", false, pattern.clone());
        q.push(" OR ");
        DB::push_prefix(&mut q, "a.name_last", false, pattern);
        q.push(")");
    }
    if let Some(id) = req.cursor_id() {
        q.push(format_args!(" AND m.id {} ", comparison(req)));
        DB::bind_text(&mut q, id.to_string());
    }
    q.push(format_args!(" ORDER BY m.id {}", direction(req)));
    push_limit(&mut q, req);
    q
}

/// Inserts a member row.
pub async fn insert_member_row<D: Dialect>(conn: &mut D::Connection, m: &Member) -> Result<(), StoreError> {
    sql::<D>(
        "INSERT INTO members (id, org_id, account_id, roles, state, created, updated) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .id(m.id)
    .id(m.org)
    .id(m.account)
    .json(&m.roles)?
    .text(m.state.as_str())
    .time(m.created)
    .time(m.updated)
    .execute(conn)
    .await
    .map_err(|e| map_err(e, "This account is already a member of the org."))?;
    Ok(())
}

/// Deletes a member of `org`; the account it was.
pub async fn delete_member_row<D: Dialect>(conn: &mut D::Connection, org: Id, id: Id) -> Result<Id, StoreError> {
    let row = sql::<D>("DELETE FROM members WHERE org_id = $1 AND id = $2 RETURNING account_id")
        .id(org)
        .id(id)
        .fetch_optional(conn)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound)?;
    let account = row.text("account_id")?;
    Id::parse(account).ok_or_else(|| backend(format!("stored member {id}: bad account")))
}

/// Passes the `owned` live sessions of `org` from `leaver` to `heir`, who takes
/// part in each with every permission.
pub async fn pass_sessions<D: Dialect>(
    conn: &mut D::Connection,
    org: Id,
    leaver: Id,
    heir: &str,
    owned: &[String],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for session in owned {
        sql::<D>(
            "INSERT INTO participants (id, session_id, account_id, home_org_id, permissions, created, updated) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (session_id, account_id) DO UPDATE \
             SET home_org_id = excluded.home_org_id, permissions = excluded.permissions, updated = excluded.updated",
        )
        .id(Id::generate(now))
        .text(session)
        .text(heir)
        .id(org)
        .int(Permissions::ALL.bits())
        .time(now)
        .time(now)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    }
    sql::<D>("UPDATE live_sessions SET owner_id = $1, updated = $2 WHERE org_id = $3 AND owner_id = $4")
        .text(heir)
        .time(now)
        .id(org)
        .id(leaver)
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

/// Ends `account`'s participations in the sessions of `org` and those it joined
/// through `org`.
pub async fn leave_participations<D: Dialect>(
    conn: &mut D::Connection,
    org: Id,
    account: Id,
) -> Result<(), StoreError> {
    sql::<D>(
        "DELETE FROM participants WHERE account_id = $1 \
         AND (home_org_id = $2 OR session_id IN (SELECT id FROM live_sessions WHERE org_id = $2))",
    )
    .id(account)
    .id(org)
    .execute(conn)
    .await
    .map_err(backend)?;
    Ok(())
}

/// The membership of `account` in `org`, if any.
pub async fn member_of<D: Dialect>(
    conn: &mut D::Connection,
    org: Id,
    account: Id,
) -> Result<Option<Member>, StoreError> {
    let query = format!("SELECT {MEMBER_COLUMNS} FROM members WHERE org_id = $1 AND account_id = $2");
    let row = sql::<D>(&query).id(org).id(account).fetch_optional(conn).await.map_err(backend)?;
    row.as_ref().map(member_row).transpose()
}

/// The member `id` of `org` with its account, if any.
pub async fn member_by_id<D: Dialect>(
    conn: &mut D::Connection,
    org: Id,
    id: Id,
) -> Result<Option<MemberEntry>, StoreError> {
    let query = format!(
        "SELECT {MEMBER_JOIN_COLUMNS} FROM members m JOIN accounts a ON a.id = m.account_id WHERE m.org_id = $1 AND m.id = $2"
    );
    let row = sql::<D>(&query).id(org).id(id).fetch_optional(conn).await.map_err(backend)?;
    row.as_ref().map(member_entry_row).transpose()
}

/// The memberships of `account`, oldest first.
pub async fn memberships_of<D: Dialect>(conn: &mut D::Connection, account: Id) -> Result<Vec<Member>, StoreError> {
    let query = format!("SELECT {MEMBER_COLUMNS} FROM members WHERE account_id = $1 ORDER BY created, id");
    let rows = sql::<D>(&query).id(account).fetch_all(conn).await.map_err(backend)?;
    rows.iter().map(member_row).collect()
}

#[cfg(test)]
mod tests {
    use orgbase_domain::paging::PageParams;
    use sqlx::{Postgres, Sqlite};

    use super::*;

    fn filter() -> MemberFilter {
        MemberFilter { role: Some(Id::from_u96(1)), state: Some(MemberState::Active), search: Some("Ad_".into()) }
    }

    fn request() -> PageRequest {
        let params = PageParams { starting_after: Some(Id::from_u96(2).to_string()), ..PageParams::default() };
        params.validate(&["_id"]).unwrap()
    }

    #[test]
    fn the_sqlite_members_query_walks_json_each_and_lowercases_names() {
        let q = members_query::<Sqlite>(Id::from_u96(3), &filter(), &request());
        assert_eq!(
            q.sql(),
            "SELECT m.id, m.org_id, m.account_id, m.roles, m.state, m.created, m.updated, a.email, a.name_first, \
             a.name_last FROM members m JOIN accounts a ON a.id = m.account_id WHERE m.org_id = ? \
             AND EXISTS (SELECT 1 FROM json_each(m.roles) WHERE value = ?) AND m.state = ? \
             AND (a.email LIKE ? ESCAPE '\\' OR lower(a.name_first) LIKE ? ESCAPE '\\' \
             OR lower(a.name_last) LIKE ? ESCAPE '\\') AND m.id > ? ORDER BY m.id ASC LIMIT ? OFFSET ?"
        );
    }

    #[test]
    fn the_postgres_members_query_uses_containment_and_ilike() {
        let q = members_query::<Postgres>(Id::from_u96(3), &filter(), &request());
        assert_eq!(
            q.sql(),
            "SELECT m.id, m.org_id, m.account_id, m.roles, m.state, m.created, m.updated, a.email, a.name_first, \
             a.name_last FROM members m JOIN accounts a ON a.id = m.account_id WHERE m.org_id = $1 \
             AND m.roles @> jsonb_build_array($2::text) AND m.state = $3 \
             AND (a.email ILIKE $4 ESCAPE '\\' OR a.name_first ILIKE $5 ESCAPE '\\' \
             OR a.name_last ILIKE $6 ESCAPE '\\') AND m.id > $7 ORDER BY m.id ASC LIMIT $8 OFFSET $9"
        );
    }
}
