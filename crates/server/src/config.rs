//! Configuration, layered: defaults, then `orgbase.toml` (or `--config`), then
//! `ORGBASE_*` environment variables, then command-line flags. Every CLI command reads
//! the same layers, so `orgbase org list` sees the data that `orgbase serve` serves.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// A secret string that never appears in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// orgbase's configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The address `serve` listens on.
    pub bind: String,
    /// Where the embedded SQLite database (and other local data) lives.
    pub data_dir: PathBuf,
    /// `postgres://…` runs on PostgreSQL; `sqlite:…` names a SQLite file; unset means
    /// `orgbase.db` in `data_dir`.
    pub database_url: Option<Secret>,
    /// The bearer token of the platform API (`/platform/v1`). Unset disables it.
    pub operator_token: Option<Secret>,
    /// The public base URL, for links in mail and for `Secure` cookies (https).
    pub public_url: Option<String>,
    /// The `SameSite` attribute of the session cookie (`ORGBASE_COOKIE_SAMESITE`):
    /// `lax` (default), `strict` or `none`. `none` sends the cookie with requests from
    /// pages on other sites, and needs an https `public_url` (see [`Config::check`]).
    pub cookie_samesite: SameSite,
    /// `smtp://host:port` for outgoing mail; unset writes mail to a log in `data_dir`.
    pub smtp_url: Option<Secret>,
    /// The sender of orgbase's mail.
    pub mail_from: String,
    /// The base URL of the media server that session `mediaURL`s point at; unset
    /// means `{public_url}/media`.
    pub media_base_url: Option<String>,
    /// The HS256 key of media join tokens, shared with the media server. Unset
    /// means a random key made at first start and kept in `data_dir`.
    pub media_signing_key: Option<Secret>,
    /// The key that seals app secrets in the database: 64 hex characters. Unset
    /// on SQLite means a random key made at first start and kept in `data_dir`
    /// (`app-secrets.key`); PostgreSQL refuses to start without it.
    pub secret_key: Option<Secret>,
    /// The largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Seconds a request may take before it is answered 408.
    pub request_timeout: u64,
    /// Seconds a client has to send a request's headers, counted from when the
    /// connection waits for them (a new connection, or a kept-alive one after its
    /// last answer): a client that sends half its headers and stops is closed.
    pub header_read_timeout: u64,
    /// Seconds a connection may go without sending anything while the server waits
    /// to read from it (also between the requests of a kept-alive connection)
    /// before it is closed. Keep it above `request_timeout`.
    pub idle_timeout: u64,
    /// The most client connections one server holds at once. At the cap, new ones
    /// wait in the kernel's accept queue until one closes. Keep it below the
    /// process's open-file limit (`ulimit -n`), leaving room for the database and logs.
    pub max_connections: usize,
    /// `json` (default) or `pretty` logs.
    pub log_format: String,
    /// Login, registration and reset attempts allowed per minute for one email
    /// from one client address (refused past it, 429). A client address gets five
    /// times as many across emails (refused past it); one email gets three times
    /// as many per ten minutes across addresses, past which answers are delayed,
    /// never refused (see `auth::Limits`).
    pub login_attempts_per_minute: u32,
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` headers name the
    /// client (CIDRs or addresses; in the environment, separated by commas).
    /// Empty: the peer address is the client.
    pub trusted_proxies: TrustedProxies,
    /// Seconds an app's previous secret keeps signing after a rotation
    /// (`rotate-secret`), so that its servers can switch without an outage;
    /// 0 ends it at once. Default one day.
    pub app_secret_grace: u64,
}

/// The `SameSite` attribute of the session cookie, read case-insensitively.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SameSite {
    /// Sent with requests from pages of the same site (any port of the same host
    /// counts) and with top-level navigations to orgbase.
    #[default]
    Lax,
    /// Sent only with requests from orgbase's own site.
    Strict,
    /// Sent with requests from any site: for apps whose pages live on another
    /// site. Browsers take it only from a `Secure` cookie.
    None,
}

impl SameSite {
    /// The attribute's value in `Set-Cookie`.
    pub fn attribute(self) -> &'static str {
        match self {
            Self::Lax => "Lax",
            Self::Strict => "Strict",
            Self::None => "None",
        }
    }
}

impl Serialize for SameSite {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.attribute().to_ascii_lowercase())
    }
}

impl<'de> Deserialize<'de> for SameSite {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        match raw.trim().to_ascii_lowercase().as_str() {
            "lax" => Ok(Self::Lax),
            "strict" => Ok(Self::Strict),
            "none" => Ok(Self::None),
            _ => Err(serde::de::Error::custom(format!("cookie_samesite: '{raw}' is not lax, strict or none"))),
        }
    }
}

/// The trusted reverse proxies: a list of networks, read from a list or from one
/// string of CIDRs separated by commas (`ORGBASE_TRUSTED_PROXIES=10.0.0.0/8,::1`).
/// A bare address is a network of one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<ipnet::IpNet>);

impl TrustedProxies {
    /// Parses CIDRs or addresses.
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in items.into_iter().map(str::trim).filter(|s| !s.is_empty()) {
            let net = item
                .parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("trusted_proxies: '{item}' is not a CIDR or an IP address"))?;
            nets.push(net);
        }
        Ok(Self(nets))
    }
}

impl Serialize for TrustedProxies {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(ToString::to_string))
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(Vec<String>),
        }
        let parsed = match Raw::deserialize(deserializer)? {
            Raw::One(s) => Self::parse(s.split(',')),
            Raw::Many(list) => Self::parse(list.iter().map(String::as_str)),
        };
        parsed.map_err(serde::de::Error::custom)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("orgbase-data"),
            database_url: None,
            operator_token: None,
            public_url: None,
            cookie_samesite: SameSite::Lax,
            smtp_url: None,
            media_base_url: None,
            mail_from: "orgbase <no-reply@orgbase.invalid>".into(),
            media_signing_key: None,
            secret_key: None,
            body_limit: 1024 * 1024,
            request_timeout: 30,
            header_read_timeout: 10,
            idle_timeout: 60,
            max_connections: 768,
            log_format: "json".into(),
            login_attempts_per_minute: 10,
            trusted_proxies: TrustedProxies::default(),
            app_secret_grace: 24 * 60 * 60,
        }
    }
}

/// Values given on the command line, the last layer.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    /// `--bind`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--database-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

impl Config {
    /// Loads the layers. `file` defaults to `orgbase.toml` in the working directory
    /// (absent is fine).
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, figment::Error> {
        let file = file.map_or_else(|| PathBuf::from("orgbase.toml"), Path::to_path_buf);
        Figment::from(Serialized::defaults(Self::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("ORGBASE_").ignore(&["config", "test_postgres_url"]))
            .merge(Serialized::defaults(overrides))
            .extract()
    }

    /// Refuses settings that load but cannot work together: a `SameSite=None`
    /// cookie must be `Secure` (browsers drop it otherwise), and orgbase marks the
    /// cookie `Secure` only when the public URL is https.
    pub fn check(&self) -> Result<(), String> {
        if self.cookie_samesite == SameSite::None && !self.secure_cookies() {
            return Err(format!(
                "cookie_samesite = \"none\" (ORGBASE_COOKIE_SAMESITE) needs an https public URL \
                 (ORGBASE_PUBLIC_URL), as browsers take a SameSite=None cookie only when it is Secure, \
                 and orgbase sends Secure cookies only under an https public URL; the public URL is {}",
                self.public_url()
            ));
        }
        Ok(())
    }

    /// True when cookies are `Secure`: the public URL is https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url().starts_with("https://")
    }

    /// The public URL, defaulting to `http://{bind}`.
    pub fn public_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.bind)).trim_end_matches('/').to_owned()
    }

    /// The media server's base URL, defaulting to `{public_url}/media` (a path a
    /// reverse proxy can route to the media server).
    pub fn media_base_url(&self) -> String {
        match &self.media_base_url {
            Some(url) if !url.trim().is_empty() => url.trim().trim_end_matches('/').to_owned(),
            _ => format!("{}/media", self.public_url()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let config = Config {
            operator_token: Some(Secret("hunter2".into())),
            media_signing_key: Some(Secret("media-key-hunter3".into())),
            ..Config::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("hunter3"));
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn flags_override_the_file_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("orgbase.toml");
        std::fs::write(&file, "bind = \"127.0.0.1:9000\"\nbody_limit = 10\n").unwrap();
        let config =
            Config::load(Some(&file), &Overrides { bind: Some("127.0.0.1:9100".into()), ..Overrides::default() })
                .unwrap();
        assert_eq!(config.bind, "127.0.0.1:9100");
        assert_eq!(config.body_limit, 10);
        assert_eq!(config.data_dir, PathBuf::from("orgbase-data"));
    }

    #[test]
    fn trusted_proxies_read_a_comma_list_or_a_toml_list() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("orgbase.toml");
        std::fs::write(&file, "trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n").unwrap();
        let config = Config::load(Some(&file), &Overrides::default()).unwrap();
        let want: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        assert_eq!(config.trusted_proxies.0, want);
        let from_env: TrustedProxies = serde_json::from_value(serde_json::json!("10.0.0.0/8, ::1")).unwrap();
        assert_eq!(from_env.0, want);
        assert!(serde_json::from_value::<TrustedProxies>(serde_json::json!("10.0.0.0/99")).is_err());
        assert!(serde_json::from_value::<TrustedProxies>(serde_json::json!("")).unwrap().0.is_empty());
    }

    #[test]
    fn cookie_samesite_reads_lax_strict_or_none_and_none_needs_https() {
        assert_eq!(Config::default().cookie_samesite, SameSite::Lax);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("orgbase.toml");
        for (raw, want) in [("lax", SameSite::Lax), ("Strict", SameSite::Strict), ("NONE", SameSite::None)] {
            std::fs::write(&file, format!("cookie_samesite = \"{raw}\"\n")).unwrap();
            assert_eq!(Config::load(Some(&file), &Overrides::default()).unwrap().cookie_samesite, want);
        }
        std::fs::write(&file, "cookie_samesite = \"sometimes\"\n").unwrap();
        let err = Config::load(Some(&file), &Overrides::default()).unwrap_err().to_string();
        assert!(err.contains("not lax, strict or none"), "{err}");

        let none = Config { cookie_samesite: SameSite::None, ..Config::default() };
        let err = none.check().unwrap_err();
        assert!(err.contains("https") && err.contains("ORGBASE_PUBLIC_URL"), "{err}");
        let none_over_https = Config { public_url: Some("https://orgs.example".into()), ..none };
        assert!(none_over_https.check().is_ok());
        assert!(Config { cookie_samesite: SameSite::Strict, ..Config::default() }.check().is_ok());
    }

    #[test]
    fn the_media_base_url_defaults_below_the_public_url() {
        let config = Config { public_url: Some("https://orgs.example/".into()), ..Config::default() };
        assert_eq!(config.media_base_url(), "https://orgs.example/media");
        let config = Config { media_base_url: Some("wss://media.example/".into()), ..config };
        assert_eq!(config.media_base_url(), "wss://media.example");
    }
}
