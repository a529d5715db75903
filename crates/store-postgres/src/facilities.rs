//! The `FacilityStore` impl on PostgreSQL: facilities and their rooms. The columns, row
//! decoders and the partial update are shared with SQLite
//! (`orgbase_store_sql::facilities`). Where the SQL differs, and why: times are
//! `timestamptz`, and a delete first locks the facility or room row `FOR UPDATE`
//! (`lock_for_delete`): a session that would take it meanwhile needs a share lock on
//! that row for its foreign key, so it waits until the delete is done, and the
//! "in use" check cannot be overtaken (SQLite's single writer gives this for free).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orgbase_domain::facility::{self, Facility, PlaceChanges, Room};
use orgbase_domain::paging::{Page, PageRequest};
use orgbase_domain::store::FacilityStore;
use orgbase_domain::{Id, StoreError};
use orgbase_store_sql::facilities::{
    FACILITY_COLUMNS, ROOM_COLUMNS, facility, facility_insert, place_update, room, room_insert,
};
use sqlx::postgres::PgConnection;
use sqlx::{Postgres, QueryBuilder};

use crate::sql::{map_ref_err, push_keyset};
use crate::{PgStore, backend};

/// True when a query that selects `1` finds a row.
pub(crate) async fn exists(conn: &mut PgConnection, sql: &str, id: Id) -> Result<bool, StoreError> {
    let found: Option<i32> =
        sqlx::query_scalar(sql).bind(id.to_string()).fetch_optional(&mut *conn).await.map_err(backend)?;
    Ok(found.is_some())
}

/// Locks a facility or room row of `org` for deletion and says whether it is
/// removable. The lock makes sessions that would take it (whose foreign key check
/// needs a share lock on the row) wait until the delete is done.
async fn lock_for_delete(conn: &mut PgConnection, table: &str, org: Id, id: Id) -> Result<(), StoreError> {
    let removable: Option<bool> =
        sqlx::query_scalar(&format!("SELECT is_removable FROM {table} WHERE org_id = $1 AND id = $2 FOR UPDATE"))
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(backend)?;
    match removable {
        None => Err(StoreError::NotFound),
        Some(false) => Err(StoreError::Conflict(facility::NOT_REMOVABLE.into())),
        Some(true) => Ok(()),
    }
}

#[async_trait]
impl FacilityStore for PgStore {
    async fn insert_facility(&self, f: &Facility) -> Result<(), StoreError> {
        facility_insert::<Postgres, _>(f, |t| t)
            .build()
            .execute(&self.pool)
            .await
            .map_err(|e| map_ref_err(e, "A facility with this id already exists."))?;
        Ok(())
    }

    async fn facility(&self, org: Id, id: Id) -> Result<Option<Facility>, StoreError> {
        let sql = format!("SELECT {FACILITY_COLUMNS} FROM facilities WHERE org_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(facility).transpose()
    }

    async fn list_facilities(&self, org: Id, req: &PageRequest) -> Result<Page<Facility>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {FACILITY_COLUMNS} FROM facilities WHERE org_id = "));
        q.push_bind(org.to_string());
        push_keyset(&mut q, "facilities", req);
        let rows = q.build().fetch_all(&self.pool).await.map_err(backend)?;
        Ok(Page::from_rows(rows.iter().map(facility).collect::<Result<Vec<_>, _>>()?, req))
    }

    async fn update_facility(
        &self,
        org: Id,
        id: Id,
        changes: &PlaceChanges,
        now: DateTime<Utc>,
    ) -> Result<Facility, StoreError> {
        let mut q = place_update::<Postgres, _>("facilities", FACILITY_COLUMNS, org, id, changes, now);
        let row = q.build().fetch_optional(&self.pool).await.map_err(backend)?;
        row.as_ref().map(facility).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn delete_facility(&self, org: Id, id: Id) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        lock_for_delete(&mut tx, "facilities", org, id).await?;
        if exists(&mut tx, "SELECT 1 FROM rooms WHERE facility_id = $1 AND NOT is_removable LIMIT 1", id).await? {
            return Err(StoreError::Conflict(facility::ROOM_NOT_REMOVABLE.into()));
        }
        let in_use = "SELECT 1 FROM live_sessions WHERE facility_id = $1 AND state <> 'ended' LIMIT 1";
        if exists(&mut tx, in_use, id).await? {
            return Err(StoreError::Conflict(facility::IN_USE.into()));
        }
        sqlx::query("DELETE FROM facilities WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn insert_room(&self, r: &Room) -> Result<(), StoreError> {
        room_insert::<Postgres, _>(r, |t| t)
            .build()
            .execute(&self.pool)
            .await
            .map_err(|e| map_ref_err(e, "A room with this id already exists."))?;
        Ok(())
    }

    async fn room(&self, org: Id, id: Id) -> Result<Option<Room>, StoreError> {
        let sql = format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE org_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(room).transpose()
    }

    async fn list_rooms(&self, org: Id, facility: Id, req: &PageRequest) -> Result<Page<Room>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE org_id = "));
        q.push_bind(org.to_string());
        q.push(" AND facility_id = ").push_bind(facility.to_string());
        push_keyset(&mut q, "rooms", req);
        let rows = q.build().fetch_all(&self.pool).await.map_err(backend)?;
        Ok(Page::from_rows(rows.iter().map(room).collect::<Result<Vec<_>, _>>()?, req))
    }

    async fn update_room(
        &self,
        org: Id,
        id: Id,
        changes: &PlaceChanges,
        now: DateTime<Utc>,
    ) -> Result<Room, StoreError> {
        let mut q = place_update::<Postgres, _>("rooms", ROOM_COLUMNS, org, id, changes, now);
        let row = q.build().fetch_optional(&self.pool).await.map_err(backend)?;
        row.as_ref().map(room).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn delete_room(&self, org: Id, id: Id) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        lock_for_delete(&mut tx, "rooms", org, id).await?;
        if exists(&mut tx, "SELECT 1 FROM live_sessions WHERE room_id = $1 AND state <> 'ended' LIMIT 1", id).await? {
            return Err(StoreError::Conflict(facility::IN_USE.into()));
        }
        sqlx::query("DELETE FROM rooms WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await.map_err(backend)?;
        tx.commit().await.map_err(backend)
    }
}
