//! The `MemberStore` impl on PostgreSQL: memberships, the members list (its query
//! is `orgbase_store_sql::members`) and the guard that keeps an org's last admin.
//!
//! Where the SQL differs from SQLite's, and why: several nodes write at once, so a
//! change that could remove the last admin first locks the org's row
//! (`lock_org`), and two admins demoting each other cannot both pass the guard;
//! SQLite's single writer connection gives that for free. Roles are `jsonb`, so
//! the guard asks `roles ?| $2::text[]` (any of the admin roles) and the list
//! `roles @> …`, where SQLite walks `json_each(roles)`. Times are `timestamptz`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orgbase_domain::account::{Member, MemberEntry, MemberState};
use orgbase_domain::paging::{Page, PageRequest};
use orgbase_domain::store::{Admins, LinkRequest, Linked, MemberFilter, MemberStore};
use orgbase_domain::{Id, StoreError};
use orgbase_store_sql::members::{self, MEMBER_COLUMNS, member_entry_row, member_row, members_query};
use sqlx::Postgres;
use sqlx::types::Json;

use crate::accounts::insert_account_row;
use crate::connections::insert_connection_row;
use crate::sql::stored_time;
use crate::{Conn, Db};
use crate::{PgStore, backend};
use orgbase_store_sql::accounts::{ACCOUNT_COLUMNS, account_row};

/// Inserts a member row.
pub(crate) async fn insert_member_row(conn: &mut Conn, m: &Member) -> Result<(), StoreError> {
    members::insert_member_row::<Postgres>(conn, m).await
}

/// Links the holder of `request`'s email to `org` (see `MemberStore::link_member`),
/// inside the caller's transaction.
pub(crate) async fn link_row(
    conn: &mut Conn,
    org: Id,
    request: &LinkRequest,
    now: DateTime<Utc>,
) -> Result<Linked, StoreError> {
    // Locked, so that a concurrent reclaim or verification cannot change it under us.
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE email = $1 FOR UPDATE");
    let row =
        sqlx::query(&sql).bind(request.account.email.as_str()).fetch_optional(&mut *conn).await.map_err(backend)?;
    let account = match row.as_ref().map(account_row).transpose()? {
        None => {
            let account = request.account.clone().verified();
            insert_account_row(&mut *conn, &account).await?;
            account
        }
        Some(existing) => existing,
    };
    let member: Option<(String,)> = sqlx::query_as("SELECT id FROM members WHERE org_id = $1 AND account_id = $2")
        .bind(org.to_string())
        .bind(account.id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?;
    if member.is_some() {
        return Ok(Linked::AlreadyMember);
    }
    if !account.verified {
        let invitation = &request.invitation;
        let done = insert_connection_row(&mut *conn, invitation, true).await?;
        return Ok(if done { Linked::Invited(invitation.clone()) } else { Linked::AlreadyInvited });
    }
    let member = Member::new(org, account.id, request.roles.clone(), now);
    insert_member_row(&mut *conn, &member).await?;
    Ok(Linked::Member(member, account))
}

#[async_trait]
impl MemberStore for PgStore {
    async fn insert_member(&self, member: &Member) -> Result<(), StoreError> {
        let _changing = self.changing();
        let mut conn = self.writer().acquire().await.map_err(backend)?;
        insert_member_row(&mut conn, member).await
    }

    async fn member_of(&self, org: Id, account: Id) -> Result<Option<Member>, StoreError> {
        if let Some(member) = self.cached().and_then(|c| c.member(org, account)) {
            return Ok(member);
        }
        let read_in = self.cache.generation();
        let mut conn = self.reader().acquire().await.map_err(backend)?;
        let member = members::member_of::<Postgres>(&mut conn, org, account).await?;
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
        let read_in = self.cache.generation();
        let mut q = members_query::<Db>(org, filter, req);
        let rows = q.build().fetch_all(self.reader()).await.map_err(backend)?;
        let items = rows.iter().map(member_entry_row).collect::<Result<Vec<_>, _>>()?;
        let page = Arc::new(Page::from_rows(items, req));
        if let Some(cache) = self.cached() {
            cache.put_member_page(read_in, org, filter, req, &page);
        }
        Ok(page)
    }

    async fn member_by_id(&self, org: Id, id: Id) -> Result<Option<MemberEntry>, StoreError> {
        let mut conn = self.reader().acquire().await.map_err(backend)?;
        members::member_by_id::<Postgres>(&mut conn, org, id).await
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
        // Locking the org row serialises member changes per org, so two admins
        // demoting each other cannot both pass the guard below.
        let mut tx = self.writer().begin().await.map_err(backend)?;
        lock_org(&mut tx, org).await?;
        let roles_json = roles.map(|r| Json(r.to_vec()));
        let sql = format!(
            "UPDATE members SET roles = COALESCE($1::jsonb, roles), state = COALESCE($2, state), updated = $3 \
             WHERE org_id = $4 AND id = $5 RETURNING {MEMBER_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(roles_json)
            .bind(state.map(MemberState::as_str))
            .bind(stored_time(now))
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?
            .ok_or(StoreError::NotFound)?;
        let member = member_row(&row)?;
        guard_admins(&mut tx, org, admins.roles).await?;
        if member.state == MemberState::Suspended {
            leave_sessions(&mut tx, org, member.account, admins, now).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(member)
    }

    async fn link_member(&self, org: Id, request: &LinkRequest, now: DateTime<Utc>) -> Result<Linked, StoreError> {
        let _changing = self.changing();
        let mut tx = self.writer().begin().await.map_err(backend)?;
        let linked = link_row(&mut tx, org, request, now).await?;
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
        let mut tx = self.writer().begin().await.map_err(backend)?;
        let mut linked = Vec::with_capacity(rows.len());
        for row in rows {
            linked.push(link_row(&mut tx, org, row, now).await?);
        }
        tx.commit().await.map_err(backend)?;
        Ok(linked)
    }

    async fn delete_member(&self, org: Id, id: Id, admins: Admins<'_>, now: DateTime<Utc>) -> Result<(), StoreError> {
        let _changing = self.changing();
        let mut tx = self.writer().begin().await.map_err(backend)?;
        lock_org(&mut tx, org).await?;
        let account = members::delete_member_row::<Postgres>(&mut tx, org, id).await?;
        guard_admins(&mut tx, org, admins.roles).await?;
        leave_sessions(&mut tx, org, account, admins, now).await?;
        tx.commit().await.map_err(backend)
    }

    async fn memberships_of(&self, account: Id) -> Result<Vec<Member>, StoreError> {
        let mut conn = self.reader().acquire().await.map_err(backend)?;
        members::memberships_of::<Postgres>(&mut conn, account).await
    }
}

/// Takes the org's row lock for the rest of the transaction.
///
/// `FOR NO KEY UPDATE`, not `FOR UPDATE`: member changes still queue behind each
/// other, but a foreign-key check on the org (`FOR KEY SHARE`, as in a
/// participant insert that holds its member row `FOR SHARE`) is not blocked, which
/// would deadlock with a member change waiting for that member row.
async fn lock_org(conn: &mut Conn, org: Id) -> Result<(), StoreError> {
    sqlx::query("SELECT id FROM orgs WHERE id = $1 FOR NO KEY UPDATE")
        .bind(org.to_string())
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

/// Fails when no active member of the org holds one of `admin_roles`.
async fn guard_admins(conn: &mut Conn, org: Id, admin_roles: &[Id]) -> Result<(), StoreError> {
    let roles: Vec<String> = admin_roles.iter().map(Id::to_string).collect();
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM members WHERE org_id = $1 AND state = 'active' AND roles ?| $2::text[]")
            .bind(org.to_string())
            .bind(roles)
            .fetch_one(conn)
            .await
            .map_err(backend)?;
    if count == 0 {
        return Err(StoreError::Invariant("The org must keep at least one active Administrator.".into()));
    }
    Ok(())
}

/// A member leaving `org` (removed or suspended) leaves its sessions, inside the
/// transaction of the change: the sessions of the org it owns pass to the heir
/// (see `Admins::acting`), who takes part in them with every permission; then its
/// participations in the org's sessions, and those that came in through the org,
/// go. Ended sessions pass too, so that an owner is always a participant.
async fn leave_sessions(
    conn: &mut Conn,
    org: Id,
    account: Id,
    admins: Admins<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let owned: Vec<String> =
        sqlx::query_scalar("SELECT id FROM live_sessions WHERE org_id = $1 AND owner_id = $2 FOR UPDATE")
            .bind(org.to_string())
            .bind(account.to_string())
            .fetch_all(&mut *conn)
            .await
            .map_err(backend)?;
    if !owned.is_empty() {
        let heir = heir(conn, org, account, admins).await?;
        members::pass_sessions::<Postgres>(&mut *conn, org, account, &heir, &owned, now).await?;
    }
    members::leave_participations::<Postgres>(conn, org, account).await
}

/// The account that takes over a leaving member's sessions: `admins.acting` when
/// it is an active administrator other than the leaver, otherwise the first such
/// administrator to have joined. The last-administrator guard ran first, so one
/// exists.
async fn heir(conn: &mut Conn, org: Id, leaver: Id, admins: Admins<'_>) -> Result<String, StoreError> {
    let roles: Vec<String> = admins.roles.iter().map(Id::to_string).collect();
    let heir: Option<String> = sqlx::query_scalar(
        "SELECT account_id FROM members WHERE org_id = $1 AND state = 'active' AND account_id <> $2 \
         AND roles ?| $3::text[] ORDER BY account_id IS NOT DISTINCT FROM $4 DESC, created, id LIMIT 1",
    )
    .bind(org.to_string())
    .bind(leaver.to_string())
    .bind(roles)
    .bind(admins.acting.map(|a| a.to_string()))
    .fetch_optional(conn)
    .await
    .map_err(backend)?;
    heir.ok_or_else(|| StoreError::Invariant("The org must keep at least one active Administrator.".into()))
}
