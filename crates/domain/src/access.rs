//! THE access policy: who may read which org property, and who may do what to the
//! org's members, invitations, posts and schemas.
//!
//! The levels themselves are `crate::level`'s (the seed platform's 1 Public to
//! 8 Script). An object's `access` is the caller's resolved level on it; a caller
//! never sees a property above its level.

use crate::Id;
use crate::level::Level;
use crate::roles::{ADMINISTRATOR, Role};
use crate::schema::CustomProperty;

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

/// The org properties that the server keeps: no caller may write them.
pub const SERVER_KEPT: &[&str] = &[
    "_id",
    "access",
    "apps",
    "code",
    "connections",
    "created",
    "favicon",
    "logo",
    "object",
    "posts",
    "schemasETag",
    "shared",
    "state",
    "updated",
    "updater",
];

/// The role ids a member effectively holds: its roles and, transitively, every
/// role they include (cycles are harmless here; they are refused on write).
pub fn effective_roles(held: &[Id], roles: &[Role]) -> Vec<Id> {
    let mut out: Vec<Id> = Vec::new();
    let mut stack: Vec<Id> = held.to_vec();
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

/// How the caller relates to the org.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relation {
    /// No membership (or a suspended one), no pending invitation.
    Outsider,
    /// Holds a pending connection (invitation) to the org.
    Connected,
    /// An active member.
    Member,
}

/// The caller as the policy sees it: the relation and the effective roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// How the caller relates to the org.
    pub relation: Relation,
    /// Effective role ids (with includes), empty for non-members.
    pub roles: Vec<Id>,
}

impl Subject {
    /// A caller who is no member.
    pub fn outsider() -> Self {
        Self { relation: Relation::Outsider, roles: Vec::new() }
    }

    /// An active member holding `held`, in an org whose roles are `org_roles`.
    pub fn member(held: &[Id], org_roles: &[Role]) -> Self {
        Self { relation: Relation::Member, roles: effective_roles(held, org_roles) }
    }

    /// Holds a role, directly or through an include.
    pub fn has_role(&self, role: Id) -> bool {
        self.roles.contains(&role)
    }

    /// A logged-in non-member holding a pending invitation.
    pub fn connected() -> Self {
        Self { relation: Relation::Connected, roles: Vec::new() }
    }

    /// The caller's level on the org itself: 1 outsider, 2 connected, 4 member,
    /// 7 Administrator.
    pub fn org_level(&self) -> Level {
        match self.relation {
            Relation::Outsider => Level::Public,
            Relation::Connected => Level::Connected,
            Relation::Member if self.has_role(ADMINISTRATOR) => Level::Delete,
            Relation::Member => Level::Read,
        }
    }
}

/// What the caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Read it.
    Read,
    /// Make a new one.
    Create,
    /// Change it.
    Update,
    /// Remove it.
    Delete,
}

/// What the caller acts on.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// A property of the org: built in (`custom` is `None`) or declared.
    OrgProperty {
        /// The top-level property name.
        name: &'a str,
        /// The declaration of a `c_…` property.
        custom: Option<&'a CustomProperty>,
    },
    /// The org's custom property declarations (`/schemas/org`).
    Schema,
    /// A post of the org's feed; `own` when the caller wrote it.
    Post {
        /// The caller is the author.
        own: bool,
    },
    /// A member of the org; `own` when it is the caller's membership.
    Member {
        /// The caller is this member.
        own: bool,
    },
    /// An invitation of the org.
    Connection,
}

/// The policy's answer: the caller's resolved level on the target, and whether the
/// operation is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The resolved level.
    pub level: Level,
    /// Allowed or not.
    pub allowed: bool,
}

fn level_from(n: u8) -> Level {
    match n {
        0 | 1 => Level::Public,
        2 => Level::Connected,
        3 => Level::Reserved,
        4 => Level::Read,
        5 => Level::Share,
        6 => Level::Update,
        7 => Level::Delete,
        _ => Level::Script,
    }
}

/// THE access policy: one pure function of the caller, the target and the
/// operation. Every handler goes through it.
pub fn decide(subject: &Subject, target: Target<'_>, op: Operation) -> Decision {
    let base = subject.org_level();
    match target {
        Target::OrgProperty { custom: Some(def), .. } => {
            let granted = def
                .acl
                .iter()
                .filter(|e| subject.relation == Relation::Member && subject.has_role(e.target))
                .map(|e| level_from(e.allow))
                .max();
            let level = granted.map_or(base, |g| g.max(base));
            let needed = match op {
                Operation::Read => def.read_access,
                Operation::Create | Operation::Update | Operation::Delete => def.write_access,
            };
            Decision { level, allowed: level.as_u8() >= needed }
        }
        Target::OrgProperty { name, custom: None } => {
            let allowed = match op {
                Operation::Read => org_property_read_level(name).is_some_and(|needed| base >= needed),
                Operation::Create | Operation::Update | Operation::Delete => {
                    org_property_read_level(name).is_some() && !SERVER_KEPT.contains(&name) && base >= Level::Update
                }
            };
            Decision { level: base, allowed }
        }
        Target::Schema => {
            let allowed = match op {
                Operation::Read => base >= Level::Read,
                _ => base >= Level::Update,
            };
            Decision { level: base, allowed }
        }
        Target::Member { own } => {
            let allowed = match op {
                Operation::Read => base >= Level::Read,
                Operation::Create | Operation::Update => base >= Level::Delete,
                Operation::Delete => (own && base >= Level::Read) || base >= Level::Delete,
            };
            Decision { level: base, allowed }
        }
        Target::Connection => Decision { level: base, allowed: base >= Level::Delete },
        Target::Post { own } => {
            let allowed = match op {
                Operation::Read | Operation::Create => base >= Level::Read,
                Operation::Update => own && base >= Level::Read,
                Operation::Delete => (own && base >= Level::Read) || base >= Level::Delete,
            };
            Decision { level: base, allowed }
        }
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

/// The authorisation matrix, written out for review: every built-in role and a
/// non-member, against every org property (read and update) and every member and
/// invitation operation. `R` = may read, `U` = may update, `-` = neither.
#[cfg(test)]
mod matrix {
    use super::*;
    use crate::roles::{DEVELOPER, PROVIDER, SUPPORT, builtin_roles};

    fn subjects() -> Vec<(&'static str, Subject)> {
        let roles = builtin_roles();
        vec![
            ("non-member", Subject::outsider()),
            ("connected", Subject::connected()),
            ("member", Subject::member(&[], &roles)),
            ("provider", Subject::member(&[PROVIDER], &roles)),
            ("support", Subject::member(&[SUPPORT], &roles)),
            ("developer", Subject::member(&[DEVELOPER], &roles)),
            ("administrator", Subject::member(&[ADMINISTRATOR], &roles)),
        ]
    }

    /// Columns: non-member, connected, member, provider, support, developer, administrator.
    #[rustfmt::skip]
    const ORG_PROPERTY_MATRIX: &[(&str, [&str; 7])] = &[
        ("_id",                ["R", "R", "R", "R", "R", "R", "R"]),
        ("access",             ["R", "R", "R", "R", "R", "R", "R"]),
        ("apps",               ["-", "-", "-", "-", "-", "-", "R"]),
        ("code",               ["R", "R", "R", "R", "R", "R", "R"]),
        ("configuration",      ["-", "-", "-", "-", "-", "-", "RU"]),
        ("connections",        ["-", "-", "-", "-", "-", "-", "R"]),
        ("country",            ["-", "-", "R", "R", "R", "R", "RU"]),
        ("created",            ["-", "-", "R", "R", "R", "R", "R"]),
        ("deployment",         ["-", "-", "-", "-", "-", "-", "RU"]),
        ("favicon",            ["R", "R", "R", "R", "R", "R", "R"]),
        ("locale",             ["R", "R", "R", "R", "R", "R", "RU"]),
        ("logo",               ["R", "R", "R", "R", "R", "R", "R"]),
        ("maintenance",        ["R", "R", "R", "R", "R", "R", "RU"]),
        ("maintenanceMessage", ["R", "R", "R", "R", "R", "R", "RU"]),
        ("name",               ["R", "R", "R", "R", "R", "R", "RU"]),
        ("object",             ["R", "R", "R", "R", "R", "R", "R"]),
        ("posts",              ["-", "-", "R", "R", "R", "R", "R"]),
        ("registration",       ["-", "-", "-", "-", "-", "-", "RU"]),
        ("roles",              ["-", "-", "R", "R", "R", "R", "RU"]),
        ("schemasETag",        ["R", "R", "R", "R", "R", "R", "R"]),
        ("security",           ["-", "-", "-", "-", "-", "-", "RU"]),
        ("shared",             ["-", "-", "R", "R", "R", "R", "R"]),
        ("state",              ["R", "R", "R", "R", "R", "R", "R"]),
        ("support",            ["-", "-", "R", "R", "R", "R", "RU"]),
        ("type",               ["-", "-", "R", "R", "R", "R", "RU"]),
        ("tz",                 ["R", "R", "R", "R", "R", "R", "RU"]),
        ("updated",            ["-", "-", "R", "R", "R", "R", "R"]),
        ("updater",            ["-", "-", "-", "-", "-", "-", "R"]),
        ("website",            ["R", "R", "R", "R", "R", "R", "RU"]),
    ];

    /// Member and invitation operations: `Y` allowed, `-` refused.
    #[rustfmt::skip]
    const OPERATION_MATRIX: &[(&str, [&str; 7])] = &[
        ("read a member",             ["-", "-", "Y", "Y", "Y", "Y", "Y"]),
        ("change a member's roles",   ["-", "-", "-", "-", "-", "-", "Y"]),
        ("remove another member",     ["-", "-", "-", "-", "-", "-", "Y"]),
        ("leave (remove oneself)",    ["-", "-", "Y", "Y", "Y", "Y", "Y"]),
        ("invite (create connection)", ["-", "-", "-", "-", "-", "-", "Y"]),
        ("list connections",          ["-", "-", "-", "-", "-", "-", "Y"]),
        ("resend a connection",       ["-", "-", "-", "-", "-", "-", "Y"]),
        ("revoke a connection",       ["-", "-", "-", "-", "-", "-", "Y"]),
    ];

    fn operation(name: &str) -> (Target<'static>, Operation) {
        match name {
            "read a member" => (Target::Member { own: false }, Operation::Read),
            "change a member's roles" => (Target::Member { own: false }, Operation::Update),
            "remove another member" => (Target::Member { own: false }, Operation::Delete),
            "leave (remove oneself)" => (Target::Member { own: true }, Operation::Delete),
            "invite (create connection)" => (Target::Connection, Operation::Create),
            "list connections" => (Target::Connection, Operation::Read),
            "resend a connection" => (Target::Connection, Operation::Update),
            _ => (Target::Connection, Operation::Delete),
        }
    }

    #[test]
    fn every_role_against_every_org_property() {
        assert_eq!(ORG_PROPERTY_MATRIX.len(), ORG_PROPERTIES.len(), "every property is in the table");
        for (name, row) in ORG_PROPERTY_MATRIX {
            for ((who, subject), want) in subjects().iter().zip(row) {
                let target = Target::OrgProperty { name, custom: None };
                let read = decide(subject, target, Operation::Read).allowed;
                let update = decide(subject, target, Operation::Update).allowed;
                let got = format!("{}{}", if read { "R" } else { "" }, if update { "U" } else { "" });
                let got = if got.is_empty() { "-".to_owned() } else { got };
                assert_eq!(&got, want, "{who} on {name}");
            }
        }
    }

    #[test]
    fn every_role_against_every_member_and_invitation_operation() {
        for (name, row) in OPERATION_MATRIX {
            let (target, op) = operation(name);
            for ((who, subject), want) in subjects().iter().zip(row) {
                let got = if decide(subject, target, op).allowed { "Y" } else { "-" };
                assert_eq!(got, *want, "{who}: {name}");
            }
        }
    }

    #[test]
    fn the_org_level_of_each_role() {
        let levels: Vec<u8> = subjects().iter().map(|(_, s)| s.org_level().as_u8()).collect();
        assert_eq!(levels, [1, 2, 4, 4, 4, 4, 7]);
    }
}
