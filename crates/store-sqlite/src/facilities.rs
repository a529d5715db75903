//! The `FacilityStore` impl on SQLite: facilities and their rooms. The columns, row
//! decoders and the partial update are shared with PostgreSQL
//! (`orgbase_store_sql::facilities`). Where the SQL differs, and why: times are bound
//! as integer milliseconds, and a delete reads `is_removable` without a lock, because
//! the single writer runs it alone, so no session can take the facility or room
//! between the checks and the delete (PostgreSQL locks the row `FOR UPDATE`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orgbase_domain::facility::{self, Facility, PlaceChanges, Room};
use orgbase_domain::paging::{Page, PageRequest};
use orgbase_domain::store::FacilityStore;
use orgbase_domain::{Id, StoreError};
use orgbase_store_sql::facilities::{
    FACILITY_COLUMNS, ROOM_COLUMNS, facility, facility_insert, place_update, room, room_insert,
};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use crate::sql::{map_ref_err, millis, push_keyset};
use crate::{SqliteStore, backend};

/// True when a query that selects `1` finds a row.
pub(crate) async fn exists(conn: &mut SqliteConnection, sql: &str, id: Id) -> Result<bool, StoreError> {
    let found: Option<i64> =
        sqlx::query_scalar(sql).bind(id.to_string()).fetch_optional(&mut *conn).await.map_err(backend)?;
    Ok(found.is_some())
}

/// Says whether a facility or room row of `org` may be deleted. No lock, unlike
/// PostgreSQL's `lock_for_delete`: the transaction holds SQLite's one writer.
async fn check_removable(conn: &mut SqliteConnection, table: &str, org: Id, id: Id) -> Result<(), StoreError> {
    let removable: Option<bool> =
        sqlx::query_scalar(&format!("SELECT is_removable FROM {table} WHERE org_id = $1 AND id = $2"))
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
impl FacilityStore for SqliteStore {
    async fn insert_facility(&self, f: &Facility) -> Result<(), StoreError> {
        facility_insert::<Sqlite, _>(f, millis)
            .build()
            .execute(&self.writer)
            .await
            .map_err(|e| map_ref_err(e, "A facility with this id already exists."))?;
        Ok(())
    }

    async fn facility(&self, org: Id, id: Id) -> Result<Option<Facility>, StoreError> {
        let sql = format!("SELECT {FACILITY_COLUMNS} FROM facilities WHERE org_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.as_ref().map(facility).transpose()
    }

    async fn list_facilities(&self, org: Id, req: &PageRequest) -> Result<Page<Facility>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {FACILITY_COLUMNS} FROM facilities WHERE org_id = "));
        q.push_bind(org.to_string());
        push_keyset(&mut q, "facilities", req);
        let rows = q.build().fetch_all(&self.reader).await.map_err(backend)?;
        Ok(Page::from_rows(rows.iter().map(facility).collect::<Result<Vec<_>, _>>()?, req))
    }

    async fn update_facility(
        &self,
        org: Id,
        id: Id,
        changes: &PlaceChanges,
        now: DateTime<Utc>,
    ) -> Result<Facility, StoreError> {
        let mut q = place_update::<Sqlite, _>("facilities", FACILITY_COLUMNS, org, id, changes, millis(now));
        let row = q.build().fetch_optional(&self.writer).await.map_err(backend)?;
        row.as_ref().map(facility).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn delete_facility(&self, org: Id, id: Id) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        check_removable(&mut tx, "facilities", org, id).await?;
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
        room_insert::<Sqlite, _>(r, millis)
            .build()
            .execute(&self.writer)
            .await
            .map_err(|e| map_ref_err(e, "A room with this id already exists."))?;
        Ok(())
    }

    async fn room(&self, org: Id, id: Id) -> Result<Option<Room>, StoreError> {
        let sql = format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE org_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.as_ref().map(room).transpose()
    }

    async fn list_rooms(&self, org: Id, facility: Id, req: &PageRequest) -> Result<Page<Room>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE org_id = "));
        q.push_bind(org.to_string());
        q.push(" AND facility_id = ").push_bind(facility.to_string());
        push_keyset(&mut q, "rooms", req);
        let rows = q.build().fetch_all(&self.reader).await.map_err(backend)?;
        Ok(Page::from_rows(rows.iter().map(room).collect::<Result<Vec<_>, _>>()?, req))
    }

    async fn update_room(
        &self,
        org: Id,
        id: Id,
        changes: &PlaceChanges,
        now: DateTime<Utc>,
    ) -> Result<Room, StoreError> {
        let mut q = place_update::<Sqlite, _>("rooms", ROOM_COLUMNS, org, id, changes, millis(now));
        let row = q.build().fetch_optional(&self.writer).await.map_err(backend)?;
        row.as_ref().map(room).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn delete_room(&self, org: Id, id: Id) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        check_removable(&mut tx, "rooms", org, id).await?;
        if exists(&mut tx, "SELECT 1 FROM live_sessions WHERE room_id = $1 AND state <> 'ended' LIMIT 1", id).await? {
            return Err(StoreError::Conflict(facility::IN_USE.into()));
        }
        sqlx::query("DELETE FROM rooms WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await.map_err(backend)?;
        tx.commit().await.map_err(backend)
    }
}
