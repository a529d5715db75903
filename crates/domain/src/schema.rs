//! Custom org properties (`c_…`): their declarations and the checks of their values.
//!
//! An admin declares one with a type, whether it is an array, a `maxItems`, the
//! levels needed to read and write it, and an ACL that can grant roles more than
//! their level (`{type: "role", target: "provider", allow: 6}`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::level::Level;
use crate::roles::{Role, find_role};
use crate::{FieldError, Id};

/// The value type of a custom property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PropertyType {
    /// UTF-8 text.
    String,
    /// A JSON number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// An RFC 3339 date-time string.
    Date,
    /// A JSON object.
    Document,
}

/// One ACL entry: members holding role `target` get level `allow` on the property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclEntry {
    /// Always `role`.
    #[serde(rename = "type")]
    pub kind: AclKind,
    /// The role id (a code or name is resolved to the id on declaration).
    pub target: Id,
    /// The level granted (1–8).
    pub allow: u8,
}

/// The kinds of ACL entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AclKind {
    /// Holders of a role.
    Role,
}

/// A declared custom property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomProperty {
    /// `c_` then letters, digits or `_`.
    pub name: String,
    /// The value type.
    #[serde(rename = "type")]
    pub kind: PropertyType,
    /// Holds an array of `kind`.
    #[serde(default)]
    pub array: bool,
    /// The most items an array may hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<u32>,
    /// The level needed to read it (default 4).
    #[serde(default = "default_read")]
    pub read_access: u8,
    /// The level needed to write it (default 6).
    #[serde(default = "default_write")]
    pub write_access: u8,
    /// Grants beyond the caller's level.
    #[serde(default)]
    pub acl: Vec<AclEntry>,
}

fn default_read() -> u8 {
    Level::Read.as_u8()
}

fn default_write() -> u8 {
    Level::Update.as_u8()
}

/// The largest array a custom property may hold, whatever its `maxItems`.
pub const MAX_ITEMS_LIMIT: u32 = 10_000;

/// The body of a declaration, before role names are resolved.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeclareProperty {
    /// The name.
    pub name: String,
    /// The value type.
    #[serde(rename = "type")]
    pub kind: PropertyType,
    /// An array of `kind`.
    #[serde(default)]
    pub array: bool,
    /// The most items.
    #[serde(default, deserialize_with = "crate::whole::optional")]
    pub max_items: Option<u32>,
    /// Level to read (default 4).
    #[serde(default, deserialize_with = "crate::whole::optional")]
    pub read_access: Option<u8>,
    /// Level to write (default 6).
    #[serde(default, deserialize_with = "crate::whole::optional")]
    pub write_access: Option<u8>,
    /// ACL entries; `target` may be a role id, code or name.
    #[serde(default)]
    pub acl: Vec<DeclareAclEntry>,
}

/// An ACL entry of a declaration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclareAclEntry {
    /// Always `role`.
    #[serde(rename = "type")]
    pub kind: AclKind,
    /// A role id, code or name.
    pub target: String,
    /// The level granted (1–8).
    #[serde(deserialize_with = "crate::whole::number")]
    pub allow: u8,
}

fn valid_level(n: u8) -> bool {
    (1..=8).contains(&n)
}

impl DeclareProperty {
    /// Validates a declaration against the org's roles and existing properties.
    pub fn validate(self, roles: &[Role], existing: &[CustomProperty]) -> Result<CustomProperty, Vec<FieldError>> {
        let mut faults = Vec::new();
        let name_ok = self.name.len() > 2
            && self.name.len() <= 64
            && self.name.starts_with("c_")
            && self.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !name_ok {
            faults
                .push(FieldError::new("name", "A custom property is named c_ then letters, digits or _ (at most 64)."));
        }
        if existing.iter().any(|p| p.name == self.name) {
            faults.push(FieldError::new("name", "A property with this name already exists."));
        }
        if existing.len() >= crate::limits::MAX_CUSTOM_PROPERTIES {
            faults.push(FieldError::new(
                "name",
                format!("An org declares at most {} custom properties.", crate::limits::MAX_CUSTOM_PROPERTIES),
            ));
        }
        if let Some(max) = self.max_items {
            if !self.array {
                faults.push(FieldError::new("maxItems", "maxItems applies to arrays."));
            } else if max == 0 || max > MAX_ITEMS_LIMIT {
                faults.push(FieldError::new("maxItems", format!("maxItems is 1 to {MAX_ITEMS_LIMIT}.")));
            }
        }
        let read_access = self.read_access.unwrap_or_else(default_read);
        let write_access = self.write_access.unwrap_or_else(default_write);
        if !valid_level(read_access) {
            faults.push(FieldError::new("readAccess", "An access level is 1 to 8."));
        }
        if !valid_level(write_access) {
            faults.push(FieldError::new("writeAccess", "An access level is 1 to 8."));
        }
        let mut acl = Vec::new();
        for (i, entry) in self.acl.into_iter().enumerate() {
            let wanted = entry.target.trim();
            match find_role(roles, wanted) {
                Some(role) if valid_level(entry.allow) => {
                    acl.push(AclEntry { kind: entry.kind, target: role.id, allow: entry.allow });
                }
                Some(_) => faults.push(FieldError::new(format!("acl.{i}.allow"), "An access level is 1 to 8.")),
                None => faults
                    .push(FieldError::new(format!("acl.{i}.target"), format!("'{wanted}' is not a role of this org."))),
            }
        }
        if !faults.is_empty() {
            return Err(faults);
        }
        Ok(CustomProperty {
            name: self.name,
            kind: self.kind,
            array: self.array,
            max_items: self.max_items,
            read_access,
            write_access,
            acl,
        })
    }
}

impl CustomProperty {
    /// Checks a value against the declaration; errors name `path`.
    pub fn check(&self, value: &Value) -> Result<(), FieldError> {
        let item_ok = |v: &Value| match self.kind {
            PropertyType::String => v.is_string(),
            PropertyType::Number => v.is_number(),
            PropertyType::Boolean => v.is_boolean(),
            PropertyType::Date => v.as_str().is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
            PropertyType::Document => v.is_object(),
        };
        let kind = serde_json::to_value(self.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        if self.array {
            let Some(items) = value.as_array() else {
                return Err(FieldError::new(&self.name, format!("{} is an array of {kind}.", self.name)));
            };
            let max = self.max_items.unwrap_or(MAX_ITEMS_LIMIT);
            if items.len() > max as usize {
                return Err(FieldError::new(&self.name, format!("{} holds at most {max} items.", self.name)));
            }
            if let Some(i) = items.iter().position(|v| !item_ok(v)) {
                return Err(FieldError::new(
                    format!("{}.{i}", self.name),
                    format!("Each item of {} is a {kind}.", self.name),
                ));
            }
            Ok(())
        } else if value.is_null() || item_ok(value) {
            Ok(())
        } else {
            Err(FieldError::new(&self.name, format!("{} is a {kind}.", self.name)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roles::builtin_roles;
    use serde_json::json;

    fn declare(body: Value) -> Result<CustomProperty, Vec<FieldError>> {
        serde_json::from_value::<DeclareProperty>(body).unwrap().validate(&builtin_roles(), &[])
    }

    #[test]
    fn the_seeds_c_4providers_declares_and_checks_numbers() {
        let p = declare(json!({"name": "c_4providers", "type": "number", "array": true, "maxItems": 20,
            "acl": [{"type": "role", "target": "provider", "allow": 6}]}))
        .unwrap();
        assert_eq!(p.acl[0].target, crate::roles::PROVIDER);
        assert_eq!((p.read_access, p.write_access), (4, 6));
        assert!(p.check(&json!([-5, -4, 0, 55])).is_ok());
        assert_eq!(p.check(&json!([1, "x"])).unwrap_err().path, "c_4providers.1");
        assert!(p.check(&json!(1)).is_err());
        assert!(p.check(&json!(vec![1; 21])).is_err());
    }

    #[test]
    fn bad_declarations_report_every_field() {
        let faults = declare(json!({"name": "nope", "type": "string", "maxItems": 3, "readAccess": 9,
            "acl": [{"type": "role", "target": "ghost", "allow": 6}]}))
        .unwrap_err();
        let paths: Vec<_> = faults.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["name", "maxItems", "readAccess", "acl.0.target"]);
    }
}
