//! The `LiveSessionStore` impl on PostgreSQL: live (video) sessions and their
//! participants; not login sessions, see `login_sessions`. The columns, row decoders
//! and the scope filter of a list are shared with SQLite
//! (`orgbase_store_sql::live_sessions`). Where the SQL differs, and why: times are
//! `timestamptz`; the participants of a page are read with `= ANY($1)`, one bound
//! array; writers run side by side, so the state of a session and the member row of
//! a new participant are read `FOR SHARE`, which makes a racing start, end, removal
//! or suspension wait for the transaction (SQLite's single writer orders them).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orgbase_domain::live_session::{
    self, LiveSession, Participant, Permissions, SessionChanges, SessionQuery, SessionState, attach_participants,
};
use orgbase_domain::paging::{Page, PageRequest};
use orgbase_domain::store::LiveSessionStore;
use orgbase_domain::{Id, StoreError};
use orgbase_store_sql::live_sessions::{
    LIVE_SESSION_COLUMNS, PARTICIPANT_COLUMNS, live_session, participant, participant_insert, push_session_scope,
    session_insert, session_update,
};
use sqlx::postgres::PgConnection;
use sqlx::{Postgres, QueryBuilder};

use crate::sql::{map_ref_err, push_keyset};
use crate::{PgStore, backend};

/// Attaches their participants to sessions, in one query.
async fn with_participants(
    conn: &mut PgConnection,
    mut sessions: Vec<LiveSession>,
) -> Result<Vec<LiveSession>, StoreError> {
    if sessions.is_empty() {
        return Ok(sessions);
    }
    let ids: Vec<String> = sessions.iter().map(|s| s.id.to_string()).collect();
    let sql = format!("SELECT {PARTICIPANT_COLUMNS} FROM participants WHERE session_id = ANY($1)");
    let rows = sqlx::query(&sql).bind(&ids).fetch_all(&mut *conn).await.map_err(backend)?;
    let participants = rows.iter().map(participant).collect::<Result<Vec<_>, _>>()?;
    attach_participants(&mut sessions, participants);
    Ok(sessions)
}

async fn fetch_live_session(conn: &mut PgConnection, id: Id) -> Result<Option<LiveSession>, StoreError> {
    let sql = format!("SELECT {LIVE_SESSION_COLUMNS} FROM live_sessions WHERE id = $1");
    let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *conn).await.map_err(backend)?;
    let Some(session) = row.as_ref().map(live_session).transpose()? else { return Ok(None) };
    Ok(with_participants(conn, vec![session]).await?.pop())
}

/// The state of a session, for the reason of a refused change. `FOR SHARE` holds
/// it until the transaction ends, so a racing start or end waits for us.
async fn live_session_state(conn: &mut PgConnection, id: Id) -> Result<SessionState, StoreError> {
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM live_sessions WHERE id = $1 FOR SHARE")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?;
    state.as_deref().and_then(SessionState::parse).ok_or(StoreError::NotFound)
}

/// Checks, inside a write transaction, that a session exists and has not ended.
async fn require_open_session(conn: &mut PgConnection, id: Id) -> Result<(), StoreError> {
    match live_session_state(conn, id).await? {
        SessionState::Ended => Err(StoreError::Conflict(live_session::ENDED.into())),
        _ => Ok(()),
    }
}

/// Inserts a participant whose account is an active member of its home org
/// ([`StoreError::NotFound`] otherwise), so that a member removed meanwhile is never
/// added back.
async fn insert_participant_row(conn: &mut PgConnection, p: &Participant) -> Result<(), StoreError> {
    // FOR SHARE: a removal or suspension of this member waits for the insert to
    // commit (and then takes the participation away with it), or the insert waits
    // for it and finds no active member.
    let member: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM members WHERE org_id = $1 AND account_id = $2 AND state = 'active' FOR SHARE",
    )
    .bind(p.home_org.to_string())
    .bind(p.account.to_string())
    .fetch_optional(&mut *conn)
    .await
    .map_err(backend)?;
    if member.is_none() {
        return Err(StoreError::NotFound);
    }
    participant_insert::<Postgres, _>(p, |t| t)
        .build()
        .execute(conn)
        .await
        .map_err(|e| map_ref_err(e, "This account already takes part in the session."))?;
    Ok(())
}

#[async_trait]
impl LiveSessionStore for PgStore {
    async fn insert_live_session(&self, s: &LiveSession) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        session_insert::<Postgres, _>(s, |t| t)
            .build()
            .execute(&mut *tx)
            .await
            .map_err(|e| map_ref_err(e, "A session with this id already exists."))?;
        for p in &s.participants {
            insert_participant_row(&mut tx, p).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn live_session(&self, id: Id) -> Result<Option<LiveSession>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        fetch_live_session(&mut conn, id).await
    }

    async fn list_live_sessions(
        &self,
        query: &SessionQuery,
        req: &PageRequest,
    ) -> Result<Page<LiveSession>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {LIVE_SESSION_COLUMNS} FROM live_sessions WHERE 1 = 1"));
        push_session_scope(&mut q, query);
        push_keyset(&mut q, "live_sessions", req);
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        let rows = q.build().fetch_all(&mut *conn).await.map_err(backend)?;
        let sessions = rows.iter().map(live_session).collect::<Result<Vec<_>, _>>()?;
        let page = Page::from_rows(sessions, req);
        let data = with_participants(&mut conn, page.data).await?;
        Ok(Page { data, has_more: page.has_more })
    }

    async fn update_live_session(
        &self,
        id: Id,
        changes: &SessionChanges,
        now: DateTime<Utc>,
    ) -> Result<LiveSession, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let mut q = session_update::<Postgres, _>(changes, now, changes.scheduled_start);
        q.push(" WHERE id = ").push_bind(id.to_string()).push(" AND state <> 'ended'");
        let done = q.build().execute(&mut *tx).await.map_err(|e| map_ref_err(e, "session"))?;
        if done.rows_affected() == 0 {
            live_session_state(&mut tx, id).await?;
            return Err(StoreError::Conflict(live_session::ENDED.into()));
        }
        let session = fetch_live_session(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(backend)?;
        Ok(session)
    }

    async fn move_live_session(&self, id: Id, to: SessionState, now: DateTime<Utc>) -> Result<LiveSession, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let stamp = match to {
            SessionState::Live => ", started = $2",
            SessionState::Ended => ", ended = $2",
            SessionState::Scheduled => "",
        };
        let done = match to.comes_from() {
            None => None,
            Some(from) => Some(
                sqlx::query(&format!(
                    "UPDATE live_sessions SET state = $1, updated = $2{stamp} WHERE id = $3 AND state = $4"
                ))
                .bind(to.as_str())
                .bind(now)
                .bind(id.to_string())
                .bind(from.as_str())
                .execute(&mut *tx)
                .await
                .map_err(backend)?,
            ),
        };
        if done.is_none_or(|d| d.rows_affected() == 0) {
            let current = live_session_state(&mut tx, id).await?;
            return Err(StoreError::Conflict(live_session::illegal_move(current, to)));
        }
        let session = fetch_live_session(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(backend)?;
        Ok(session)
    }

    async fn delete_live_session(&self, id: Id) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM live_sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn insert_participant(&self, p: &Participant) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        require_open_session(&mut tx, p.session).await?;
        insert_participant_row(&mut tx, p).await?;
        tx.commit().await.map_err(backend)
    }

    async fn update_participant(
        &self,
        session: Id,
        account: Id,
        permissions: Permissions,
        now: DateTime<Utc>,
    ) -> Result<Participant, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        require_open_session(&mut tx, session).await?;
        let sql = format!(
            "UPDATE participants SET permissions = $1, updated = $2 WHERE session_id = $3 AND account_id = $4 \
             RETURNING {PARTICIPANT_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(permissions.bits())
            .bind(now)
            .bind(session.to_string())
            .bind(account.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let participant = row.as_ref().map(participant).transpose()?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(backend)?;
        Ok(participant)
    }

    async fn delete_participant(&self, session: Id, account: Id) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        require_open_session(&mut tx, session).await?;
        let done = sqlx::query("DELETE FROM participants WHERE session_id = $1 AND account_id = $2")
            .bind(session.to_string())
            .bind(account.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(backend)
    }
}
