//! Facilities and their rooms as both databases store them: the column lists, the
//! row decoders, the inserts and the partial update of either; each backend binds
//! the times its own way.

use chrono::{DateTime, Utc};
use orgbase_domain::facility::{Facility, PlaceChanges, Room};
use orgbase_domain::{Id, StoreError};
use sqlx::{Database, Encode, QueryBuilder, Type};

use crate::cells::Cells;

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
/// facility or a room; `now` is bound as the dialect stores a time.
pub fn place_update<'a, DB, T>(
    table: &str,
    columns: &str,
    org: Id,
    id: Id,
    changes: &'a PlaceChanges,
    now: T,
) -> QueryBuilder<'a, DB>
where
    DB: Database,
    T: 'a + Encode<'a, DB> + Type<DB>,
    &'a String: Encode<'a, DB> + Type<DB>,
    bool: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
{
    let mut q = QueryBuilder::new(format!("UPDATE {table} SET updated = "));
    q.push_bind(now);
    if let Some(name) = &changes.name {
        q.push(", name = ").push_bind(name);
    }
    if let Some(removable) = changes.is_removable {
        q.push(", is_removable = ").push_bind(removable);
    }
    q.push(" WHERE org_id = ").push_bind(org.to_string());
    q.push(" AND id = ").push_bind(id.to_string());
    q.push(format_args!(" RETURNING {columns}"));
    q
}

/// `INSERT INTO facilities (…) VALUES (…)`; `time` turns a time into what the
/// dialect stores.
pub fn facility_insert<'a, DB, T>(f: &'a Facility, time: impl Fn(DateTime<Utc>) -> T) -> QueryBuilder<'a, DB>
where
    DB: Database,
    T: 'a + Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    &'a String: Encode<'a, DB> + Type<DB>,
    bool: Encode<'a, DB> + Type<DB>,
{
    let mut q = QueryBuilder::new(format!("INSERT INTO facilities ({FACILITY_COLUMNS}) VALUES ("));
    let mut values = q.separated(", ");
    values.push_bind(f.id.to_string());
    values.push_bind(f.org.to_string());
    values.push_bind(&f.name);
    values.push_bind(f.is_removable);
    values.push_bind(time(f.created));
    values.push_bind(time(f.updated));
    q.push(")");
    q
}

/// `INSERT INTO rooms (…) VALUES (…)`; `time` turns a time into what the dialect
/// stores.
pub fn room_insert<'a, DB, T>(r: &'a Room, time: impl Fn(DateTime<Utc>) -> T) -> QueryBuilder<'a, DB>
where
    DB: Database,
    T: 'a + Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    &'a String: Encode<'a, DB> + Type<DB>,
    bool: Encode<'a, DB> + Type<DB>,
{
    let mut q = QueryBuilder::new(format!("INSERT INTO rooms ({ROOM_COLUMNS}) VALUES ("));
    let mut values = q.separated(", ");
    values.push_bind(r.id.to_string());
    values.push_bind(r.org.to_string());
    values.push_bind(r.facility.to_string());
    values.push_bind(&r.name);
    values.push_bind(r.is_removable);
    values.push_bind(time(r.created));
    values.push_bind(time(r.updated));
    q.push(")");
    q
}
