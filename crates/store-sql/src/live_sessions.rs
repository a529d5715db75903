//! The `LiveSessionStore` impl: live (video) sessions and their participants; not
//! login sessions, see `login_sessions`. Writers run side by side on PostgreSQL, so
//! the state of a session and the member row of a new participant are read
//! `FOR SHARE` there (`Dialect::FOR_SHARE`), which makes a racing start, end,
//! removal or suspension wait for the transaction; SQLite's single writer orders
//! them without it. The participants of a page are read with one `IN (…)`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orgbase_domain::live_session::{
    self, LiveSession, Participant, Permissions, SessionAccess, SessionChanges, SessionQuery, SessionScope,
    SessionState, attach_participants,
};
use orgbase_domain::paging::{Page, PageRequest};
use orgbase_domain::store::LiveSessionStore;
use orgbase_domain::{Id, StoreError};
use sqlx::QueryBuilder;

use crate::backend::{Backend, SqlStore};
use crate::bind::{built, sql};
use crate::cells::Cells;
use crate::dialect::Dialect;
use crate::error::{backend, map_ref_err};
use crate::paging::push_keyset;

/// The columns [`live_session`] reads, in table order.
pub const LIVE_SESSION_COLUMNS: &str = "id, org_id, owner_id, name, type, speciality, estimated_duration, access, \
     facility_id, room_id, scheduled_start, state, started, ended, created, updated";
/// The columns [`participant`] reads, in table order.
pub const PARTICIPANT_COLUMNS: &str = "id, session_id, account_id, home_org_id, permissions, created, updated";

/// Rebuilds a session from a row of [`LIVE_SESSION_COLUMNS`]; its participants are
/// attached after.
pub fn live_session<R: Cells>(row: &R) -> Result<LiveSession, StoreError> {
    let id = row.text("id")?;
    let bad = |what: &str| StoreError::Backend(format!("stored session {id}: bad {what}"));
    let id_in = |column: &str, what: &str| Id::parse(row.text(column)?).ok_or_else(|| bad(what));
    let opt_id_in = |column: &str, what: &str| -> Result<Option<Id>, StoreError> {
        row.opt_text(column)?.map(|s| Id::parse(s).ok_or_else(|| bad(what))).transpose()
    };
    Ok(LiveSession {
        id: Id::parse(id).ok_or_else(|| bad("id"))?,
        org: id_in("org_id", "org")?,
        owner: id_in("owner_id", "owner")?,
        name: row.string("name")?,
        session_type: row.string("type")?,
        speciality: row.opt_string("speciality")?,
        estimated_duration: row.opt_string("estimated_duration")?,
        access: SessionAccess::parse(row.text("access")?).ok_or_else(|| bad("access"))?,
        facility: opt_id_in("facility_id", "facility")?,
        room: opt_id_in("room_id", "room")?,
        scheduled_start: row.time("scheduled_start")?,
        state: SessionState::parse(row.text("state")?).ok_or_else(|| bad("state"))?,
        started: row.opt_time("started")?,
        ended: row.opt_time("ended")?,
        created: row.time("created")?,
        updated: row.time("updated")?,
        participants: Vec::new(),
    })
}

/// Rebuilds a participant from a row of [`PARTICIPANT_COLUMNS`].
pub fn participant(row: &impl Cells) -> Result<Participant, StoreError> {
    let id = row.text("id")?;
    let bad = |what: &str| StoreError::Backend(format!("stored participant {id}: bad {what}"));
    let id_in = |column: &str, what: &str| Id::parse(row.text(column)?).ok_or_else(|| bad(what));
    Ok(Participant {
        id: Id::parse(id).ok_or_else(|| bad("id"))?,
        session: id_in("session_id", "session")?,
        account: id_in("account_id", "account")?,
        home_org: id_in("home_org_id", "home org")?,
        permissions: Permissions::from_bits(row.int("permissions")?),
        created: row.time("created")?,
        updated: row.time("updated")?,
    })
}

/// A participation the account can still use: it is an active member of the
/// owning org, or of the org it came in through, and that org is enabled
/// (`SessionScope::Participant`). The account id is bound after it.
const REACHES: &str = "EXISTS (SELECT 1 FROM participants p \
     JOIN members m ON m.account_id = p.account_id AND m.state = 'active' \
     AND m.org_id IN (live_sessions.org_id, p.home_org_id) \
     JOIN orgs o ON o.id = m.org_id AND o.state = 'enabled' \
     WHERE p.session_id = live_sessions.id AND p.account_id = ";

/// Appends the scope and filters of a session list to a query on `live_sessions`
/// that already has a WHERE.
pub fn push_session_scope<D: Dialect>(q: &mut QueryBuilder<'_, D>, query: &SessionQuery) {
    let takes_part = "EXISTS (SELECT 1 FROM participants p WHERE p.session_id = live_sessions.id AND p.account_id = ";
    match query.scope {
        SessionScope::Org(org) => {
            q.push(" AND org_id = ");
            D::bind_text(q, org.to_string());
        }
        SessionScope::OrgMember { org, account } => {
            q.push(" AND org_id = ");
            D::bind_text(q, org.to_string());
            q.push(" AND (access = 'ORGANISATION' OR ").push(takes_part);
            D::bind_text(q, account.to_string());
            q.push("))");
        }
        SessionScope::Participant(account) => {
            q.push(" AND ").push(REACHES);
            D::bind_text(q, account.to_string());
            q.push(")");
        }
    }
    if let Some(state) = query.state {
        q.push(" AND state = ");
        D::bind_text(q, state.as_str().to_owned());
    }
    if let Some(owner) = query.owner {
        q.push(" AND owner_id = ");
        D::bind_text(q, owner.to_string());
    }
    if let Some(participant) = query.participant {
        q.push(" AND ").push(takes_part);
        D::bind_text(q, participant.to_string());
        q.push(")");
    }
}

/// `UPDATE live_sessions SET updated = $ … WHERE id = $ AND state <> 'ended'`, with
/// the changed columns.
fn session_update<'a, D: Dialect>(id: Id, changes: &SessionChanges, now: DateTime<Utc>) -> QueryBuilder<'a, D> {
    let mut q = QueryBuilder::new("UPDATE live_sessions SET updated = ");
    D::bind_time(&mut q, now);
    let texts = [
        ("name", changes.name.clone()),
        ("type", changes.session_type.clone()),
        ("access", changes.access.map(|a| a.as_str().to_owned())),
    ];
    for (column, value) in texts {
        if let Some(value) = value {
            q.push(format_args!(", {column} = "));
            D::bind_text(&mut q, value);
        }
    }
    let nullable = [("speciality", &changes.speciality), ("estimated_duration", &changes.estimated_duration)];
    for (column, value) in nullable {
        if let Some(value) = value {
            q.push(format_args!(", {column} = "));
            D::bind_opt_text(&mut q, value.clone());
        }
    }
    if let Some((facility, room)) = changes.place {
        q.push(", facility_id = ");
        D::bind_opt_text(&mut q, facility.map(|f| f.to_string()));
        q.push(", room_id = ");
        D::bind_opt_text(&mut q, room.map(|r| r.to_string()));
    }
    if let Some(start) = changes.scheduled_start {
        q.push(", scheduled_start = ");
        D::bind_time(&mut q, start);
    }
    q.push(" WHERE id = ");
    D::bind_text(&mut q, id.to_string());
    q.push(" AND state <> 'ended'");
    q
}

/// Inserts one session row (not its participants).
async fn insert_session_row<D: Dialect>(conn: &mut D::Connection, s: &LiveSession) -> Result<(), StoreError> {
    let query = format!(
        "INSERT INTO live_sessions ({LIVE_SESSION_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    );
    sql::<D>(&query)
        .id(s.id)
        .id(s.org)
        .id(s.owner)
        .text(&s.name)
        .text(&s.session_type)
        .opt_text(s.speciality.clone())
        .opt_text(s.estimated_duration.clone())
        .text(s.access.as_str())
        .opt_id(s.facility)
        .opt_id(s.room)
        .time(s.scheduled_start)
        .text(s.state.as_str())
        .opt_time(s.started)
        .opt_time(s.ended)
        .time(s.created)
        .time(s.updated)
        .execute(conn)
        .await
        .map_err(|e| map_ref_err(e, "A session with this id already exists."))?;
    Ok(())
}

/// Inserts a participant whose account is an active member of its home org
/// ([`StoreError::NotFound`] otherwise), so that a member removed meanwhile is never
/// added back: the member row is read `FOR SHARE` where writers run side by side,
/// so a removal or suspension waits for the insert to commit (and then takes the
/// participation away with it), or the insert waits for it and finds no member.
async fn insert_participant_row<D: Dialect>(conn: &mut D::Connection, p: &Participant) -> Result<(), StoreError> {
    let query = format!(
        "SELECT 1 AS found FROM members WHERE org_id = $1 AND account_id = $2 AND state = 'active'{}",
        D::FOR_SHARE
    );
    let member = sql::<D>(&query).id(p.home_org).id(p.account).fetch_optional(&mut *conn).await.map_err(backend)?;
    if member.is_none() {
        return Err(StoreError::NotFound);
    }
    let query = format!("INSERT INTO participants ({PARTICIPANT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
    sql::<D>(&query)
        .id(p.id)
        .id(p.session)
        .id(p.account)
        .id(p.home_org)
        .int(p.permissions.bits())
        .time(p.created)
        .time(p.updated)
        .execute(conn)
        .await
        .map_err(|e| map_ref_err(e, "This account already takes part in the session."))?;
    Ok(())
}

/// Attaches their participants to sessions, in one query.
async fn with_participants<D: Dialect>(
    conn: &mut D::Connection,
    mut sessions: Vec<LiveSession>,
) -> Result<Vec<LiveSession>, StoreError> {
    if sessions.is_empty() {
        return Ok(sessions);
    }
    let mut q = QueryBuilder::new(format!("SELECT {PARTICIPANT_COLUMNS} FROM participants WHERE session_id IN ("));
    for (i, s) in sessions.iter().enumerate() {
        q.push(if i == 0 { "" } else { ", " });
        D::bind_text(&mut q, s.id.to_string());
    }
    q.push(")");
    let rows = built(&mut q).fetch_all(conn).await.map_err(backend)?;
    let participants = rows.iter().map(participant).collect::<Result<Vec<_>, _>>()?;
    attach_participants(&mut sessions, participants);
    Ok(sessions)
}

async fn fetch_live_session<D: Dialect>(conn: &mut D::Connection, id: Id) -> Result<Option<LiveSession>, StoreError> {
    let query = format!("SELECT {LIVE_SESSION_COLUMNS} FROM live_sessions WHERE id = $1");
    let row = sql::<D>(&query).id(id).fetch_optional(&mut *conn).await.map_err(backend)?;
    let Some(session) = row.as_ref().map(live_session).transpose()? else { return Ok(None) };
    Ok(with_participants::<D>(conn, vec![session]).await?.pop())
}

/// The state of a session, for the reason of a refused change; held `FOR SHARE`
/// where writers run side by side, so a racing start or end waits for us.
async fn live_session_state<D: Dialect>(conn: &mut D::Connection, id: Id) -> Result<SessionState, StoreError> {
    let query = format!("SELECT state FROM live_sessions WHERE id = $1{}", D::FOR_SHARE);
    let row = sql::<D>(&query).id(id).fetch_optional(conn).await.map_err(backend)?;
    let state = row.as_ref().map(|r| r.string("state")).transpose()?;
    state.as_deref().and_then(SessionState::parse).ok_or(StoreError::NotFound)
}

/// Checks, inside a write transaction, that a session exists and has not ended.
async fn require_open_session<D: Dialect>(conn: &mut D::Connection, id: Id) -> Result<(), StoreError> {
    match live_session_state::<D>(conn, id).await? {
        SessionState::Ended => Err(StoreError::Conflict(live_session::ENDED.into())),
        _ => Ok(()),
    }
}

#[async_trait]
impl<B: Backend> LiveSessionStore for SqlStore<B> {
    async fn insert_live_session(&self, s: &LiveSession) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        insert_session_row::<B::Db>(&mut tx, s).await?;
        for p in &s.participants {
            insert_participant_row::<B::Db>(&mut tx, p).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn live_session(&self, id: Id) -> Result<Option<LiveSession>, StoreError> {
        fetch_live_session::<B::Db>(&mut *self.read().await?, id).await
    }

    async fn list_live_sessions(
        &self,
        query: &SessionQuery,
        req: &PageRequest,
    ) -> Result<Page<LiveSession>, StoreError> {
        let mut q = QueryBuilder::<B::Db>::new(format!("SELECT {LIVE_SESSION_COLUMNS} FROM live_sessions WHERE 1 = 1"));
        push_session_scope(&mut q, query);
        push_keyset(&mut q, "live_sessions", req);
        let mut conn = self.read().await?;
        let rows = built(&mut q).fetch_all(&mut conn).await.map_err(backend)?;
        let sessions = rows.iter().map(live_session).collect::<Result<Vec<_>, _>>()?;
        let page = Page::from_rows(sessions, req);
        let data = with_participants::<B::Db>(&mut conn, page.data).await?;
        Ok(Page { data, has_more: page.has_more })
    }

    async fn update_live_session(
        &self,
        id: Id,
        changes: &SessionChanges,
        now: DateTime<Utc>,
    ) -> Result<LiveSession, StoreError> {
        let mut tx = self.begin().await?;
        let mut q = session_update::<B::Db>(id, changes, now);
        let done = built(&mut q).execute(&mut tx).await.map_err(|e| map_ref_err(e, "session"))?;
        if done == 0 {
            live_session_state::<B::Db>(&mut tx, id).await?;
            return Err(StoreError::Conflict(live_session::ENDED.into()));
        }
        let session = fetch_live_session::<B::Db>(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(backend)?;
        Ok(session)
    }

    async fn move_live_session(&self, id: Id, to: SessionState, now: DateTime<Utc>) -> Result<LiveSession, StoreError> {
        let mut tx = self.begin().await?;
        let stamp = match to {
            SessionState::Live => ", started = $2",
            SessionState::Ended => ", ended = $2",
            SessionState::Scheduled => "",
        };
        let mut done = 0;
        if let Some(from) = to.comes_from() {
            let query =
                format!("UPDATE live_sessions SET state = $1, updated = $2{stamp} WHERE id = $3 AND state = $4");
            let moved = sql::<B::Db>(&query).text(to.as_str()).time(now).id(id).text(from.as_str());
            done = moved.execute(&mut tx).await.map_err(backend)?;
        }
        if done == 0 {
            let current = live_session_state::<B::Db>(&mut tx, id).await?;
            return Err(StoreError::Conflict(live_session::illegal_move(current, to)));
        }
        let session = fetch_live_session::<B::Db>(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(backend)?;
        Ok(session)
    }

    async fn delete_live_session(&self, id: Id) -> Result<(), StoreError> {
        let delete = sql::<B::Db>("DELETE FROM live_sessions WHERE id = $1").id(id);
        let done = delete.execute(&mut *self.write().await?).await.map_err(backend)?;
        if done == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn insert_participant(&self, p: &Participant) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        require_open_session::<B::Db>(&mut tx, p.session).await?;
        insert_participant_row::<B::Db>(&mut tx, p).await?;
        tx.commit().await.map_err(backend)
    }

    async fn update_participant(
        &self,
        session: Id,
        account: Id,
        permissions: Permissions,
        now: DateTime<Utc>,
    ) -> Result<Participant, StoreError> {
        let mut tx = self.begin().await?;
        require_open_session::<B::Db>(&mut tx, session).await?;
        let query = format!(
            "UPDATE participants SET permissions = $1, updated = $2 WHERE session_id = $3 AND account_id = $4 \
             RETURNING {PARTICIPANT_COLUMNS}"
        );
        let update = sql::<B::Db>(&query).int(permissions.bits()).time(now).id(session).id(account);
        let row = update.fetch_optional(&mut tx).await.map_err(backend)?;
        let participant = row.as_ref().map(participant).transpose()?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(backend)?;
        Ok(participant)
    }

    async fn delete_participant(&self, session: Id, account: Id) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        require_open_session::<B::Db>(&mut tx, session).await?;
        let delete = sql::<B::Db>("DELETE FROM participants WHERE session_id = $1 AND account_id = $2");
        let done = delete.id(session).id(account).execute(&mut tx).await.map_err(backend)?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(backend)
    }
}
