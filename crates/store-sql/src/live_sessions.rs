//! Live (video) sessions and their participants as both databases store them: the
//! column lists, the row decoders, the filter of a session list (the scopes of
//! `SessionScope`), and the inserts and the partial update, whose times each backend
//! binds its own way. Not login sessions: see `login_sessions`.

use chrono::{DateTime, Utc};
use orgbase_domain::live_session::{
    LiveSession, Participant, Permissions, SessionAccess, SessionChanges, SessionQuery, SessionScope, SessionState,
};
use orgbase_domain::{Id, StoreError};
use sqlx::{Database, Encode, QueryBuilder, Type};

use crate::cells::Cells;

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
pub fn push_session_scope<'a, DB>(q: &mut QueryBuilder<'a, DB>, query: &SessionQuery)
where
    DB: Database,
    String: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    let takes_part = "EXISTS (SELECT 1 FROM participants p WHERE p.session_id = live_sessions.id AND p.account_id = ";
    match query.scope {
        SessionScope::Org(org) => {
            q.push(" AND org_id = ").push_bind(org.to_string());
        }
        SessionScope::OrgMember { org, account } => {
            q.push(" AND org_id = ").push_bind(org.to_string());
            q.push(" AND (access = 'ORGANISATION' OR ").push(takes_part).push_bind(account.to_string()).push("))");
        }
        SessionScope::Participant(account) => {
            q.push(" AND ").push(REACHES).push_bind(account.to_string()).push(")");
        }
    }
    if let Some(state) = query.state {
        q.push(" AND state = ").push_bind(state.as_str());
    }
    if let Some(owner) = query.owner {
        q.push(" AND owner_id = ").push_bind(owner.to_string());
    }
    if let Some(participant) = query.participant {
        q.push(" AND ").push(takes_part).push_bind(participant.to_string()).push(")");
    }
}

/// `UPDATE live_sessions SET updated = $ …` with the changed columns, for the caller
/// to add its WHERE. The times (`now` and the new `scheduled_start` of `changes`,
/// given apart) are bound as the dialect stores a time.
pub fn session_update<'a, DB, T>(changes: &SessionChanges, now: T, scheduled_start: Option<T>) -> QueryBuilder<'a, DB>
where
    DB: Database,
    T: 'a + Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    Option<String>: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    let mut q = QueryBuilder::new("UPDATE live_sessions SET updated = ");
    q.push_bind(now);
    if let Some(name) = &changes.name {
        q.push(", name = ").push_bind(name.clone());
    }
    if let Some(t) = &changes.session_type {
        q.push(", type = ").push_bind(t.clone());
    }
    if let Some(s) = &changes.speciality {
        q.push(", speciality = ").push_bind(s.clone());
    }
    if let Some(d) = &changes.estimated_duration {
        q.push(", estimated_duration = ").push_bind(d.clone());
    }
    if let Some(a) = changes.access {
        q.push(", access = ").push_bind(a.as_str());
    }
    if let Some((facility, room)) = changes.place {
        q.push(", facility_id = ").push_bind(facility.map(|f| f.to_string()));
        q.push(", room_id = ").push_bind(room.map(|r| r.to_string()));
    }
    if let Some(start) = scheduled_start {
        q.push(", scheduled_start = ").push_bind(start);
    }
    q
}

/// `INSERT INTO live_sessions (…) VALUES (…)` for one session (not its
/// participants); `time` turns a time into what the dialect stores.
pub fn session_insert<'a, DB, T>(s: &'a LiveSession, time: impl Fn(DateTime<Utc>) -> T) -> QueryBuilder<'a, DB>
where
    DB: Database,
    T: 'a + Encode<'a, DB> + Type<DB>,
    Option<T>: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    &'a String: Encode<'a, DB> + Type<DB>,
    Option<String>: Encode<'a, DB> + Type<DB>,
    &'a Option<String>: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    let mut q = QueryBuilder::new(format!("INSERT INTO live_sessions ({LIVE_SESSION_COLUMNS}) VALUES ("));
    let mut values = q.separated(", ");
    values.push_bind(s.id.to_string());
    values.push_bind(s.org.to_string());
    values.push_bind(s.owner.to_string());
    values.push_bind(&s.name);
    values.push_bind(&s.session_type);
    values.push_bind(&s.speciality);
    values.push_bind(&s.estimated_duration);
    values.push_bind(s.access.as_str());
    values.push_bind(s.facility.map(|f| f.to_string()));
    values.push_bind(s.room.map(|r| r.to_string()));
    values.push_bind(time(s.scheduled_start));
    values.push_bind(s.state.as_str());
    values.push_bind(s.started.map(&time));
    values.push_bind(s.ended.map(&time));
    values.push_bind(time(s.created));
    values.push_bind(time(s.updated));
    q.push(")");
    q
}

/// `INSERT INTO participants (…) VALUES (…)` for one participant; `time` turns a
/// time into what the dialect stores.
pub fn participant_insert<'a, DB, T>(p: &Participant, time: impl Fn(DateTime<Utc>) -> T) -> QueryBuilder<'a, DB>
where
    DB: Database,
    T: 'a + Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    let mut q = QueryBuilder::new(format!("INSERT INTO participants ({PARTICIPANT_COLUMNS}) VALUES ("));
    let mut values = q.separated(", ");
    values.push_bind(p.id.to_string());
    values.push_bind(p.session.to_string());
    values.push_bind(p.account.to_string());
    values.push_bind(p.home_org.to_string());
    values.push_bind(p.permissions.bits());
    values.push_bind(time(p.created));
    values.push_bind(time(p.updated));
    q.push(")");
    q
}
