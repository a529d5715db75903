//! Live (video) sessions and their participants as both databases store them: the
//! column lists, the row decoders and the filter of a session list (the scopes of
//! `SessionScope`). Not login sessions: see `login_sessions`.

use orgbase_domain::session::{
    LiveSession, Participant, Permissions, SessionAccess, SessionQuery, SessionScope, SessionState,
};
use orgbase_domain::{Id, StoreError};
use sqlx::{Database, Encode, QueryBuilder, Type};

use crate::cells::Cells;
use crate::extra_cells::ExtraCells;

/// The columns [`live_session`] reads, in table order.
pub const LIVE_SESSION_COLUMNS: &str = "id, org_id, owner_id, name, type, speciality, estimated_duration, access, \
     facility_id, room_id, scheduled_start, state, started, ended, created, updated";
/// The columns [`participant`] reads, in table order.
pub const PARTICIPANT_COLUMNS: &str = "id, session_id, account_id, home_org_id, permissions, created, updated";

/// Rebuilds a session from a row of [`LIVE_SESSION_COLUMNS`]; its participants are
/// attached after.
pub fn live_session<R: Cells + ExtraCells>(row: &R) -> Result<LiveSession, StoreError> {
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
    &'static str: Encode<'a, DB> + Type<DB>,
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
