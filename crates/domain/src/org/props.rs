//! The writable properties of an org ([`OrgProps`]): the typed sub-documents, the
//! stored JSON document with its custom `c_…` keys, and the checks of every value
//! against the org's schemas and `crate::limits`.
//!
//! Who may write which property is not decided here (`crate::access`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::app::App;
use crate::email::Email;
use crate::level::Level;
use crate::roles::{BUILTIN_ROLES, Role, check_custom_roles};
use crate::schema::CustomProperty;
use crate::text::{parse_locale, parse_name, parse_tz};
use crate::time::Date;
use crate::{FieldError, Id, limits};

/// `configuration`: org-wide settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Configuration {
    /// Mail settings.
    pub email: EmailConfiguration,
}

/// `configuration.email`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct EmailConfiguration {
    /// Addresses that skip location checks.
    pub location_bypass: Vec<String>,
    /// The sender address of the org's mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
}

/// `registration`: who may join and how.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Registration {
    /// Self-registration is open.
    pub allow: bool,
    /// Joining needs a connection (invitation) token.
    pub invitation_required: bool,
    /// New accounts must activate by mail.
    pub activation_required: bool,
    /// Roles given to members who join without an invitation.
    pub default_roles: Vec<Id>,
}

/// `security`: credentials and lifetimes. Durations are in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Security {
    /// How long an invitation stays valid (default 7 days).
    #[serde(deserialize_with = "crate::whole::number")]
    pub invitation_ttl: u32,
    /// Idle lifetime of a login session, sliding (default 24 hours).
    #[serde(deserialize_with = "crate::whole::number")]
    pub session_ttl: u32,
    /// Absolute lifetime of a login session from its start, however much it is
    /// used (default 30 days).
    #[serde(deserialize_with = "crate::whole::number")]
    pub session_max_age: u32,
    /// The shortest password accepted (default 12).
    #[serde(deserialize_with = "crate::whole::number")]
    pub password_min_length: u32,
    /// Members must use a second factor.
    pub mfa_required: bool,
    /// Members may take part in other orgs' sessions.
    pub allow_external_participants: bool,
}

impl Default for Security {
    fn default() -> Self {
        Self {
            invitation_ttl: 7 * 24 * 3600,
            session_ttl: 24 * 3600,
            session_max_age: 30 * 24 * 3600,
            password_min_length: 12,
            mfa_required: false,
            allow_external_participants: false,
        }
    }
}

/// `support`: where members get help.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Support {
    /// A support mail address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A support phone number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// A support site.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `deployment`: how the org's configuration may be deployed between environments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Deployment {
    /// Deployments to this org are accepted.
    pub enabled: bool,
    /// Only support staff may deploy.
    pub support_only: bool,
    /// Deployed configuration may be edited here afterwards.
    pub allow_edits: bool,
}

/// The writable properties of an org, stored as one JSON document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrgProps {
    /// The label, 1–100 characters.
    pub name: String,
    /// The default locale.
    pub locale: String,
    /// The default IANA time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// An http(s) URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// Maintenance mode.
    #[serde(default)]
    pub maintenance: bool,
    /// Shown to callers during maintenance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_message: Option<String>,
    /// A taxonomy org type (`HOSPITAL`).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub org_type: Option<String>,
    /// An ISO 3166-1 alpha-3 country (`GBR`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// The logo file descriptor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<Value>,
    /// The favicon file descriptor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub favicon: Option<Value>,
    /// Org-wide settings.
    #[serde(default)]
    pub configuration: Configuration,
    /// Who may join.
    #[serde(default)]
    pub registration: Registration,
    /// Credentials and lifetimes.
    #[serde(default)]
    pub security: Security,
    /// Support contacts.
    #[serde(default)]
    pub support: Support,
    /// Deployment settings.
    #[serde(default)]
    pub deployment: Deployment,
    /// Custom roles (the built-in ones are always there and not stored).
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Changes whenever the org's schemas (custom properties) change.
    #[serde(rename = "schemasETag")]
    pub schemas_etag: String,
    /// Custom `c_…` properties.
    #[serde(skip)]
    pub custom: BTreeMap<String, Value>,
}

impl OrgProps {
    /// Parses the stored or patched document. Keys starting with `c_` are custom
    /// properties; any other unknown key is refused.
    pub fn from_value(value: Value) -> Result<Self, Vec<FieldError>> {
        let Value::Object(mut map) = value else {
            return Err(vec![FieldError::new("", "The org must be an object.")]);
        };
        let custom_keys: Vec<String> = map.keys().filter(|k| k.starts_with("c_")).cloned().collect();
        let custom = custom_keys.into_iter().filter_map(|k| map.remove(&k).map(|v| (k, v))).collect();
        let mut props: Self = serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            vec![FieldError::new(path, e.into_inner().to_string())]
        })?;
        props.custom = custom;
        Ok(props)
    }

    /// The properties of the stored document (as [`OrgProps::to_value`] has them),
    /// without building it.
    pub(super) fn entries(&self) -> Vec<(&str, Prop<'_>)> {
        let mut entries = Vec::with_capacity(32);
        entries.extend([
            ("name", Prop::Str(&self.name)),
            ("locale", Prop::Str(&self.locale)),
            ("maintenance", Prop::Bool(self.maintenance)),
            ("configuration", Prop::Configuration(&self.configuration)),
            ("registration", Prop::Registration(&self.registration)),
            ("security", Prop::Security(&self.security)),
            ("support", Prop::Support(&self.support)),
            ("deployment", Prop::Deployment(&self.deployment)),
            ("roles", Prop::Roles(&self.roles)),
            ("schemasETag", Prop::Str(&self.schemas_etag)),
        ]);
        let optional = [
            ("tz", self.tz.as_deref()),
            ("website", self.website.as_deref()),
            ("maintenanceMessage", self.maintenance_message.as_deref()),
            ("type", self.org_type.as_deref()),
            ("country", self.country.as_deref()),
        ];
        entries.extend(optional.into_iter().filter_map(|(k, v)| Some((k, Prop::Str(v?)))));
        let files = [("logo", self.logo.as_ref()), ("favicon", self.favicon.as_ref())];
        entries.extend(files.into_iter().filter_map(|(k, v)| Some((k, Prop::Json(v?)))));
        entries.extend(self.custom.iter().map(|(k, v)| (k.as_str(), Prop::Json(v))));
        entries
    }

    /// Sets the property `key` of the stored document to `value` (`None`: the
    /// property is absent), as [`OrgProps::from_value`] would read it.
    pub(super) fn set(&mut self, key: &str, value: Option<Value>) -> Result<(), FieldError> {
        fn read<T: serde::de::DeserializeOwned + Default>(key: &str, value: Option<Value>) -> Result<T, FieldError> {
            value.map_or_else(|| Ok(T::default()), |v| read_value(key, v))
        }
        fn required<T: serde::de::DeserializeOwned>(key: &str, value: Option<Value>) -> Result<T, FieldError> {
            let value = value.ok_or_else(|| FieldError::new(key, format!("{key} is required.")))?;
            read_value(key, value)
        }
        if let Some(value) = &value {
            check_shape(key, value)?;
        }
        match key {
            "name" => self.name = required(key, value)?,
            "locale" => self.locale = required(key, value)?,
            "schemasETag" => self.schemas_etag = required(key, value)?,
            "tz" => self.tz = read(key, value)?,
            "website" => self.website = read(key, value)?,
            "maintenance" => self.maintenance = read(key, value)?,
            "maintenanceMessage" => self.maintenance_message = read(key, value)?,
            "type" => self.org_type = read(key, value)?,
            "country" => self.country = read(key, value)?,
            "logo" => self.logo = read(key, value)?,
            "favicon" => self.favicon = read(key, value)?,
            "configuration" => self.configuration = read(key, value)?,
            "registration" => self.registration = read(key, value)?,
            "security" => self.security = read(key, value)?,
            "support" => self.support = read(key, value)?,
            "deployment" => self.deployment = read(key, value)?,
            "roles" => self.roles = read(key, value)?,
            custom if custom.starts_with("c_") => match value {
                Some(v) => _ = self.custom.insert(custom.to_owned(), v),
                None => _ = self.custom.remove(custom),
            },
            other => return Err(FieldError::new(other, format!("{other} is not a property of the org."))),
        }
        Ok(())
    }

    /// The document as stored: built-in properties and custom ones side by side.
    pub fn to_value(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or_else(|_| json!({}));
        if let Value::Object(map) = &mut value {
            map.extend(self.custom.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        value
    }
}

/// Refuses an array where the org holds an object: serde reads a struct from the
/// array of its fields in order too (`[null, null]` as `support`), a form the org's
/// documents never have.
fn check_shape(key: &str, value: &Value) -> Result<(), FieldError> {
    let object = |path: String, value: Option<&Value>| match value {
        Some(Value::Array(_)) => Err(FieldError::new(path.clone(), format!("{path} is an object."))),
        _ => Ok(()),
    };
    match key {
        "configuration" => {
            object(key.to_owned(), Some(value))?;
            object("configuration.email".to_owned(), value.get("email"))
        }
        "registration" | "security" | "support" | "deployment" => object(key.to_owned(), Some(value)),
        "roles" => match value {
            Value::Array(roles) => {
                roles.iter().enumerate().try_for_each(|(i, role)| object(format!("roles.{i}"), Some(role)))
            }
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Reads the value of the property `key`; a fault names the path inside it.
fn read_value<T: serde::de::DeserializeOwned>(key: &str, value: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let path = if inner == "." { key.to_owned() } else { format!("{key}.{inner}") };
        FieldError::new(path, e.into_inner().to_string())
    })
}

/// One property of an org as the API shows it, borrowed from the org (or from what
/// the request read beside it).
#[derive(Debug, Clone, Copy)]
pub(super) enum Prop<'a> {
    Id(Id),
    OptId(Option<Id>),
    Str(&'a str),
    Bool(bool),
    Date(DateTime<Utc>),
    Json(&'a Value),
    Level(Level),
    Configuration(&'a Configuration),
    Registration(&'a Registration),
    Security(&'a Security),
    Support(&'a Support),
    Deployment(&'a Deployment),
    /// The custom roles, as stored.
    Roles(&'a [Role]),
    /// The built-in roles, then these custom ones: every role of the org.
    AllRoles(&'a [Role]),
    Apps(&'a [App]),
    /// `{"object": "list", "path": "/orgs/{id}/{kind}"}`.
    List(Id, &'static str),
}

impl Serialize for Prop<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match *self {
            Self::Id(id) => id.serialize(s),
            Self::OptId(id) => id.serialize(s),
            Self::Str(v) => s.serialize_str(v),
            Self::Bool(v) => s.serialize_bool(v),
            Self::Date(t) => Date(t).serialize(s),
            Self::Json(v) => v.serialize(s),
            Self::Level(level) => level.serialize(s),
            Self::Configuration(v) => v.serialize(s),
            Self::Registration(v) => v.serialize(s),
            Self::Security(v) => v.serialize(s),
            Self::Support(v) => v.serialize(s),
            Self::Deployment(v) => v.serialize(s),
            Self::Roles(roles) => roles.serialize(s),
            Self::AllRoles(custom) => s.collect_seq(BUILTIN_ROLES.iter().chain(custom)),
            Self::Apps(apps) => s.collect_seq(apps.iter().map(App::view)),
            Self::List(id, kind) => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("object", "list")?;
                map.serialize_entry("path", &format_args!("/orgs/{id}/{kind}"))?;
                map.end()
            }
        }
    }
}

/// Properties written as one JSON object, in the order given, without building it.
pub(super) struct PropMap<'a>(pub(super) Vec<(&'a str, Prop<'a>)>);

impl Serialize for PropMap<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// Refuses U+0000 in a text property: no stored text holds it, and PostgreSQL's
/// jsonb, where the org's properties live, can't.
fn no_nul(path: &str, s: &str) -> Result<(), FieldError> {
    if s.contains('\0') { Err(FieldError::new(path, limits::NUL)) } else { Ok(()) }
}

fn check_url(path: &str, s: &str) -> Result<(), FieldError> {
    no_nul(path, s)?;
    match url::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() && s.len() <= 2048 => Ok(()),
        _ => Err(FieldError::new(path, format!("'{s}' is not an http(s) URL."))),
    }
}

fn within(path: &str, value: u32, min: u32, max: u32, faults: &mut Vec<FieldError>) {
    if !(min..=max).contains(&value) {
        faults.push(FieldError::new(path, format!("{path} is {min} to {max}.")));
    }
}

impl OrgProps {
    /// Every field that breaks the org's schemas.
    pub fn validate(&self, roles: &[Role], schema: &[CustomProperty]) -> Vec<FieldError> {
        let mut faults = Vec::new();
        let mut check = |r: Result<(), FieldError>| {
            if let Err(e) = r {
                faults.push(e);
            }
        };
        check(parse_name("name", &self.name).map(drop));
        check(parse_locale("locale", &self.locale).map(drop));
        if let Some(tz) = &self.tz {
            check(parse_tz("tz", tz).map(drop));
        }
        if let Some(site) = &self.website {
            check(check_url("website", site));
        }
        if let Some(kind) = &self.org_type
            && crate::taxonomy::org_type(kind).is_none()
        {
            check(Err(FieldError::new("type", format!("'{kind}' is not an org type of the taxonomy."))));
        }
        if let Some(country) = &self.country
            && crate::taxonomy::country(country).is_none()
        {
            check(Err(FieldError::new("country", format!("'{country}' is not an ISO 3166-1 alpha-3 country."))));
        }
        if let Some(message) = &self.maintenance_message {
            if message.chars().count() > 1000 {
                check(Err(FieldError::new("maintenanceMessage", "maintenanceMessage has at most 1000 characters.")));
            }
            check(no_nul("maintenanceMessage", message));
        }
        let bypass = &self.configuration.email.location_bypass;
        if bypass.len() > limits::MAX_LIST_ITEMS {
            check(Err(FieldError::new(
                "configuration.email.locationBypass",
                format!("configuration.email.locationBypass holds at most {} addresses.", limits::MAX_LIST_ITEMS),
            )));
        }
        for (i, email) in bypass.iter().enumerate().take(limits::MAX_LIST_ITEMS) {
            check(Email::parse(&format!("configuration.email.locationBypass.{i}"), email).map(drop));
        }
        if let Some(sender) = &self.configuration.email.sender {
            check(Email::parse("configuration.email.sender", sender).map(drop));
        }
        if let Some(email) = &self.support.email {
            check(Email::parse("support.email", email).map(drop));
        }
        if let Some(url) = &self.support.url {
            check(check_url("support.url", url));
        }
        if let Some(phone) = &self.support.phone {
            if phone.is_empty() || phone.chars().count() > 40 {
                check(Err(FieldError::new("support.phone", "support.phone is 1 to 40 characters.")));
            }
            check(no_nul("support.phone", phone));
        }
        if self.registration.default_roles.len() > limits::MAX_LIST_ITEMS {
            check(Err(FieldError::new(
                "registration.defaultRoles",
                format!("registration.defaultRoles holds at most {} roles.", limits::MAX_LIST_ITEMS),
            )));
        }
        for (i, role) in self.registration.default_roles.iter().enumerate() {
            if !roles.iter().any(|r| r.id == *role) {
                check(Err(FieldError::new(format!("registration.defaultRoles.{i}"), "Not a role of this org.")));
            }
        }
        let sec = &self.security;
        if sec.mfa_required {
            // Stored but not enforced would be a promise orgbase does not keep.
            check(Err(FieldError::new(
                "security.mfaRequired",
                "Multi-factor authentication is not available yet: security.mfaRequired must be false.",
            )));
        }
        within("security.invitationTtl", sec.invitation_ttl, 60, 90 * 24 * 3600, &mut faults);
        within("security.sessionTtl", sec.session_ttl, 60, 90 * 24 * 3600, &mut faults);
        within("security.sessionMaxAge", sec.session_max_age, 60, 90 * 24 * 3600, &mut faults);
        within("security.passwordMinLength", sec.password_min_length, 8, 128, &mut faults);
        faults.extend(check_custom_roles(&self.roles));
        for (name, value) in &self.custom {
            match schema.iter().find(|p| p.name == *name) {
                Some(def) => {
                    if let Err(e) = limits::check_value(name, value).and_then(|()| def.check(value)) {
                        faults.push(e);
                    }
                }
                None => faults.push(FieldError::new(name, format!("{name} is not a declared property."))),
            }
        }
        if faults.is_empty()
            && limits::json_size(&PropMap(self.entries()), limits::MAX_DOCUMENT_BYTES) > limits::MAX_DOCUMENT_BYTES
        {
            faults.push(FieldError::new(
                "",
                format!("The org's properties are at most {} KiB as JSON.", limits::MAX_DOCUMENT_BYTES / 1024),
            ));
        }
        faults
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::org::fixtures::{example, populated};

    #[test]
    fn the_whole_document_is_bounded_even_when_each_value_is_within_its_limit() {
        let mut org = example();
        let mut schema = Vec::new();
        for i in 0..5 {
            let decl: crate::schema::DeclareProperty =
                serde_json::from_value(json!({"name": format!("c_big{i}"), "type": "string", "array": true})).unwrap();
            schema.push(decl.validate(&org.roles(), &schema).unwrap());
            org.props.custom.insert(format!("c_big{i}"), json!(vec!["x".repeat(15 * 1024); 7]));
        }
        let faults = org.props.validate(&org.roles(), &schema);
        assert_eq!(faults.len(), 1, "{faults:?}");
        assert!(faults[0].reason.contains("512 KiB"), "{faults:?}");
        org.props.custom.remove("c_big4");
        assert!(org.props.validate(&org.roles(), &schema).is_empty());
    }

    #[test]
    fn stored_documents_round_trip_with_custom_properties() {
        let mut org = example();
        org.props.custom.insert("c_4providers".into(), json!([1, 2]));
        let back = OrgProps::from_value(org.props.to_value()).unwrap();
        assert_eq!(back, org.props);
        assert!(OrgProps::from_value(json!({"name": "x", "locale": "en_US", "schemasETag": "e", "bogus": 1})).is_err());
    }

    #[test]
    fn the_stored_document_lists_every_property() {
        let props = populated().props;
        let entries: Map<String, Value> =
            props.entries().iter().map(|(k, v)| ((*k).to_owned(), serde_json::to_value(v).unwrap())).collect();
        assert_eq!(Value::Object(entries), props.to_value());
        for (key, value) in props.to_value().as_object().unwrap() {
            let mut emptied = props.clone();
            emptied.set(key, None).ok();
            emptied.set(key, Some(value.clone())).unwrap();
            assert_eq!(emptied, props, "{key}");
        }
    }
}
