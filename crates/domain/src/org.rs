//! The organisation object: its code, its stored properties with their documents'
//! schemas, and its rendering in the seed platform's shape.
//!
//! The stored form is [`OrgProps`], one JSON document per org whose keys are exactly
//! the writable properties (built-in and custom `c_…`). Server-kept fields (`_id`,
//! `created`, `updated`, `updater`, `state`, the version) live beside it.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::access::{Level, Operation, SERVER_KEPT, Subject, Target, decide, org_property_read_level};
use crate::account::Email;
use crate::app::App;
use crate::limits;
use crate::patch::{Op, apply};
use crate::schema::CustomProperty;
use crate::{DomainError, FieldError, Id};

/// Renders a date as the API does: RFC 3339, UTC, milliseconds.
pub fn render_date(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A date serialised as [`render_date`] renders it, written straight into the
/// output (no string per date).
#[derive(Debug, Clone, Copy)]
pub struct Date(pub DateTime<Utc>);

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use chrono::{Datelike, Timelike};
        let t = self.0;
        let year = t.year();
        if !(0..=9999).contains(&year) {
            return serializer.serialize_str(&render_date(t));
        }
        // `YYYY-MM-DDTHH:MM:SS.mmmZ`, as `render_date` writes it for these years.
        let mut out = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut value: u32| {
            for i in (at..at + width).rev() {
                out[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, 4, year.unsigned_abs());
        put(5, 2, t.month());
        put(8, 2, t.day());
        put(11, 2, t.hour());
        put(14, 2, t.minute());
        // A leap second shows as :60 in both.
        put(17, 2, t.second() + t.nanosecond() / 1_000_000_000);
        put(20, 3, t.nanosecond() % 1_000_000_000 / 1_000_000);
        serializer.serialize_str(std::str::from_utf8(&out).map_err(serde::ser::Error::custom)?)
    }
}

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

/// Validates a BCP 47 / ICU locale (`en_US`, `fr-CA`) and returns it as given.
pub fn parse_locale(path: &str, s: &str) -> Result<String, FieldError> {
    icu_locale_core::Locale::try_from_str(&s.replace('_', "-"))
        .map(|_| s.to_owned())
        .map_err(|_| FieldError::new(path, format!("'{s}' is not a BCP 47 locale such as en_US.")))
}

/// Validates an IANA time zone name (`US/Pacific`, `Europe/London`).
pub fn parse_tz(path: &str, s: &str) -> Result<String, FieldError> {
    chrono_tz::Tz::from_str(s)
        .map(|_| s.to_owned())
        .map_err(|_| FieldError::new(path, format!("'{s}' is not an IANA time zone such as US/Pacific.")))
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
    pub invitation_ttl: u32,
    /// Idle lifetime of a login session, sliding (default 24 hours).
    pub session_ttl: u32,
    /// Absolute lifetime of a login session from its start, however much it is
    /// used (default 30 days).
    pub session_max_age: u32,
    /// The shortest password accepted (default 12).
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
static BUILTIN_ROLES: LazyLock<Vec<Role>> = LazyLock::new(make_builtin_roles);

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
    fn entries(&self) -> Vec<(&str, Prop<'_>)> {
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
    fn set(&mut self, key: &str, value: Option<Value>) -> Result<(), FieldError> {
        fn read<T: serde::de::DeserializeOwned + Default>(key: &str, value: Option<Value>) -> Result<T, FieldError> {
            value.map_or_else(|| Ok(T::default()), |v| read_value(key, v))
        }
        fn required<T: serde::de::DeserializeOwned>(key: &str, value: Option<Value>) -> Result<T, FieldError> {
            let value = value.ok_or_else(|| FieldError::new(key, format!("{key} is required.")))?;
            read_value(key, value)
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

/// Reads the value of the property `key`; a fault names the path inside it.
fn read_value<T: serde::de::DeserializeOwned>(key: &str, value: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let path = if inner == "." { key.to_owned() } else { format!("{key}.{inner}") };
        FieldError::new(path, e.into_inner().to_string())
    })
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

/// Validates a name: 1–100 characters after trimming.
pub fn parse_name(path: &str, s: &str) -> Result<String, FieldError> {
    let trimmed = s.trim();
    let chars = trimmed.chars().count();
    if chars == 0 || chars > 100 {
        return Err(FieldError::new(path, "A name is 1-100 characters."));
    }
    // Names go into mail subjects and bodies: no line breaks or other controls.
    if trimmed.chars().any(char::is_control) {
        return Err(FieldError::new(path, "A name has no control characters."));
    }
    Ok(trimmed.to_owned())
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

    /// Resolves role names, codes or ids (`administrator`, `Provider`,
    /// `000000000000000000000005`) to role ids; unknown ones are errors at `path`.
    pub fn resolve_roles(&self, path: &str, names: &[String]) -> Result<Vec<Id>, FieldError> {
        let roles = self.roles();
        let mut out = Vec::new();
        for name in names {
            let wanted = name.trim();
            let found = roles.iter().find(|r| {
                Id::parse(wanted) == Some(r.id)
                    || r.code.eq_ignore_ascii_case(wanted)
                    || r.name.eq_ignore_ascii_case(wanted)
            });
            match found {
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

    /// Every property of the org, before any access filtering, in key order (as a
    /// JSON object of them sorts). `apps` and `shared` come from other tables.
    fn entries<'a>(&'a self, apps: &'a [App], shared: bool) -> Vec<(&'a str, Prop<'a>)> {
        let mut entries = self.props.entries();
        for (key, prop) in &mut entries {
            if *key == "roles" {
                *prop = Prop::AllRoles(&self.props.roles);
            }
        }
        entries.extend([
            ("_id", Prop::Id(self.id)),
            ("object", Prop::Str("org")),
            ("code", Prop::Str(self.code.as_str())),
            ("state", Prop::Str(self.state.as_str())),
            ("created", Prop::Date(self.created)),
            ("updated", Prop::Date(self.updated)),
            ("updater", Prop::OptId(self.updater)),
            ("shared", Prop::Bool(shared)),
            ("apps", Prop::Apps(apps)),
            ("posts", Prop::List(self.id, "posts")),
            ("connections", Prop::List(self.id, "connections")),
        ]);
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        entries
    }

    /// The org as a viewer sees it, in the seed's shape: built-in properties by the
    /// level table, custom ones by their declared read access and ACL. Serialised
    /// straight into the output; [`Org::render`] gives the same as a JSON object.
    pub fn view<'a>(&'a self, viewer: Viewer<'a>, apps: &'a [App], shared: bool) -> OrgView<'a> {
        let mut entries = self.entries(apps, shared);
        let level = match viewer {
            Viewer::Operator => Level::Script,
            Viewer::Caller(subject) => subject.org_level(),
        };
        if let Viewer::Caller(subject) = viewer {
            entries.retain(|(k, _)| {
                let custom = self.schema.iter().find(|p| p.name == *k);
                if custom.is_none() && org_property_read_level(k).is_none() {
                    return false;
                }
                decide(subject, Target::OrgProperty { name: k, custom }, Operation::Read).allowed
            });
        }
        let at = entries.partition_point(|(k, _)| *k < "access");
        entries.insert(at, ("access", Prop::Level(level)));
        OrgView(entries)
    }

    /// [`Org::view`] as a JSON object (to narrow it to some paths).
    pub fn render(&self, viewer: Viewer<'_>, apps: &[App], shared: bool) -> Map<String, Value> {
        let view = self.view(viewer, apps, shared);
        view.0.iter().map(|(k, prop)| ((*k).to_owned(), serde_json::to_value(prop).unwrap_or_default())).collect()
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

/// An org as one viewer sees it, serialised without building a JSON tree: built by
/// [`Org::view`].
pub struct OrgView<'a>(Vec<(&'a str, Prop<'a>)>);

impl Serialize for OrgView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// One property of an org as the API shows it, borrowed from the org (or from what
/// the request read beside it).
#[derive(Debug, Clone, Copy)]
enum Prop<'a> {
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

/// Who a rendering is for.
#[derive(Debug, Clone, Copy)]
pub enum Viewer<'a> {
    /// A platform operator: every property.
    Operator,
    /// A caller of the org API.
    Caller(&'a Subject),
}

fn check_url(path: &str, s: &str) -> Result<(), FieldError> {
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
        if let Some(message) = &self.maintenance_message
            && message.chars().count() > 1000
        {
            check(Err(FieldError::new("maintenanceMessage", "maintenanceMessage has at most 1000 characters.")));
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
        if let Some(phone) = &self.support.phone
            && (phone.is_empty() || phone.chars().count() > 40)
        {
            check(Err(FieldError::new("support.phone", "support.phone is 1 to 40 characters.")));
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
            && limits::json_size(&OrgView(self.entries()), limits::MAX_DOCUMENT_BYTES) > limits::MAX_DOCUMENT_BYTES
        {
            faults.push(FieldError::new(
                "",
                format!("The org's properties are at most {} KiB as JSON.", limits::MAX_DOCUMENT_BYTES / 1024),
            ));
        }
        faults
    }
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

/// Narrows a rendered object to the requested `paths` (`name`, `configuration.email`).
/// `_id`, `object` and `access` are always kept; unknown paths are ignored.
pub fn select_paths(map: &Map<String, Value>, paths: &[String]) -> Map<String, Value> {
    let mut out = Map::new();
    for key in ["_id", "object", "access"] {
        if let Some(v) = map.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    for path in paths {
        let parts: Vec<&str> = path.split(['.', '/']).filter(|p| !p.is_empty()).collect();
        let Some((first, rest)) = parts.split_first() else { continue };
        let Some(mut value) = map.get(*first) else { continue };
        let mut found = true;
        for part in rest {
            match value.get(part) {
                Some(v) => value = v,
                None => {
                    found = false;
                    break;
                }
            }
        }
        if found {
            insert_path(&mut out, &parts, value.clone());
        }
    }
    out
}

fn insert_path(out: &mut Map<String, Value>, parts: &[&str], value: Value) {
    match parts {
        [] => {}
        [last] => {
            out.insert((*last).to_owned(), value);
        }
        [first, rest @ ..] => {
            let entry = out.entry((*first).to_owned()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::Clock;

    fn example() -> Org {
        Org::create(
            NewOrg { code: "example".into(), name: "Example".into(), locale: Some("en_US".into()), tz: None },
            crate::SystemClock.now(),
        )
        .unwrap()
    }

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

    fn admin() -> Subject {
        Subject::member(&[ADMINISTRATOR], &builtin_roles())
    }

    #[test]
    fn dates_serialise_as_they_render() {
        for t in [
            Utc.timestamp_millis_opt(0).unwrap(),
            Utc.timestamp_millis_opt(1_764_164_054_569).unwrap(),
            Utc.timestamp_millis_opt(1_764_164_054_000).unwrap(),
            Utc.timestamp_nanos(1_764_164_054_123_456_789),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
        ] {
            assert_eq!(serde_json::to_value(Date(t)).unwrap(), serde_json::json!(render_date(t)));
        }
    }

    fn provider() -> Subject {
        Subject::member(&[PROVIDER], &builtin_roles())
    }

    fn with_c_4providers() -> Org {
        let mut org = example();
        let def: crate::schema::DeclareProperty =
            serde_json::from_value(json!({"name": "c_4providers", "type": "number",
            "array": true, "acl": [{"type": "role", "target": "provider", "allow": 6}]}))
            .unwrap();
        org.schema.push(def.validate(&org.roles(), &[]).unwrap());
        org
    }

    fn ops(body: Value) -> Vec<Op> {
        crate::patch::parse_ops(body).unwrap()
    }

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
    fn custom_role_cycles_are_refused() {
        let a = Role { id: Id::from_u96(100), name: "A".into(), code: "a".into(), include: vec![Id::from_u96(101)] };
        let b = Role { id: Id::from_u96(101), name: "B".into(), code: "b".into(), include: vec![Id::from_u96(100)] };
        assert!(!check_custom_roles(&[a.clone(), b]).is_empty());
        let ok = Role { include: vec![PROVIDER], ..a };
        assert!(check_custom_roles(&[ok]).is_empty());
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

    #[test]
    fn locales_and_zones_are_checked_by_their_crates() {
        assert!(parse_locale("locale", "en_US").is_ok());
        assert!(parse_locale("locale", "fr-CA").is_ok());
        assert!(parse_locale("locale", "not a locale").is_err());
        assert!(parse_tz("tz", "US/Pacific").is_ok());
        assert!(parse_tz("tz", "Europe/London").is_ok());
        assert!(parse_tz("tz", "Mars/Olympus").is_err());
    }

    #[test]
    fn a_public_caller_sees_only_public_properties() {
        let org = example();
        let map = org.render(Viewer::Caller(&Subject::outsider()), &[], false);
        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
        assert_eq!(keys, ["_id", "access", "code", "locale", "maintenance", "name", "object", "schemasETag", "state"]);
        assert_eq!(map["access"], json!(1));
    }

    #[test]
    fn an_administrator_sees_every_property() {
        let org = example();
        let map = org.render(Viewer::Caller(&admin()), &[], false);
        for key in [
            "apps",
            "configuration",
            "security",
            "registration",
            "deployment",
            "updater",
            "connections",
            "roles",
            "posts",
            "created",
            "updated",
            "shared",
            "support",
        ] {
            assert!(map.contains_key(key), "{key}");
        }
        assert_eq!(map["roles"][0]["_id"], json!("000000000000000000000004"));
    }

    #[test]
    fn stored_documents_round_trip_with_custom_properties() {
        let mut org = example();
        org.props.custom.insert("c_4providers".into(), json!([1, 2]));
        let back = OrgProps::from_value(org.props.to_value()).unwrap();
        assert_eq!(back, org.props);
        assert!(OrgProps::from_value(json!({"name": "x", "locale": "en_US", "schemasETag": "e", "bogus": 1})).is_err());
    }

    /// An org with every optional property set, custom properties (one readable
    /// by Provider only, through its ACL), a custom role and a pending invitation.
    fn populated() -> Org {
        let mut org = with_c_4providers();
        let def: crate::schema::DeclareProperty =
            serde_json::from_value(json!({"name": "c_note", "type": "string"})).unwrap();
        org.schema.push(def.validate(&org.roles(), &org.schema).unwrap());
        let p = &mut org.props;
        p.tz = Some("Europe/London".into());
        p.website = Some("https://example.com".into());
        p.maintenance_message = Some("Back soon".into());
        p.org_type = Some("HOSPITAL".into());
        p.country = Some("GBR".into());
        p.logo = Some(json!({"path": "logo.png"}));
        p.favicon = Some(json!({"path": "favicon.ico"}));
        p.configuration.email.sender = Some("noreply@example.com".into());
        p.support.email = Some("help@example.com".into());
        p.roles.push(Role {
            id: Id::from_u96(100),
            name: "Nurse".into(),
            code: "nurse".into(),
            include: vec![PROVIDER],
        });
        p.custom.insert("c_4providers".into(), json!([1, 2]));
        p.custom.insert("c_note".into(), json!("hello"));
        org.updater = Some(Id::from_u96(42));
        org
    }

    /// The rendering as it was built before [`OrgView`]: the stored document as a
    /// JSON object, the server-kept properties added, then filtered.
    fn rendered_as_a_map(org: &Org, viewer: Viewer<'_>, apps: &[App], shared: bool) -> Map<String, Value> {
        let Value::Object(mut map) = org.props.to_value() else { unreachable!() };
        map.insert("_id".into(), json!(org.id));
        map.insert("object".into(), json!("org"));
        map.insert("code".into(), json!(org.code));
        map.insert("state".into(), json!(org.state.as_str()));
        map.insert("created".into(), json!(render_date(org.created)));
        map.insert("updated".into(), json!(render_date(org.updated)));
        map.insert("updater".into(), json!(org.updater));
        map.insert("roles".into(), json!(org.roles()));
        map.insert("shared".into(), json!(shared));
        map.insert("apps".into(), Value::Array(apps.iter().map(App::to_json).collect()));
        let base = format!("/orgs/{}", org.id);
        map.insert("posts".into(), json!({"object": "list", "path": format!("{base}/posts")}));
        map.insert("connections".into(), json!({"object": "list", "path": format!("{base}/connections")}));
        let level = match viewer {
            Viewer::Operator => Level::Script,
            Viewer::Caller(subject) => subject.org_level(),
        };
        map.retain(|k, _| match viewer {
            Viewer::Operator => true,
            Viewer::Caller(subject) => {
                let custom = org.schema.iter().find(|p| p.name == *k);
                (custom.is_some() || org_property_read_level(k).is_some())
                    && decide(subject, Target::OrgProperty { name: k, custom }, Operation::Read).allowed
            }
        });
        map.insert("access".into(), json!(level));
        map
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

    #[test]
    fn an_org_is_written_straight_as_its_map_renders() {
        let org = populated();
        let created = Utc.timestamp_millis_opt(1_764_164_054_569).unwrap();
        let apps = [App::new(org.id, "web".into(), vec!["https://a.example".into()], created)];
        let nurse = Subject::member(&[Id::from_u96(100)], &org.roles());
        let subjects = [Subject::outsider(), Subject::connected(), admin(), provider(), nurse];
        let mut viewers: Vec<Viewer<'_>> = subjects.iter().map(Viewer::Caller).collect();
        viewers.push(Viewer::Operator);
        for viewer in viewers {
            for shared in [false, true] {
                let expected = rendered_as_a_map(&org, viewer, &apps, shared);
                assert_eq!(org.render(viewer, &apps, shared), expected, "{viewer:?}");
                // Written straight: the same JSON (nested objects keep their
                // fields' declared order).
                let written = serde_json::to_string(&org.view(viewer, &apps, shared)).unwrap();
                let parsed: serde_json::Map<String, Value> = serde_json::from_str(&written).unwrap();
                assert_eq!(parsed, expected, "{viewer:?}");
            }
        }
        let seen = org.render(Viewer::Caller(&provider()), &apps, false);
        assert_eq!(seen["c_4providers"], json!([1, 2]));
        assert!(!org.render(Viewer::Caller(&Subject::outsider()), &apps, false).contains_key("c_note"));
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

    #[test]
    fn paths_narrow_a_rendered_org() {
        let org = example();
        let map = org.render(Viewer::Caller(&admin()), &[], false);
        let narrowed = select_paths(&map, &["name".into(), "security.sessionTtl".into(), "nope".into()]);
        assert_eq!(narrowed["name"], json!("Example"));
        assert_eq!(narrowed["security"], json!({"sessionTtl": 86400}));
        assert!(!narrowed.contains_key("locale"));
        assert!(narrowed.contains_key("_id"));
    }
}
