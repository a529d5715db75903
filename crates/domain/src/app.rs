//! Apps: each org's API clients. The key is public and names the app; the secret signs
//! server-to-server requests and is shown once, when the app is created or its
//! secret rotated. After a rotation the previous secret keeps signing until its
//! grace period ends ([`App::signing_secrets`]). What the server lets an admin
//! change is an [`AppChange`], validated here.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::{FieldError, Id, secret};

/// The most CORS origins one app lists.
pub const MAX_ORIGINS: usize = 100;
/// The most accounts one app's `actAs` lists.
pub const MAX_ACT_AS: usize = 1000;

/// An app of an org.
#[derive(Clone, PartialEq, Eq)]
pub struct App {
    /// The app's id.
    pub id: Id,
    /// The org it belongs to.
    pub org: Id,
    /// A label.
    pub name: String,
    /// The client key: 22 letters and digits, public.
    pub key: String,
    /// The signing secret: 64 letters and digits. Never rendered after creation.
    pub secret: String,
    /// A disabled app's key is refused.
    pub enabled: bool,
    /// Browser origins allowed by CORS (`https://app.example.com`).
    pub cors_origins: Vec<String>,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// Signed requests must use signature version 2 (which covers the nonce, the
    /// account, the query and the body); version 1 is refused.
    pub require_signature_v2: bool,
    /// The accounts a signed request of this app may act as.
    pub act_as: ActAs,
    /// A cookie-authenticated write must echo `Medable-Csrf-Token` (the default).
    /// Off, a write without it is accepted only from one of `cors_origins`.
    pub csrf: bool,
    /// The secret before the last rotation, still accepted until its grace ends.
    pub previous_secret: Option<PreviousSecret>,
}

/// A rotated-out secret and the end of its grace period.
#[derive(Clone, PartialEq, Eq)]
pub struct PreviousSecret {
    /// The old secret.
    pub secret: String,
    /// It signs nothing from this instant on.
    pub until: DateTime<Utc>,
}

/// Which accounts an app's signed requests may act as (`Medable-Client-Account`).
/// Whatever it says, the account must also be an active member of the org.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ActAs {
    /// Any active member (the seed platform's behaviour, the default).
    #[default]
    Any,
    /// Only these accounts (none when empty).
    Only(Vec<Id>),
}

impl ActAs {
    /// True when the app may act as `account`.
    pub fn allows(&self, account: Id) -> bool {
        match self {
            Self::Any => true,
            Self::Only(ids) => ids.contains(&account),
        }
    }

    /// Parses the CLI's form: `all`, `none`, or account ids separated by commas.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "all" | "any" => Some(Self::Any),
            "none" | "" => Some(Self::Only(Vec::new())),
            list => list.split(',').map(|id| Id::parse(id.trim())).collect::<Option<Vec<_>>>().map(Self::Only),
        }
    }

    /// The stored form: `None` for any, else a JSON array of ids.
    pub fn to_stored(&self) -> Option<serde_json::Value> {
        match self {
            Self::Any => None,
            Self::Only(ids) => {
                Some(serde_json::Value::Array(ids.iter().map(|id| serde_json::Value::String(id.to_string())).collect()))
            }
        }
    }

    /// Back from the stored form.
    pub fn from_stored(stored: Option<serde_json::Value>) -> Option<Self> {
        let Some(stored) = stored else { return Some(Self::Any) };
        let ids: Vec<String> = serde_json::from_value(stored).ok()?;
        ids.iter().map(|id| Id::parse(id)).collect::<Option<Vec<_>>>().map(Self::Only)
    }

    /// The API's form, as [`ActAs::to_api`] writes it: `"all"`, `"none"`, or an
    /// array of account ids (at most [`MAX_ACT_AS`]).
    pub fn from_api(value: &serde_json::Value) -> Option<Self> {
        match value {
            serde_json::Value::String(s) if matches!(s.as_str(), "all" | "none") => Self::parse(s),
            serde_json::Value::Array(items) if items.len() <= MAX_ACT_AS => {
                items.iter().map(|item| item.as_str().and_then(Id::parse)).collect::<Option<Vec<_>>>().map(Self::Only)
            }
            _ => None,
        }
    }

    /// The API's form: `"all"` for any active member, else the array of ids.
    pub fn to_api(&self) -> serde_json::Value {
        self.to_stored().unwrap_or_else(|| serde_json::Value::String("all".into()))
    }
}

impl Serialize for ActAs {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Any => serializer.serialize_str("all"),
            Self::Only(ids) => ids.serialize(serializer),
        }
    }
}

impl std::fmt::Debug for PreviousSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreviousSecret").field("secret", &"<redacted>").field("until", &self.until).finish()
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("id", &self.id)
            .field("org", &self.org)
            .field("name", &self.name)
            .field("key", &self.key)
            .field("secret", &"<redacted>")
            .field("enabled", &self.enabled)
            .field("cors_origins", &self.cors_origins)
            .field("require_signature_v2", &self.require_signature_v2)
            .field("act_as", &self.act_as)
            .field("csrf", &self.csrf)
            .field("previous_secret_until", &self.previous_secret.as_ref().map(|p| p.until))
            .finish_non_exhaustive()
    }
}

impl App {
    /// A new enabled app with fresh credentials.
    pub fn new(org: Id, name: String, cors_origins: Vec<String>, now: DateTime<Utc>) -> Self {
        Self {
            id: Id::generate(now),
            org,
            name,
            key: secret::alphanumeric(22),
            secret: secret::alphanumeric(64),
            enabled: true,
            cors_origins,
            created: now,
            require_signature_v2: false,
            act_as: ActAs::Any,
            csrf: true,
            previous_secret: None,
        }
    }

    /// The secrets a signature may be made with at `now`: the current one, and the
    /// previous one until its grace period ends.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> impl Iterator<Item = &str> {
        let previous = self.previous_secret.as_ref().filter(|p| now < p.until).map(|p| p.secret.as_str());
        std::iter::once(self.secret.as_str()).chain(previous)
    }

    /// The app with a fresh secret; the current one keeps signing for `grace`
    /// (none when `grace` is zero). A secret rotated out before is gone at once.
    #[must_use]
    pub fn rotated(&self, now: DateTime<Utc>, grace: Duration) -> Self {
        let previous =
            (grace > Duration::zero()).then(|| PreviousSecret { secret: self.secret.clone(), until: now + grace });
        Self { secret: secret::alphanumeric(64), previous_secret: previous, ..self.clone() }
    }

    /// The app with a validated change applied.
    #[must_use]
    pub fn changed(&self, change: AppChange) -> Self {
        let mut app = self.clone();
        app.name = change.name.unwrap_or(app.name);
        app.cors_origins = change.origins.unwrap_or(app.cors_origins);
        app.csrf = change.csrf.unwrap_or(app.csrf);
        app.enabled = change.enabled.unwrap_or(app.enabled);
        app.require_signature_v2 = change.require_signature_v2.unwrap_or(app.require_signature_v2);
        app.act_as = change.act_as.unwrap_or(app.act_as);
        app
    }

    /// The app as the org's `apps` property shows it: never the secret.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.view()).unwrap_or_default()
    }

    /// [`App::to_json`] without building it: serialised straight into the output.
    pub fn view(&self) -> AppView<'_> {
        AppView {
            id: self.id,
            act_as: &self.act_as,
            cors: Cors { origins: &self.cors_origins },
            created: crate::time::Date(self.created),
            csrf: self.csrf,
            enabled: self.enabled,
            key: &self.key,
            name: &self.name,
            previous_secret_expires: self.previous_secret.as_ref().map(|p| crate::time::Date(p.until)),
            require_signature_v2: self.require_signature_v2,
        }
    }
}

/// What an admin may change in an app, each part optional. Built from raw input
/// by [`AppChange::parse`], which checks every part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppChange {
    /// A new label.
    pub name: Option<String>,
    /// The new CORS origins (replacing the list).
    pub origins: Option<Vec<String>>,
    /// Whether cookie writes need the CSRF token.
    pub csrf: Option<bool>,
    /// Enables or disables the app.
    pub enabled: Option<bool>,
    /// Whether signed requests must use version 2.
    pub require_signature_v2: Option<bool>,
    /// Whom signed requests may act as.
    pub act_as: Option<ActAs>,
}

/// The raw input of an [`AppChange`]: strings as given, not yet checked.
#[derive(Debug, Clone, Default)]
pub struct RawAppChange {
    /// A new label.
    pub name: Option<String>,
    /// New CORS origins.
    pub origins: Option<Vec<String>>,
    /// The CSRF setting.
    pub csrf: Option<bool>,
    /// The enabled flag.
    pub enabled: Option<bool>,
    /// The signing version rule.
    pub require_signature_v2: Option<bool>,
    /// `"all"`, `"none"` or an array of account ids.
    pub act_as: Option<serde_json::Value>,
}

impl AppChange {
    /// Checks every part of `raw`, collecting every fault (paths as the app's
    /// view names them: `name`, `cors.origins`, `actAs`).
    pub fn parse(raw: RawAppChange) -> Result<Self, Vec<FieldError>> {
        let mut faults = Vec::new();
        let name = raw.name.and_then(|n| crate::text::parse_name("name", &n).map_err(|e| faults.push(e)).ok());
        let origins = raw.origins.and_then(|list| {
            if list.len() > MAX_ORIGINS {
                faults.push(FieldError::new("cors.origins", format!("An app lists at most {MAX_ORIGINS} origins.")));
                return None;
            }
            let parsed: Vec<_> = list.iter().map(|o| parse_origin("cors.origins", o)).collect();
            let (ok, bad): (Vec<_>, Vec<_>) = parsed.into_iter().partition(Result::is_ok);
            faults.extend(bad.into_iter().filter_map(Result::err));
            let mut unique: Vec<String> = Vec::new();
            for origin in ok.into_iter().filter_map(Result::ok) {
                if !unique.contains(&origin) {
                    unique.push(origin);
                }
            }
            Some(unique)
        });
        let act_as = raw.act_as.and_then(|v| {
            let parsed = ActAs::from_api(&v);
            if parsed.is_none() {
                faults.push(FieldError::new(
                    "actAs",
                    format!("actAs is \"all\", \"none\" or an array of at most {MAX_ACT_AS} account ids."),
                ));
            }
            parsed
        });
        if !faults.is_empty() {
            return Err(faults);
        }
        let (csrf, enabled, require_signature_v2) = (raw.csrf, raw.enabled, raw.require_signature_v2);
        Ok(Self { name, origins, csrf, enabled, require_signature_v2, act_as })
    }
}

/// An app as the API shows it (keys in the order a JSON object of them sorts in).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppView<'a> {
    #[serde(rename = "_id")]
    id: Id,
    act_as: &'a ActAs,
    cors: Cors<'a>,
    created: crate::time::Date,
    csrf: bool,
    enabled: bool,
    key: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_secret_expires: Option<crate::time::Date>,
    require_signature_v2: bool,
}

#[derive(Serialize)]
struct Cors<'a> {
    origins: &'a [String],
}

/// Validates a browser origin allowed by CORS: a scheme (`http` or `https`), a
/// host and an optional port, nothing else (no path, query, user or fragment), and
/// never `null` or `*`, which would open the org's API to any page. Returned in the
/// form browsers send in `Origin` (lowercase scheme and host, no default port).
pub fn parse_origin(path: &str, s: &str) -> Result<String, crate::FieldError> {
    let bad = || {
        crate::FieldError::new(
            path,
            format!("'{s}' is not an origin: a scheme, a host and an optional port, such as https://app.example.com."),
        )
    };
    let trimmed = s.trim();
    if trimmed == "*" || trimmed.eq_ignore_ascii_case("null") || trimmed.len() > 253 + 20 {
        return Err(bad());
    }
    let url = url::Url::parse(trimmed).map_err(|_| bad())?;
    let plain = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
    let no_user = url.username().is_empty() && url.password().is_none();
    let tail_ok = !trimmed.trim_start_matches(url.scheme()).trim_start_matches("://").contains('/');
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() || !plain || !no_user || !tail_ok {
        return Err(bad());
    }
    // `Url` serialises an origin as the browser sends it.
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn origins_are_a_scheme_a_host_and_a_port_and_nothing_else() {
        assert_eq!(parse_origin("origin", "https://App.Example.com").unwrap(), "https://app.example.com");
        assert_eq!(parse_origin("origin", "http://localhost:3000").unwrap(), "http://localhost:3000");
        assert_eq!(parse_origin("origin", "https://a.example:443").unwrap(), "https://a.example");
        for bad in [
            "*",
            "null",
            "NULL",
            "https://a.example/path",
            "https://a.example/",
            "https://a.example?q=1",
            "https://user@a.example",
            "ftp://a.example",
            "a.example",
            "javascript:alert(1)",
            "",
        ] {
            assert!(parse_origin("origin", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_app_shows_everything_but_its_secret() {
        let created = Utc.timestamp_millis_opt(1_764_164_054_569).unwrap();
        let mut app = App::new(Id::from_u96(9), "web".into(), vec!["https://a.example".into()], created);
        app.enabled = false;
        let expected = serde_json::json!({
            "_id": app.id,
            "actAs": "all",
            "name": "web",
            "key": app.key,
            "enabled": false,
            "csrf": true,
            "cors": {"origins": ["https://a.example"]},
            "created": "2025-11-26T13:34:14.569Z",
            "requireSignatureV2": false,
        });
        assert_eq!(app.to_json(), expected);
        // Written straight, the keys come in the order of the JSON object's.
        assert_eq!(serde_json::to_string(&app.view()).unwrap(), serde_json::to_string(&expected).unwrap());
        assert!(!serde_json::to_string(&app.view()).unwrap().contains(&app.secret));
        let rotated = app.rotated(created, Duration::hours(24));
        let shown = serde_json::to_string(&rotated.view()).unwrap();
        assert!(!shown.contains(&rotated.secret) && !shown.contains(&app.secret), "{shown}");
        assert_eq!(rotated.to_json()["previousSecretExpires"], "2025-11-27T13:34:14.569Z");
    }

    #[test]
    fn a_rotated_secret_signs_until_its_grace_ends() {
        let now = Utc.timestamp_millis_opt(1_764_164_054_569).unwrap();
        let app = App::new(Id::from_u96(9), "web".into(), vec![], now);
        let rotated = app.rotated(now, Duration::hours(24));
        assert_ne!(rotated.secret, app.secret);
        assert_eq!(rotated.signing_secrets(now).collect::<Vec<_>>(), [&rotated.secret, &app.secret]);
        let later = now + Duration::hours(24);
        assert_eq!(rotated.signing_secrets(later).collect::<Vec<_>>(), [&rotated.secret]);
        // A second rotation drops the first old secret at once.
        let twice = rotated.rotated(now, Duration::hours(24));
        assert_eq!(twice.signing_secrets(now).collect::<Vec<_>>(), [&twice.secret, &rotated.secret]);
        let no_grace = app.rotated(now, Duration::zero());
        assert_eq!(no_grace.signing_secrets(now).count(), 1);
    }

    #[test]
    fn an_app_change_checks_every_part_and_applies_only_what_it_names() {
        let raw = RawAppChange {
            name: Some(" ".into()),
            origins: Some(vec!["https://ok.example".into(), "*".into()]),
            act_as: Some(serde_json::json!(["nope"])),
            ..RawAppChange::default()
        };
        let faults = AppChange::parse(raw).unwrap_err();
        let paths: Vec<_> = faults.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["name", "cors.origins", "actAs"]);
        let now = Utc.timestamp_millis_opt(1_764_164_054_569).unwrap();
        let app = App::new(Id::from_u96(9), "web".into(), vec!["https://a.example".into()], now);
        let change = AppChange::parse(RawAppChange {
            csrf: Some(false),
            act_as: Some(serde_json::json!("none")),
            ..RawAppChange::default()
        })
        .unwrap();
        let changed = app.changed(change);
        assert!(!changed.csrf);
        assert_eq!(changed.act_as, ActAs::Only(vec![]));
        assert_eq!((changed.name.as_str(), &changed.cors_origins, changed.enabled), ("web", &app.cors_origins, true));
        assert_eq!(ActAs::from_api(&serde_json::json!("all")), Some(ActAs::Any));
        assert_eq!(ActAs::from_api(&serde_json::json!("any")), None);
        assert_eq!(ActAs::Any.to_api(), serde_json::json!("all"));
    }

    #[test]
    fn act_as_reads_all_none_or_a_list_and_round_trips() {
        let (a, b) = (Id::from_u96(1), Id::from_u96(2));
        assert_eq!(ActAs::parse("all"), Some(ActAs::Any));
        assert_eq!(ActAs::parse("none"), Some(ActAs::Only(vec![])));
        assert_eq!(ActAs::parse(&format!("{a}, {b}")), Some(ActAs::Only(vec![a, b])));
        assert_eq!(ActAs::parse("nope"), None);
        assert!(ActAs::Any.allows(a));
        assert!(ActAs::Only(vec![a]).allows(a) && !ActAs::Only(vec![a]).allows(b));
        assert!(!ActAs::Only(vec![]).allows(a));
        for act_as in [ActAs::Any, ActAs::Only(vec![]), ActAs::Only(vec![a, b])] {
            assert_eq!(ActAs::from_stored(act_as.to_stored()), Some(act_as));
        }
    }
}
