//! The roles of one org: the built-in ones and its custom ones, and the lookups
//! that name them. What a role is, and the built-in ones, are `crate::roles`'s.

use super::Org;
use crate::roles::{ADMINISTRATOR, Role, builtin_roles, find_role};
use crate::{FieldError, Id};

impl Org {
    /// Resolves role names, codes or ids (`administrator`, `Provider`,
    /// `000000000000000000000005`) to role ids; unknown ones are errors at `path`.
    pub fn resolve_roles(&self, path: &str, names: &[String]) -> Result<Vec<Id>, FieldError> {
        let roles = self.roles();
        let mut out = Vec::new();
        for name in names {
            let wanted = name.trim();
            match find_role(&roles, wanted) {
                Some(role) if !out.contains(&role.id) => out.push(role.id),
                Some(_) => {}
                None => return Err(FieldError::new(path, format!("'{wanted}' is not a role of this org."))),
            }
        }
        Ok(out)
    }

    /// The ids of every role that makes its holder an Administrator (the built-in
    /// one and custom roles that include it).
    pub fn admin_role_ids(&self) -> Vec<Id> {
        let roles = self.roles();
        roles
            .iter()
            .filter(|r| crate::access::effective_roles(&[r.id], &roles).contains(&ADMINISTRATOR))
            .map(|r| r.id)
            .collect()
    }

    /// Every role of the org: the built-in ones, then the custom ones.
    pub fn roles(&self) -> Vec<Role> {
        let mut roles = builtin_roles();
        roles.extend(self.props.roles.iter().cloned());
        roles
    }
}
