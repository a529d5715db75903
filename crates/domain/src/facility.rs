//! Facilities (sites of an org) and their rooms, where sessions take place. A
//! session names a facility and, optionally, one of its rooms.
//!
//! What may be deleted ("not non-removable, not in use by a session that has not
//! ended") is checked atomically by the store; this module owns the objects, their
//! validation and [`resolve_place`], the rule that ties a session's room to its
//! facility.

use chrono::{DateTime, Utc};

use crate::text::parse_name;
use crate::{FieldError, Id};

/// The fields facilities and rooms can be sorted by; the first is the default.
pub const FACILITY_SORT_FIELDS: &[&str] = &["_id", "name", "created"];

/// The reason a non-removable facility or room is kept.
pub const NOT_REMOVABLE: &str = "This is marked non-removable (isRemovable is false).";
/// The reason a facility with a non-removable room is kept.
pub const ROOM_NOT_REMOVABLE: &str = "A room of this facility is marked non-removable.";
/// The reason a facility or room in use is kept.
pub const IN_USE: &str = "A session that has not ended uses it.";

/// A facility of an org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facility {
    /// The id.
    pub id: Id,
    /// The org.
    pub org: Id,
    /// The label.
    pub name: String,
    /// False keeps it from being deleted.
    pub is_removable: bool,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Last change.
    pub updated: DateTime<Utc>,
}

/// A room of a facility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    /// The id.
    pub id: Id,
    /// The org (the facility's).
    pub org: Id,
    /// The facility.
    pub facility: Id,
    /// The label.
    pub name: String,
    /// False keeps it from being deleted.
    pub is_removable: bool,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Last change.
    pub updated: DateTime<Utc>,
}

/// The validated changes of a facility or room PATCH.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlaceChanges {
    /// A new name.
    pub name: Option<String>,
    /// A new `isRemovable`.
    pub is_removable: Option<bool>,
}

impl PlaceChanges {
    /// Validates a requested name change.
    pub fn new(name: Option<String>, is_removable: Option<bool>) -> Result<Self, FieldError> {
        let name = name.map(|n| parse_name("name", &n)).transpose()?;
        Ok(Self { name, is_removable })
    }
}

impl Facility {
    /// A new facility (removable unless told otherwise).
    pub fn new(org: Id, name: &str, is_removable: Option<bool>, now: DateTime<Utc>) -> Result<Self, FieldError> {
        let name = parse_name("name", name)?;
        Ok(Self {
            id: Id::generate(now),
            org,
            name,
            is_removable: is_removable.unwrap_or(true),
            created: now,
            updated: now,
        })
    }
}

impl Room {
    /// A new room of `facility` (removable unless told otherwise).
    pub fn new(
        facility: &Facility,
        name: &str,
        is_removable: Option<bool>,
        now: DateTime<Utc>,
    ) -> Result<Self, FieldError> {
        let name = parse_name("name", name)?;
        Ok(Self {
            id: Id::generate(now),
            org: facility.org,
            facility: facility.id,
            name,
            is_removable: is_removable.unwrap_or(true),
            created: now,
            updated: now,
        })
    }
}

/// The facility and room of a session: a room must belong to the facility, and a
/// room alone implies its facility. `room` is the room the caller found (already
/// known to be in the session's org), `facility` the facility id requested.
pub fn resolve_place(facility: Option<Id>, room: Option<&Room>) -> Result<(Option<Id>, Option<Id>), FieldError> {
    match (facility, room) {
        (f, None) => Ok((f, None)),
        (None, Some(r)) => Ok((Some(r.facility), Some(r.id))),
        (Some(f), Some(r)) if r.facility == f => Ok((Some(f), Some(r.id))),
        (Some(_), Some(_)) => Err(FieldError::new("room", "This room is not in the session's facility.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Clock;

    #[test]
    fn a_room_belongs_to_its_facility() {
        let now = crate::SystemClock.now();
        let theatre = Facility::new(Id::from_u96(1), "St Mary's", None, now).unwrap();
        let other = Facility::new(Id::from_u96(1), "St John's", Some(false), now).unwrap();
        assert!(theatre.is_removable && !other.is_removable);
        let room = Room::new(&theatre, "Theatre 3", None, now).unwrap();
        assert_eq!(resolve_place(None, None).unwrap(), (None, None));
        assert_eq!(resolve_place(Some(other.id), None).unwrap(), (Some(other.id), None));
        assert_eq!(resolve_place(None, Some(&room)).unwrap(), (Some(theatre.id), Some(room.id)));
        assert_eq!(resolve_place(Some(theatre.id), Some(&room)).unwrap(), (Some(theatre.id), Some(room.id)));
        assert_eq!(resolve_place(Some(other.id), Some(&room)).unwrap_err().path, "room");
        assert!(Facility::new(Id::from_u96(1), "  ", None, now).is_err());
    }
}
