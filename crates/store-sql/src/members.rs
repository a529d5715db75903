//! The `MemberStore` impl: memberships, the members list and the guard that keeps
//! an org's last admin. Several PostgreSQL nodes write at once, so a change that
//! could remove the last admin first takes the org's row lock
//! (`Dialect::LOCK_ORG`), and two admins demoting each other cannot both pass the
//! guard; SQLite's single writer connection gives that for free. Roles are a JSON
//! array (TEXT walked with `json_each` on SQLite, `jsonb` matched with `?|` and
//! `@>` on PostgreSQL): see `Dialect::push_holds` and `push_holds_any`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orgbase_domain::account::{Account, Member, MemberEntry, MemberState, PersonName};
use orgbase_domain::email::Email;
use orgbase_domain::live_session::Permissions;
use orgbase_domain::paging::Page;
use orgbase_domain::paging::PageRequest;
use orgbase_domain::store::{Admins, LinkRequest, Linked, MemberFilter, MemberStore};
use orgbase_domain::{Id, StoreError};
use sqlx::QueryBuilder;

use crate::accounts::{ACCOUNT_COLUMNS, account_row, bad, insert_account_if_new};
use crate::backend::{Backend, SqlStore};
use crate::bind::{built, sql};
use crate::cells::Cells;
use crate::connections::insert_connection_row;
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

/// The one fault of the last-administrator guard.
fn last_admin() -> StoreError {
    StoreError::Invariant("The org must keep at least one active Administrator.".into())
}

/// Links the holder of `request`'s email to `org` (see `MemberStore::link_member`),
/// inside the caller's transaction. The account row is read `FOR UPDATE` where
/// writers run side by side, so that a concurrent reclaim or verification cannot
/// change it under us; a link racing another for the same new email waits for it
/// at the account insert and then takes the account it made, so the loser answers
/// `AlreadyMember` on both databases.
pub async fn link_row<D: Dialect>(
    conn: &mut D::Connection,
    org: Id,
    request: &LinkRequest,
    now: DateTime<Utc>,
) -> Result<Linked, StoreError> {
    let email = request.account.email.as_str();
    let account = match account_by_email_locked::<D>(&mut *conn, email).await? {
        Some(existing) => existing,
        None => {
            let account = request.account.clone().verified();
            if insert_account_if_new::<D>(&mut *conn, &account).await? {
                account
            } else {
                account_by_email_locked::<D>(&mut *conn, email).await?.ok_or(StoreError::NotFound)?
            }
        }
    };
    let member = sql::<D>("SELECT id FROM members WHERE org_id = $1 AND account_id = $2").id(org).id(account.id);
    if member.fetch_optional(&mut *conn).await.map_err(backend)?.is_some() {
        return Ok(Linked::AlreadyMember);
    }
    if !account.verified {
        let invitation = &request.invitation;
        let done = insert_connection_row::<D>(&mut *conn, invitation, true).await?;
        return Ok(if done { Linked::Invited(invitation.clone()) } else { Linked::AlreadyInvited });
    }
    let member = Member::new(org, account.id, request.roles.clone(), now);
    insert_member_row::<D>(conn, &member).await?;
    Ok(Linked::Member(member, account))
}

/// The account with `email`, held for the rest of the transaction where writers
/// run side by side.
async fn account_by_email_locked<D: Dialect>(
    conn: &mut D::Connection,
    email: &str,
) -> Result<Option<Account>, StoreError> {
    let query = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE email = $1{}", D::FOR_UPDATE);
    let row = sql::<D>(&query).text(email).fetch_optional(conn).await.map_err(backend)?;
    row.as_ref().map(account_row).transpose()
}

/// Takes the org's row lock for the rest of the transaction, where the database
/// needs one (see `Dialect::LOCK_ORG`).
async fn lock_org<D: Dialect>(conn: &mut D::Connection, org: Id) -> Result<(), StoreError> {
    if let Some(lock) = D::LOCK_ORG {
        sql::<D>(lock).id(org).execute(conn).await.map_err(backend)?;
    }
    Ok(())
}

/// Fails when no active member of the org holds one of `admin_roles`.
async fn guard_admins<D: Dialect>(conn: &mut D::Connection, org: Id, admin_roles: &[Id]) -> Result<(), StoreError> {
    let mut q = QueryBuilder::new("SELECT COUNT(*) AS admins FROM members m WHERE m.state = 'active' AND m.org_id = ");
    D::bind_text(&mut q, org.to_string());
    q.push(" AND ");
    D::push_holds_any(&mut q, "m.roles", admin_roles.iter().map(Id::to_string).collect());
    let row = built(&mut q).fetch_optional(conn).await.map_err(backend)?;
    match row.as_ref().map(|r| r.int("admins")).transpose()? {
        Some(admins) if admins > 0 => Ok(()),
        _ => Err(last_admin()),
    }
}

/// A member leaving `org` (removed or suspended) leaves its sessions, inside the
/// transaction of the change: the sessions of the org it owns pass to the heir
/// (see `Admins::acting`), who takes part in them with every permission; then its
/// participations in the org's sessions, and those that came in through the org,
/// go. Ended sessions pass too, so that an owner is always a participant.
async fn leave_sessions<D: Dialect>(
    conn: &mut D::Connection,
    org: Id,
    account: Id,
    admins: Admins<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let query = format!("SELECT id FROM live_sessions WHERE org_id = $1 AND owner_id = $2{}", D::FOR_UPDATE);
    let rows = sql::<D>(&query).id(org).id(account).fetch_all(&mut *conn).await.map_err(backend)?;
    let owned = rows.iter().map(|r| r.string("id")).collect::<Result<Vec<_>, _>>()?;
    if !owned.is_empty() {
        let heir = heir::<D>(&mut *conn, org, account, admins).await?;
        pass_sessions::<D>(&mut *conn, org, account, &heir, &owned, now).await?;
    }
    leave_participations::<D>(conn, org, account).await
}

/// The account that takes over a leaving member's sessions: `admins.acting` when
/// it is an active administrator other than the leaver, otherwise the first such
/// administrator to have joined. The last-administrator guard ran first, so one
/// exists.
async fn heir<D: Dialect>(
    conn: &mut D::Connection,
    org: Id,
    leaver: Id,
    admins: Admins<'_>,
) -> Result<String, StoreError> {
    let mut q = QueryBuilder::new("SELECT m.account_id FROM members m WHERE m.state = 'active' AND m.org_id = ");
    D::bind_text(&mut q, org.to_string());
    q.push(" AND m.account_id <> ");
    D::bind_text(&mut q, leaver.to_string());
    q.push(" AND ");
    D::push_holds_any(&mut q, "m.roles", admins.roles.iter().map(Id::to_string).collect());
    q.push(" ORDER BY m.account_id IS NOT DISTINCT FROM ");
    D::bind_opt_text(&mut q, admins.acting.map(|a| a.to_string()));
    q.push(" DESC, m.created, m.id LIMIT 1");
    let row = built(&mut q).fetch_optional(conn).await.map_err(backend)?;
    row.as_ref().map(|r| r.string("account_id")).transpose()?.ok_or_else(last_admin)
}

#[async_trait]
impl<B: Backend> MemberStore for SqlStore<B> {
    async fn insert_member(&self, member: &Member) -> Result<(), StoreError> {
        let _changing = self.changing();
        insert_member_row::<B::Db>(&mut *self.write().await?, member).await
    }

    async fn member_of(&self, org: Id, account: Id) -> Result<Option<Member>, StoreError> {
        if let Some(member) = self.cached().and_then(|c| c.member(org, account)) {
            return Ok(member);
        }
        let read_in = self.cache().generation();
        let member = member_of::<B::Db>(&mut *self.read().await?, org, account).await?;
        if let Some(cache) = self.cached() {
            cache.put_member(read_in, org, account, member.as_ref());
        }
        Ok(member)
    }

    async fn list_members(
        &self,
        org: Id,
        filter: &MemberFilter,
        req: &PageRequest,
    ) -> Result<Arc<Page<MemberEntry>>, StoreError> {
        if let Some(page) = self.cached().and_then(|c| c.member_page(org, filter, req)) {
            return Ok(page);
        }
        let read_in = self.cache().generation();
        let mut q = members_query::<B::Db>(org, filter, req);
        let rows = built(&mut q).fetch_all(&mut *self.read().await?).await.map_err(backend)?;
        let items = rows.iter().map(member_entry_row).collect::<Result<Vec<_>, _>>()?;
        let page = Arc::new(Page::from_rows(items, req));
        if let Some(cache) = self.cached() {
            cache.put_member_page(read_in, org, filter, req, &page);
        }
        Ok(page)
    }

    async fn member_by_id(&self, org: Id, id: Id) -> Result<Option<MemberEntry>, StoreError> {
        member_by_id::<B::Db>(&mut *self.read().await?, org, id).await
    }

    async fn update_member(
        &self,
        org: Id,
        id: Id,
        roles: Option<&[Id]>,
        state: Option<MemberState>,
        admins: Admins<'_>,
        now: DateTime<Utc>,
    ) -> Result<Member, StoreError> {
        let _changing = self.changing();
        let mut tx = self.begin().await?;
        lock_org::<B::Db>(&mut tx, org).await?;
        let query = format!(
            "UPDATE members SET roles = COALESCE($1, roles), state = COALESCE($2, state), updated = $3 \
             WHERE org_id = $4 AND id = $5 RETURNING {MEMBER_COLUMNS}"
        );
        let update = sql::<B::Db>(&query)
            .opt_json(roles.map(<[Id]>::to_vec).as_ref())?
            .opt_text(state.map(|s| s.as_str().to_owned()));
        let row = update.time(now).id(org).id(id).fetch_optional(&mut tx).await.map_err(backend)?;
        let member = member_row(&row.ok_or(StoreError::NotFound)?)?;
        guard_admins::<B::Db>(&mut tx, org, admins.roles).await?;
        if member.state == MemberState::Suspended {
            leave_sessions::<B::Db>(&mut tx, org, member.account, admins, now).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(member)
    }

    async fn link_member(&self, org: Id, request: &LinkRequest, now: DateTime<Utc>) -> Result<Linked, StoreError> {
        let _changing = self.changing();
        let mut tx = self.begin().await?;
        let linked = link_row::<B::Db>(&mut tx, org, request, now).await?;
        tx.commit().await.map_err(backend)?;
        Ok(linked)
    }

    async fn import_members(
        &self,
        org: Id,
        rows: &[LinkRequest],
        now: DateTime<Utc>,
    ) -> Result<Vec<Linked>, StoreError> {
        let _changing = self.changing();
        let mut tx = self.begin().await?;
        let mut linked = Vec::with_capacity(rows.len());
        for row in rows {
            linked.push(link_row::<B::Db>(&mut tx, org, row, now).await?);
        }
        tx.commit().await.map_err(backend)?;
        Ok(linked)
    }

    async fn delete_member(&self, org: Id, id: Id, admins: Admins<'_>, now: DateTime<Utc>) -> Result<(), StoreError> {
        let _changing = self.changing();
        let mut tx = self.begin().await?;
        lock_org::<B::Db>(&mut tx, org).await?;
        let account = delete_member_row::<B::Db>(&mut tx, org, id).await?;
        guard_admins::<B::Db>(&mut tx, org, admins.roles).await?;
        leave_sessions::<B::Db>(&mut tx, org, account, admins, now).await?;
        tx.commit().await.map_err(backend)
    }

    async fn memberships_of(&self, account: Id) -> Result<Vec<Member>, StoreError> {
        memberships_of::<B::Db>(&mut *self.read().await?, account).await
    }
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
