//! Apps: each org's API clients. The key is public and names the app; the secret signs
//! server-to-server requests and is shown once, when the app is created.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{Id, secret};

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
        }
    }

    /// The app as the org's `apps` property shows it: never the secret.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.view()).unwrap_or_default()
    }

    /// [`App::to_json`] without building it: serialised straight into the output.
    pub fn view(&self) -> AppView<'_> {
        AppView {
            id: self.id,
            cors: Cors { origins: &self.cors_origins },
            created: crate::org::Date(self.created),
            enabled: self.enabled,
            key: &self.key,
            name: &self.name,
        }
    }
}

/// An app as the API shows it (keys in the order a JSON object of them sorts in).
#[derive(Serialize)]
pub struct AppView<'a> {
    #[serde(rename = "_id")]
    id: Id,
    cors: Cors<'a>,
    created: crate::org::Date,
    enabled: bool,
    key: &'a str,
    name: &'a str,
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
            "name": "web",
            "key": app.key,
            "enabled": false,
            "cors": {"origins": ["https://a.example"]},
            "created": "2025-11-26T13:34:14.569Z",
        });
        assert_eq!(app.to_json(), expected);
        // Written straight, the keys come in the order of the JSON object's.
        assert_eq!(serde_json::to_string(&app.view()).unwrap(), serde_json::to_string(&expected).unwrap());
        assert!(!serde_json::to_string(&app.view()).unwrap().contains(&app.secret));
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
