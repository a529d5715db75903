//! The `LiveSessionStore` impl on SQLite: live (video) sessions and their participants;
//! not login sessions, see `login_sessions`. The columns, row decoders and the scope
//! filter of a list are shared with PostgreSQL (`orgbase_store_sql::live_sessions`).
//! Where the SQL differs, and why: times are bound as integer milliseconds; the
//! participants of a page are read with `IN (…)`, as SQLite has no array to bind;
//! no row is locked, because the single writer runs each write transaction alone,
//! so the state and membership checks made in one cannot be overtaken (PostgreSQL
//! takes `FOR SHARE` on the session and the member row instead).

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
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use crate::sql::{map_ref_err, millis, push_keyset};
use crate::{SqliteStore, backend};

/// Attaches their participants to sessions, in one query.
async fn with_participants(
    conn: &mut SqliteConnection,
    mut sessions: Vec<LiveSession>,
) -> Result<Vec<LiveSession>, StoreError> {
    if sessions.is_empty() {
        return Ok(sessions);
    }
    let mut q = QueryBuilder::new(format!("SELECT {PARTICIPANT_COLUMNS} FROM participants WHERE session_id IN ("));
    let mut ids = q.separated(", ");
    for s in &sessions {
        ids.push_bind(s.id.to_string());
    }
    q.push(")");
    let rows = q.build().fetch_all(&mut *conn).await.map_err(backend)?;
    let participants = rows.iter().map(participant).collect::<Result<Vec<_>, _>>()?;
    attach_participants(&mut sessions, participants);
    Ok(sessions)
}

async fn fetch_live_session(conn: &mut SqliteConnection, id: Id) -> Result<Option<LiveSession>, StoreError> {
    let sql = format!("SELECT {LIVE_SESSION_COLUMNS} FROM live_sessions WHERE id = $1");
    let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *conn).await.map_err(backend)?;
    let Some(session) = row.as_ref().map(live_session).transpose()? else { return Ok(None) };
    Ok(with_participants(conn, vec![session]).await?.pop())
}

/// The state of a session, for the reason of a refused change.
async fn live_session_state(conn: &mut SqliteConnection, id: Id) -> Result<SessionState, StoreError> {
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM live_sessions WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?;
    state.as_deref().and_then(SessionState::parse).ok_or(StoreError::NotFound)
}

/// Checks, inside a write transaction, that a session exists and has not ended.
async fn require_open_session(conn: &mut SqliteConnection, id: Id) -> Result<(), StoreError> {
    match live_session_state(conn, id).await? {
        SessionState::Ended => Err(StoreError::Conflict(live_session::ENDED.into())),
        _ => Ok(()),
    }
}

/// Inserts a participant whose account is an active member of its home org
/// ([`StoreError::NotFound`] otherwise), so that a member removed meanwhile is never
/// added back.
async fn insert_participant_row(conn: &mut SqliteConnection, p: &Participant) -> Result<(), StoreError> {
    // Checked in the transaction of the insert: the single writer orders it with
    // any removal, which either came first (refused here) or comes after (and
    // takes the participation away with it).
    let member: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM members WHERE org_id = $1 AND account_id = $2 AND state = 'active'")
            .bind(p.home_org.to_string())
            .bind(p.account.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(backend)?;
    if member.is_none() {
        return Err(StoreError::NotFound);
    }
    participant_insert::<Sqlite, _>(p, millis)
        .build()
        .execute(conn)
        .await
        .map_err(|e| map_ref_err(e, "This account already takes part in the session."))?;
    Ok(())
}

#[async_trait]
impl LiveSessionStore for SqliteStore {
    async fn insert_live_session(&self, s: &LiveSession) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        session_insert::<Sqlite, _>(s, millis)
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
        let mut conn = self.reader.acquire().await.map_err(backend)?;
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
        let mut conn = self.reader.acquire().await.map_err(backend)?;
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
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let mut q = session_update::<Sqlite, _>(changes, millis(now), changes.scheduled_start.map(millis));
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
        let mut tx = self.writer.begin().await.map_err(backend)?;
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
                .bind(millis(now))
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
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn insert_participant(&self, p: &Participant) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
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
        let mut tx = self.writer.begin().await.map_err(backend)?;
        require_open_session(&mut tx, session).await?;
        let sql = format!(
            "UPDATE participants SET permissions = $1, updated = $2 WHERE session_id = $3 AND account_id = $4 \
             RETURNING {PARTICIPANT_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(permissions.bits())
            .bind(millis(now))
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
        let mut tx = self.writer.begin().await.map_err(backend)?;
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
