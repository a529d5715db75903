//! Roles: the built-in ones with the seed platform's fixed ids, custom roles as an
//! org declares them (`org.roles`), looking a role up by id, code or name, and the
//! checks of custom role declarations.
//!
//! Which roles an org has is the org's (`Org::roles`); what a role may do is
//! `crate::access`'s.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::{FieldError, Id, limits};

/// A role: built in, or custom in `org.roles`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Role {
    /// Fixed for built-in roles.
    #[serde(rename = "_id")]
    pub id: Id,
    /// A label.
    pub name: String,
    /// A unique code (`administrator`).
    pub code: String,
    /// Roles whose rights this one also has.
    #[serde(default)]
    pub include: Vec<Id>,
}

/// The built-in Administrator role.
pub const ADMINISTRATOR: Id = Id::from_u96(4);
/// The built-in Provider role.
pub const PROVIDER: Id = Id::from_u96(5);
/// The built-in Support role.
pub const SUPPORT: Id = Id::from_u96(6);
/// The built-in Developer role.
pub const DEVELOPER: Id = Id::from_u96(7);

/// The built-in roles, made once.
pub(crate) static BUILTIN_ROLES: LazyLock<Vec<Role>> = LazyLock::new(make_builtin_roles);

/// The built-in roles, with the seed platform's fixed ids.
pub fn builtin_roles() -> Vec<Role> {
    BUILTIN_ROLES.clone()
}

fn make_builtin_roles() -> Vec<Role> {
    let role = |n: u32, name: &str, include: Vec<Id>| Role {
        id: Id::from_u96(n),
        name: name.to_owned(),
        code: name.to_lowercase(),
        include,
    };
    vec![
        role(4, "Administrator", vec![DEVELOPER, SUPPORT]),
        role(5, "Provider", vec![]),
        role(6, "Support", vec![]),
        role(7, "Developer", vec![]),
    ]
}

/// The role of `roles` that `wanted` names: its id, or its code or name in any case.
pub fn find_role<'a>(roles: &'a [Role], wanted: &str) -> Option<&'a Role> {
    roles.iter().find(|r| {
        Id::parse(wanted) == Some(r.id) || r.code.eq_ignore_ascii_case(wanted) || r.name.eq_ignore_ascii_case(wanted)
    })
}

/// Custom roles: unique ids and codes apart from the built-in ones, includes that
/// name existing roles, and no include cycles.
pub fn check_custom_roles(custom: &[Role]) -> Vec<FieldError> {
    let mut faults = Vec::new();
    if custom.len() > limits::MAX_ROLES {
        return vec![FieldError::new("roles", format!("An org has at most {} custom roles.", limits::MAX_ROLES))];
    }
    let builtin = builtin_roles();
    let mut all = builtin.clone();
    all.extend(custom.iter().cloned());
    for (i, role) in custom.iter().enumerate() {
        let path = format!("roles.{i}");
        if builtin.iter().any(|b| b.id == role.id || b.code.eq_ignore_ascii_case(&role.code)) {
            faults.push(FieldError::new(&path, "Built-in roles cannot be redefined."));
        }
        if custom.iter().filter(|r| r.id == role.id || r.code.eq_ignore_ascii_case(&role.code)).count() > 1 {
            faults.push(FieldError::new(&path, "Role ids and codes are unique."));
        }
        if role.include.len() > limits::MAX_ROLES {
            faults.push(FieldError::new(format!("{path}.include"), "A role includes at most 100 roles."));
        }
        if role.name.trim().is_empty()
            || role.name.chars().count() > 100
            || role.name.chars().any(char::is_control)
            || role.code.is_empty()
            || role.code.len() > 64
            || !role.code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            faults.push(FieldError::new(
                &path,
                "A role has a name of 1-100 characters and a code of 1-64 letters, digits, _ or -.",
            ));
        }
        for inc in &role.include {
            if !all.iter().any(|r| r.id == *inc) {
                faults.push(FieldError::new(format!("{path}.include"), format!("{inc} is not a role.")));
            }
        }
        if reaches(&all, role.id, role.id) {
            faults
                .push(FieldError::new(format!("{path}.include"), "Roles cannot include themselves, directly or not."));
        }
    }
    faults
}

/// True when `from` includes `to` through one or more steps.
fn reaches(all: &[Role], from: Id, to: Id) -> bool {
    let mut seen = Vec::new();
    let mut stack: Vec<Id> = all.iter().find(|r| r.id == from).map(|r| r.include.clone()).unwrap_or_default();
    while let Some(id) = stack.pop() {
        if id == to {
            return true;
        }
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        if let Some(r) = all.iter().find(|r| r.id == id) {
            stack.extend(r.include.iter().copied());
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_role_cycles_are_refused() {
        let a = Role { id: Id::from_u96(100), name: "A".into(), code: "a".into(), include: vec![Id::from_u96(101)] };
        let b = Role { id: Id::from_u96(101), name: "B".into(), code: "b".into(), include: vec![Id::from_u96(100)] };
        assert!(!check_custom_roles(&[a.clone(), b]).is_empty());
        let ok = Role { include: vec![PROVIDER], ..a };
        assert!(check_custom_roles(&[ok]).is_empty());
    }
}
