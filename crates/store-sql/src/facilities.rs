//! Facilities and their rooms as both databases store them: the column lists, the
//! row decoders and the partial update of either.

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
