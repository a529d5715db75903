//! The organisation object: its code, its state, creation, and the change of its
//! properties by PATCH ops under the access policy.
//!
//! The stored form is [`OrgProps`], one JSON document per org whose keys are exactly
//! the writable properties (built-in and custom `c_…`); server-kept fields (`_id`,
//! `created`, `updated`, `updater`, `state`, the version) live beside it. The
//! properties and their checks are in `props`, the rendering for a viewer in `view`,
//! the org's roles in `roles`. Shared basics (dates, names, roles, access levels)
//! are modules of their own below this one.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::access::{Operation, SERVER_KEPT, Subject, Target, decide, org_property_read_level};
use crate::patch::{Op, apply};
use crate::schema::CustomProperty;
use crate::text::{parse_locale, parse_name, parse_tz};
use crate::{DomainError, FieldError, Id};

#[cfg(test)]
mod fixtures;
mod props;
mod roles;
mod view;

pub use props::{Configuration, Deployment, EmailConfiguration, OrgProps, Registration, Security, Support};
pub use view::{OrgView, Viewer, select_paths};

/// An org's unique code: lowercase ASCII letters, digits and `-`, 2–40 characters,
/// starting with a letter. Immutable after creation; it is the first URL segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct OrgCode(String);

/// Codes that would shadow orgbase's own top-level routes.
const RESERVED_CODES: &[&str] =
    &["platform", "healthz", "readyz", "metrics", "openapi", "api", "v2", "assets", "console", "admin"];

impl OrgCode {
    /// Validates a code.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let ok_len = (2..=40).contains(&s.len());
        let ok_start = s.as_bytes().first().is_some_and(u8::is_ascii_lowercase);
        let ok_chars = s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !(ok_len && ok_start && ok_chars) {
            return Err(FieldError::new(
                "code",
                "A code is 2-40 lowercase letters, digits and '-', starting with a letter.",
            ));
        }
        if RESERVED_CODES.contains(&s) {
            return Err(FieldError::new("code", "This code is reserved."));
        }
        Ok(Self(s.to_owned()))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The org's state. A disabled org answers only platform operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrgState {
    /// Serving.
    Enabled,
    /// Refusing everyone but platform operators.
    Disabled,
}

impl OrgState {
    /// The state as stored and rendered.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
        }
    }

    /// Parses `enabled` or `disabled`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "enabled" => Some(Self::Enabled),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }
}

/// An organisation as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Org {
    /// The id.
    pub id: Id,
    /// The unique code.
    pub code: OrgCode,
    /// Enabled or disabled.
    pub state: OrgState,
    /// Bumped by every write; the ETag derives from it.
    pub version: i64,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Last update.
    pub updated: DateTime<Utc>,
    /// The account that made the last update.
    pub updater: Option<Id>,
    /// The writable properties.
    pub props: OrgProps,
    /// The declared custom properties.
    pub schema: Vec<CustomProperty>,
}

/// The input of org creation.
#[derive(Debug, Clone)]
pub struct NewOrg {
    /// The code.
    pub code: String,
    /// The label.
    pub name: String,
    /// The locale; `en_US` when absent.
    pub locale: Option<String>,
    /// The time zone.
    pub tz: Option<String>,
}

impl Org {
    /// Builds a new org from validated input, or every field error at once.
    pub fn create(new: NewOrg, now: DateTime<Utc>) -> Result<Self, Vec<FieldError>> {
        let mut faults = Vec::new();
        let code = OrgCode::parse(&new.code).map_err(|e| faults.push(e)).ok();
        let name = parse_name("name", &new.name).map_err(|e| faults.push(e)).ok();
        let locale = parse_locale("locale", new.locale.as_deref().unwrap_or("en_US")).map_err(|e| faults.push(e)).ok();
        let tz = match new.tz.as_deref() {
            Some(tz) => parse_tz("tz", tz).map(Some).map_err(|e| faults.push(e)).ok().flatten(),
            None => None,
        };
        let (Some(code), Some(name), Some(locale)) = (code, name, locale) else {
            return Err(faults);
        };
        if !faults.is_empty() {
            return Err(faults);
        }
        let id = Id::generate(now);
        Ok(Self {
            id,
            code,
            state: OrgState::Enabled,
            version: 1,
            created: now,
            updated: now,
            updater: None,
            props: OrgProps {
                name,
                locale,
                tz,
                website: None,
                maintenance: false,
                maintenance_message: None,
                org_type: None,
                country: None,
                logo: None,
                favicon: None,
                configuration: Configuration::default(),
                registration: Registration::default(),
                security: Security::default(),
                support: Support::default(),
                deployment: Deployment::default(),
                roles: Vec::new(),
                schemas_etag: crate::secret::token()[..32].to_owned(),
                custom: BTreeMap::new(),
            },
            schema: Vec::new(),
        })
    }

    /// The next version of the org: `props` and `schema` written by `updater` at
    /// `at` (without copying the properties it replaces).
    #[must_use]
    pub fn next(&self, props: OrgProps, schema: Vec<CustomProperty>, updater: Option<Id>, at: DateTime<Utc>) -> Self {
        Self {
            id: self.id,
            code: self.code.clone(),
            state: self.state,
            version: self.version + 1,
            created: self.created,
            updated: at,
            updater,
            props,
            schema,
        }
    }

    /// The properties after `ops`, checked against the schemas and the policy: a
    /// server-kept or unknown property is a validation error, a property the
    /// subject may not update is `AccessDenied`, and an invalid result reports every
    /// field at fault. Nothing is stored here. The ops run on a JSON document of the
    /// properties they touch; the others are carried over as they are.
    pub fn patched(&self, ops: &[Op], subject: &Subject) -> Result<OrgProps, DomainError> {
        let mut roots = self.check_ops(ops, subject)?;
        roots.sort_unstable();
        let entries = self.props.entries();
        let mut doc: Map<String, Value> = entries
            .iter()
            .filter(|(k, _)| roots.contains(k))
            .map(|(k, prop)| ((*k).to_owned(), serde_json::to_value(prop).unwrap_or_default()))
            .collect();
        for op in ops {
            apply(&mut doc, op).map_err(|e| DomainError::Validation(vec![e]))?;
        }
        let mut props = self.props.clone();
        for root in roots {
            props.set(root, doc.remove(root)).map_err(|e| DomainError::Validation(vec![e]))?;
        }
        let faults = props.validate(&self.roles(), &self.schema);
        if faults.is_empty() { Ok(props) } else { Err(DomainError::Validation(faults)) }
    }

    /// The top-level properties `ops` touch, once each, when the subject may update
    /// every one of them: a server-kept or unknown property is a validation error,
    /// one the subject may not update `AccessDenied`. Cheap, so that a write can be
    /// refused before it waits for the writer, and checked again on the org the
    /// write applies to.
    pub fn check_ops<'o>(&self, ops: &'o [Op], subject: &Subject) -> Result<Vec<&'o str>, DomainError> {
        let mut faults = Vec::new();
        let mut roots: Vec<&str> = Vec::new();
        for root in ops.iter().flat_map(Op::roots) {
            let custom = self.schema.iter().find(|p| p.name == root);
            if SERVER_KEPT.contains(&root) {
                faults.push(FieldError::new(root, format!("{root} is kept by the server and cannot be written.")));
            } else if custom.is_none() && org_property_read_level(root).is_none() {
                faults.push(FieldError::new(root, format!("{root} is not a property of the org.")));
            } else if !decide(subject, Target::OrgProperty { name: root, custom }, Operation::Update).allowed {
                return Err(DomainError::AccessDenied {
                    path: Some(root.to_owned()),
                    reason: format!("You may not update {root}."),
                });
            } else if !roots.contains(&root) {
                roots.push(root);
            }
        }
        if faults.is_empty() { Ok(roots) } else { Err(DomainError::Validation(faults)) }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::org::fixtures::{admin, example, ops, populated, provider, with_c_4providers};

    #[test]
    fn an_admin_patches_and_the_result_is_validated() {
        let org = example();
        let props = org
            .patched(
                &ops(json!({"op": "push", "path": "/configuration/email/locationBypass", "value": "john@medable.com"})),
                &admin(),
            )
            .unwrap();
        assert_eq!(props.configuration.email.location_bypass, ["john@medable.com"]);
        let err = org.patched(
            &ops(json!({"op": "push", "path": "configuration.email.locationBypass", "value": "nope"})),
            &admin(),
        );
        let DomainError::Validation(faults) = err.unwrap_err() else { panic!() };
        assert_eq!(faults[0].path, "configuration.email.locationBypass.0");
        let err = org.patched(&ops(json!({"op": "set", "path": "security.bogus", "value": 1})), &admin()).unwrap_err();
        assert!(matches!(err, DomainError::Validation(_)));
        let err = org.patched(&ops(json!({"op": "set", "path": "created", "value": "x"})), &admin()).unwrap_err();
        let DomainError::Validation(faults) = err else { panic!() };
        assert_eq!(faults[0].path, "created");
    }

    #[test]
    fn a_provider_updates_its_custom_property_but_not_the_name() {
        let org = with_c_4providers();
        let props =
            org.patched(&ops(json!({"op": "set", "path": "c_4providers", "value": [1, 2]})), &provider()).unwrap();
        assert_eq!(props.custom["c_4providers"], json!([1, 2]));
        let err = org.patched(&ops(json!({"op": "set", "path": "name", "value": "X"})), &provider()).unwrap_err();
        assert!(matches!(err, DomainError::AccessDenied { path: Some(p), .. } if p == "name"));
        let map = org.render(Viewer::Caller(&Subject::outsider()), &[], false);
        assert!(!map.contains_key("c_4providers"), "custom properties need Read by default");
    }

    #[test]
    fn org_codes_follow_the_rules() {
        for ok in ["example", "ab", "a1-b2", &"a".repeat(40)] {
            assert!(OrgCode::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "Example", "1abc", "-abc", "ex ample", "ex_ample", &"a".repeat(41), "platform", "été"] {
            assert!(OrgCode::parse(bad).is_err(), "{bad}");
        }
    }

    /// `patched` as it was: every op on the whole stored document, read back whole.
    fn patched_whole(org: &Org, ops: &[Op]) -> Result<OrgProps, Vec<FieldError>> {
        let Value::Object(mut doc) = org.props.to_value() else { unreachable!() };
        for op in ops {
            apply(&mut doc, op).map_err(|e| vec![e])?;
        }
        let props = OrgProps::from_value(Value::Object(doc))?;
        let faults = props.validate(&org.roles(), &org.schema);
        if faults.is_empty() { Ok(props) } else { Err(faults) }
    }

    #[test]
    fn ops_on_the_properties_they_touch_give_what_ops_on_the_whole_document_give() {
        let org = populated();
        let bodies = [
            json!({"op": "set", "path": "name", "value": "Renamed"}),
            json!([{"op": "set", "path": "name", "value": "A"}, {"op": "set", "path": "name", "value": "B"}]),
            json!({"op": "set", "value": {"tz": "US/Pacific", "maintenance": true, "country": "FRA"}}),
            json!({"op": "unset", "value": {"tz": 1, "website": 1, "maintenanceMessage": 1}}),
            json!({"op": "remove", "path": "type"}),
            json!({"op": "push", "path": "configuration.email.locationBypass", "value": ["a@b.example", "c@d.example"]}),
            json!({"op": "pull", "path": "c_4providers", "value": 1}),
            json!({"op": "remove", "path": "c_note"}),
            json!({"op": "set", "path": "c_note", "value": "bye"}),
            json!({"op": "set", "path": "security/sessionTtl", "value": 3600}),
            json!({"op": "set", "path": "security", "value": {"sessionTtl": 60}}),
            json!({"op": "set", "path": "registration.defaultRoles", "value": ["000000000000000000000005"]}),
            json!({"op": "push", "path": "roles", "value": {"_id": "000000000000000000000065", "name": "Aide", "code": "aide"}}),
            json!({"op": "unset", "value": {"security": 1, "support": 1, "deployment": 1, "registration": 1}}),
            json!({"op": "set", "path": "maintenance", "value": {"on": true}}),
            json!({"op": "set", "path": "tz", "value": []}),
            json!({"op": "set", "path": "name", "value": 5}),
            json!({"op": "set", "path": "security.sessionTtl", "value": "long"}),
            json!({"op": "set", "path": "security.bogus", "value": 1}),
            json!({"op": "set", "path": "website", "value": "ftp://nope"}),
            json!({"op": "set", "path": "c_4providers", "value": "not numbers"}),
            json!({"op": "push", "path": "name", "value": "x"}),
            json!({"op": "set", "path": "tz", "value": "Mars/Olympus"}),
        ];
        for body in bodies {
            let ops = ops(body.clone());
            let touched = org.patched(&ops, &admin()).map_err(|e| match e {
                DomainError::Validation(faults) => faults,
                other => panic!("{body}: {other:?}"),
            });
            assert_eq!(touched, patched_whole(&org, &ops), "{body}");
        }
        // An unset required property: the whole document lacks a field; the
        // touched one names it.
        let DomainError::Validation(faults) =
            org.patched(&ops(json!({"op": "remove", "path": "name"})), &admin()).unwrap_err()
        else {
            panic!()
        };
        assert_eq!(faults[0].path, "name");
        assert!(patched_whole(&org, &ops(json!({"op": "remove", "path": "name"}))).is_err());
    }
}
