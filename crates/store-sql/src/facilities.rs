//! The `FacilityStore` impl: facilities and their rooms. A delete first reads the
//! row `FOR UPDATE` where writers run side by side (`lock_for_delete`): a session
//! that would take the facility or room meanwhile needs a share lock on that row
//! for its foreign key, so it waits until the delete is done, and the "in use"
//! check cannot be overtaken. SQLite's single writer gives this for free.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orgbase_domain::facility::{self as place, Facility, PlaceChanges, Room};
use orgbase_domain::paging::{Page, PageRequest};
use orgbase_domain::store::FacilityStore;
use orgbase_domain::{Id, StoreError};
use sqlx::QueryBuilder;

use crate::backend::{Backend, SqlStore};
use crate::bind::{built, sql};
use crate::cells::Cells;
use crate::dialect::Dialect;
use crate::error::{backend, map_ref_err};
use crate::paging::push_keyset;

/// The columns [`facility`] reads, in table order.
pub const FACILITY_COLUMNS: &str = "id, org_id, name, is_removable, created, updated";
/// The columns [`room`] reads, in table order.
pub const ROOM_COLUMNS: &str = "id, org_id, facility_id, name, is_removable, created, updated";

fn bad(what: &str, id: &str) -> StoreError {
    StoreError::Backend(format!("stored {what} {id}: bad value"))
}

/// Rebuilds a facility from a row of [`FACILITY_COLUMNS`].
pub fn facility(row: &impl Cells) -> Result<Facility, StoreError> {
    let id = row.text("id")?;
    Ok(Facility {
        id: Id::parse(id).ok_or_else(|| bad("facility", id))?,
        org: Id::parse(row.text("org_id")?).ok_or_else(|| bad("facility org", id))?,
        name: row.string("name")?,
        is_removable: row.flag("is_removable")?,
        created: row.time("created")?,
        updated: row.time("updated")?,
    })
}

/// Rebuilds a room from a row of [`ROOM_COLUMNS`].
pub fn room(row: &impl Cells) -> Result<Room, StoreError> {
    let id = row.text("id")?;
    Ok(Room {
        id: Id::parse(id).ok_or_else(|| bad("room", id))?,
        org: Id::parse(row.text("org_id")?).ok_or_else(|| bad("room org", id))?,
        facility: Id::parse(row.text("facility_id")?).ok_or_else(|| bad("room facility", id))?,
        name: row.string("name")?,
        is_removable: row.flag("is_removable")?,
        created: row.time("created")?,
        updated: row.time("updated")?,
    })
}

/// `UPDATE {table} SET … WHERE org_id = $ AND id = $ RETURNING {columns}`, for a
/// facility or a room.
fn place_update<'a, D: Dialect>(
    table: &str,
    columns: &str,
    org: Id,
    id: Id,
    changes: &PlaceChanges,
    now: DateTime<Utc>,
) -> QueryBuilder<'a, D> {
    let mut q = QueryBuilder::new(format!("UPDATE {table} SET updated = "));
    D::bind_time(&mut q, now);
    if let Some(name) = &changes.name {
        q.push(", name = ");
        D::bind_text(&mut q, name.clone());
    }
    if let Some(removable) = changes.is_removable {
        q.push(", is_removable = ");
        D::bind_flag(&mut q, removable);
    }
    q.push(" WHERE org_id = ");
    D::bind_text(&mut q, org.to_string());
    q.push(" AND id = ");
    D::bind_text(&mut q, id.to_string());
    q.push(format_args!(" RETURNING {columns}"));
    q
}

/// True when a query that selects `1` for the id `$1` finds a row.
async fn exists<D: Dialect>(conn: &mut D::Connection, query: &str, id: Id) -> Result<bool, StoreError> {
    Ok(sql::<D>(query).id(id).fetch_optional(conn).await.map_err(backend)?.is_some())
}

/// Says whether a facility or room row of `org` may be deleted, holding it (where
/// writers run side by side) until the transaction ends.
async fn lock_for_delete<D: Dialect>(conn: &mut D::Connection, table: &str, org: Id, id: Id) -> Result<(), StoreError> {
    let query = format!("SELECT is_removable FROM {table} WHERE org_id = $1 AND id = $2{}", D::FOR_UPDATE);
    let row = sql::<D>(&query).id(org).id(id).fetch_optional(conn).await.map_err(backend)?;
    match row.as_ref().map(|r| r.flag("is_removable")).transpose()? {
        None => Err(StoreError::NotFound),
        Some(false) => Err(StoreError::Conflict(place::NOT_REMOVABLE.into())),
        Some(true) => Ok(()),
    }
}

#[async_trait]
impl<B: Backend> FacilityStore for SqlStore<B> {
    async fn insert_facility(&self, f: &Facility) -> Result<(), StoreError> {
        let query = format!("INSERT INTO facilities ({FACILITY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)");
        let insert = sql::<B::Db>(&query).id(f.id).id(f.org).text(&f.name).flag(f.is_removable);
        insert
            .time(f.created)
            .time(f.updated)
            .execute(&mut *self.write().await?)
            .await
            .map_err(|e| map_ref_err(e, "A facility with this id already exists."))?;
        Ok(())
    }

    async fn facility(&self, org: Id, id: Id) -> Result<Option<Facility>, StoreError> {
        let query = format!("SELECT {FACILITY_COLUMNS} FROM facilities WHERE org_id = $1 AND id = $2");
        let row = sql::<B::Db>(&query).id(org).id(id).fetch_optional(&mut *self.read().await?).await;
        row.map_err(backend)?.as_ref().map(facility).transpose()
    }

    async fn list_facilities(&self, org: Id, req: &PageRequest) -> Result<Page<Facility>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {FACILITY_COLUMNS} FROM facilities WHERE org_id = "));
        B::Db::bind_text(&mut q, org.to_string());
        push_keyset(&mut q, "facilities", req);
        let rows = built(&mut q).fetch_all(&mut *self.read().await?).await.map_err(backend)?;
        Ok(Page::from_rows(rows.iter().map(facility).collect::<Result<Vec<_>, _>>()?, req))
    }

    async fn update_facility(
        &self,
        org: Id,
        id: Id,
        changes: &PlaceChanges,
        now: DateTime<Utc>,
    ) -> Result<Facility, StoreError> {
        let mut q = place_update::<B::Db>("facilities", FACILITY_COLUMNS, org, id, changes, now);
        let row = built(&mut q).fetch_optional(&mut *self.write().await?).await.map_err(backend)?;
        row.as_ref().map(facility).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn delete_facility(&self, org: Id, id: Id) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        lock_for_delete::<B::Db>(&mut tx, "facilities", org, id).await?;
        let fixed_room = "SELECT 1 AS found FROM rooms WHERE facility_id = $1 AND NOT is_removable LIMIT 1";
        if exists::<B::Db>(&mut tx, fixed_room, id).await? {
            return Err(StoreError::Conflict(place::ROOM_NOT_REMOVABLE.into()));
        }
        let in_use = "SELECT 1 AS found FROM live_sessions WHERE facility_id = $1 AND state <> 'ended' LIMIT 1";
        if exists::<B::Db>(&mut tx, in_use, id).await? {
            return Err(StoreError::Conflict(place::IN_USE.into()));
        }
        sql::<B::Db>("DELETE FROM facilities WHERE id = $1").id(id).execute(&mut tx).await.map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn insert_room(&self, r: &Room) -> Result<(), StoreError> {
        let query = format!("INSERT INTO rooms ({ROOM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
        let insert = sql::<B::Db>(&query).id(r.id).id(r.org).id(r.facility).text(&r.name);
        insert
            .flag(r.is_removable)
            .time(r.created)
            .time(r.updated)
            .execute(&mut *self.write().await?)
            .await
            .map_err(|e| map_ref_err(e, "A room with this id already exists."))?;
        Ok(())
    }

    async fn room(&self, org: Id, id: Id) -> Result<Option<Room>, StoreError> {
        let query = format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE org_id = $1 AND id = $2");
        let row = sql::<B::Db>(&query).id(org).id(id).fetch_optional(&mut *self.read().await?).await;
        row.map_err(backend)?.as_ref().map(room).transpose()
    }

    async fn list_rooms(&self, org: Id, facility: Id, req: &PageRequest) -> Result<Page<Room>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE org_id = "));
        B::Db::bind_text(&mut q, org.to_string());
        q.push(" AND facility_id = ");
        B::Db::bind_text(&mut q, facility.to_string());
        push_keyset(&mut q, "rooms", req);
        let rows = built(&mut q).fetch_all(&mut *self.read().await?).await.map_err(backend)?;
        Ok(Page::from_rows(rows.iter().map(room).collect::<Result<Vec<_>, _>>()?, req))
    }

    async fn update_room(
        &self,
        org: Id,
        id: Id,
        changes: &PlaceChanges,
        now: DateTime<Utc>,
    ) -> Result<Room, StoreError> {
        let mut q = place_update::<B::Db>("rooms", ROOM_COLUMNS, org, id, changes, now);
        let row = built(&mut q).fetch_optional(&mut *self.write().await?).await.map_err(backend)?;
        row.as_ref().map(room).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn delete_room(&self, org: Id, id: Id) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        lock_for_delete::<B::Db>(&mut tx, "rooms", org, id).await?;
        let in_use = "SELECT 1 AS found FROM live_sessions WHERE room_id = $1 AND state <> 'ended' LIMIT 1";
        if exists::<B::Db>(&mut tx, in_use, id).await? {
            return Err(StoreError::Conflict(place::IN_USE.into()));
        }
        sql::<B::Db>("DELETE FROM rooms WHERE id = $1").id(id).execute(&mut tx).await.map_err(backend)?;
        tx.commit().await.map_err(backend)
    }
}
