//! Access levels and who may read which org property.
//!
//! The levels are the seed platform's: 1 Public, 2 Connected (a pending connection),
//! 3 reserved, 4 Read, 5 Share, 6 Update, 7 Delete, 8 Script. An object's `access` is
//! the caller's resolved level on it; a caller never sees a property above its level.

use serde::Serialize;

/// A resolved access level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    /// Anyone with a client key.
    Public = 1,
    /// The holder of a pending connection (invitation).
    Connected = 2,
    /// Reserved by the seed platform.
    Reserved = 3,
    /// Any member.
    Read = 4,
    /// Members who may share.
    Share = 5,
    /// Members who may update.
    Update = 6,
    /// Administrators.
    Delete = 7,
    /// Scripts (and platform operators).
    Script = 8,
}

impl Level {
    /// The level as the number the API shows.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

impl Serialize for Level {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.as_u8())
    }
}

/// Every property of the org object with the level needed to read it (SPEC "Roles
/// and access"). Custom `c_…` properties carry their own read level.
pub const ORG_PROPERTIES: &[(&str, Level)] = &[
    ("_id", Level::Public),
    ("access", Level::Public),
    ("apps", Level::Delete),
    ("code", Level::Public),
    ("configuration", Level::Delete),
    ("connections", Level::Delete),
    ("country", Level::Read),
    ("created", Level::Read),
    ("deployment", Level::Delete),
    ("favicon", Level::Public),
    ("locale", Level::Public),
    ("logo", Level::Public),
    ("maintenance", Level::Public),
    ("maintenanceMessage", Level::Public),
    ("name", Level::Public),
    ("object", Level::Public),
    ("posts", Level::Read),
    ("registration", Level::Delete),
    ("roles", Level::Read),
    ("schemasETag", Level::Public),
    ("security", Level::Delete),
    ("shared", Level::Read),
    ("state", Level::Public),
    ("support", Level::Read),
    ("type", Level::Read),
    ("tz", Level::Public),
    ("updated", Level::Read),
    ("updater", Level::Delete),
    ("website", Level::Public),
];

/// The level needed to read a built-in org property; `None` for an unknown name.
pub fn org_property_read_level(name: &str) -> Option<Level> {
    ORG_PROPERTIES.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
}

/// The role ids a member effectively holds: its roles and, transitively, every
/// role they include (cycles are harmless here; they are refused on write).
pub fn effective_roles(held: &[crate::Id], roles: &[crate::org::Role]) -> Vec<crate::Id> {
    let mut out: Vec<crate::Id> = Vec::new();
    let mut stack: Vec<crate::Id> = held.to_vec();
    while let Some(id) = stack.pop() {
        if out.contains(&id) {
            continue;
        }
        out.push(id);
        if let Some(role) = roles.iter().find(|r| r.id == id) {
            stack.extend(role.include.iter().copied());
        }
    }
    out
}

/// The caller's access level on an org: 1 for a non-member (or a suspended one),
/// 4 for a member, 7 for anyone who holds Administrator (directly or included).
pub fn org_level(member_roles: Option<&[crate::Id]>, roles: &[crate::org::Role]) -> Level {
    match member_roles {
        None => Level::Public,
        Some(held) if effective_roles(held, roles).contains(&crate::org::ADMINISTRATOR) => Level::Delete,
        Some(_) => Level::Read,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_org_has_the_seeds_twenty_seven_properties_plus_type_and_country() {
        // Seed 001 lists 27 properties; SPEC adds the taxonomy fields type and country.
        assert_eq!(ORG_PROPERTIES.len(), 29);
        let public: Vec<_> = ORG_PROPERTIES.iter().filter(|(_, l)| *l == Level::Public).map(|(n, _)| *n).collect();
        assert_eq!(
            public,
            [
                "_id",
                "access",
                "code",
                "favicon",
                "locale",
                "logo",
                "maintenance",
                "maintenanceMessage",
                "name",
                "object",
                "schemasETag",
                "state",
                "tz",
                "website"
            ]
        );
        assert_eq!(org_property_read_level("security"), Some(Level::Delete));
        assert_eq!(org_property_read_level("nope"), None);
    }
}
