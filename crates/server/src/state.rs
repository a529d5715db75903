//! The application state handed to every handler: the store, the clock, the config,
//! the mailer, the rate limits and the media signing key. Only [`open_store`]
//! decides which backend runs.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};

use bytes::Bytes;
use orgbase_domain::Id;
use orgbase_domain::access::Subject;
use orgbase_domain::app::App;
use orgbase_domain::org::Org;
use orgbase_domain::sealed::SecretKey;

use orgbase_domain::store::Store;
use orgbase_domain::{Clock, StoreError};

use crate::auth::Limits;
use crate::config::Config;
use crate::mail::Mailer;
use crate::media::MediaKeys;

/// Org bodies as rendered for each kind of caller, kept per org version. A body
/// depends on the org (its version), the caller's relation and roles, the apps
/// (shown to administrators) and whether invitations are pending (shown to
/// members); an entry answers only when all of them match.
#[derive(Default)]
pub struct OrgBodies(std::sync::RwLock<Bodies>);

#[derive(Default)]
struct Bodies {
    entries: usize,
    by_org: HashMap<Id, Vec<Rendered>>,
}

struct Rendered {
    version: i64,
    subject: Subject,
    apps: Vec<App>,
    shared: bool,
    body: Bytes,
}

/// Past this many bodies the cache starts over, so it stays bounded.
const MAX_BODIES: usize = 4_096;

impl OrgBodies {
    /// The body of this version of `org` for these inputs, if rendered.
    pub fn get(&self, org: &Org, subject: &Subject, apps: &[App], shared: bool) -> Option<Bytes> {
        let bodies = self.0.read().unwrap_or_else(PoisonError::into_inner);
        let rendered = bodies
            .by_org
            .get(&org.id)?
            .iter()
            .find(|r| r.version == org.version && r.shared == shared && r.subject == *subject && r.apps == apps)?;
        Some(rendered.body.clone())
    }

    /// Keeps `body` as the rendering of `org` for these inputs, replacing the
    /// renderings of older versions, and returns it.
    pub fn put(&self, org: &Org, subject: Subject, apps: Vec<App>, shared: bool, body: Bytes) -> Bytes {
        let mut bodies = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if bodies.entries >= MAX_BODIES {
            *bodies = Bodies::default();
        }
        let Bodies { entries, by_org } = &mut *bodies;
        let kept = by_org.entry(org.id).or_default();
        if kept.iter().any(|r| r.version > org.version) {
            return body;
        }
        let before = kept.len();
        kept.retain(|r| r.version == org.version && !(r.subject == subject && r.apps == apps && r.shared == shared));
        kept.push(Rendered { version: org.version, subject, apps, shared, body: body.clone() });
        *entries = *entries - before + kept.len();
        body
    }
}

/// Shared by every request; cloning it is one reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Shared {
    /// The storage backend.
    pub store: Arc<dyn Store>,
    /// The source of time.
    pub clock: Arc<dyn Clock>,
    /// The loaded configuration.
    pub config: Arc<Config>,
    /// Outgoing mail.
    pub mailer: Mailer,
    /// Login and registration rate limits.
    pub limits: Arc<Limits>,
    /// The signing key of media join tokens.
    pub media: Arc<MediaKeys>,
    /// Org bodies, rendered once per version and kind of caller.
    pub org_bodies: OrgBodies,
}

impl AppState {
    /// The state for a store, a clock and a config; fails on an unusable config
    /// (`Config::check`) or mail config.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: Config) -> Result<Self, String> {
        config.check()?;
        let mailer = Mailer::from_config(&config)?;
        let limits = Limits::new(config.login_attempts_per_minute);
        let media = Arc::new(MediaKeys::new(&config)?);
        Ok(Self(Arc::new(Shared {
            store,
            clock,
            config: Arc::new(config),
            mailer,
            limits,
            media,
            org_bodies: OrgBodies::default(),
        })))
    }
}

/// The key file in the data dir that seals app secrets on SQLite when
/// `secret_key` (`ORGBASE_SECRET_KEY`) is unset.
pub const SECRET_KEY_FILE: &str = "app-secrets.key";

/// What the log says when the data dir's key was made.
const MADE_SECRET_KEY: &str = "made the key that seals app secrets; back it up apart from the database";

/// Where the key that seals app secrets comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `secret_key` in the config (`ORGBASE_SECRET_KEY`).
    Config,
    /// [`SECRET_KEY_FILE`] in the data dir (SQLite only).
    DataDir,
}

fn is_postgres(config: &Config) -> bool {
    config.database_url.as_ref().is_some_and(|u| u.0.starts_with("postgres://") || u.0.starts_with("postgresql://"))
}

/// The key that seals app secrets: the configured one (64 hex characters), or on
/// SQLite the data dir's, made once (mode 0600). PostgreSQL serves several nodes,
/// which must all hold the same key: there it must be configured.
pub fn secret_key(config: &Config) -> Result<(SecretKey, KeySource), String> {
    if let Some(configured) = config.secret_key.as_ref().filter(|k| !k.0.trim().is_empty()) {
        let key = SecretKey::parse_hex(&configured.0).map_err(|e| format!("secret_key (ORGBASE_SECRET_KEY): {e}"))?;
        return Ok((key, KeySource::Config));
    }
    if is_postgres(config) {
        return Err("ORGBASE_SECRET_KEY (secret_key) is required with PostgreSQL: 64 hex characters, the same on \
                    every node (make one with `openssl rand -hex 32`); it seals the apps' secrets in the database"
            .into());
    }
    let file = config.data_dir.join(SECRET_KEY_FILE);
    let key = crate::media::load_or_create_key(&file, || SecretKey::generate().to_hex(), MADE_SECRET_KEY)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let key = SecretKey::parse_hex(&key.0).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok((key, KeySource::DataDir))
}

/// Opens the backend named by the config (running its migrations): PostgreSQL for a
/// `postgres://` URL, otherwise SQLite; app secrets sealed under [`secret_key`].
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, String> {
    let (key, _) = secret_key(config)?;
    open_store_with(config, key).await
}

/// [`open_store`] with app secrets sealed under `key`. Secrets still stored in
/// the clear (from before sealing) are sealed now.
pub async fn open_store_with(config: &Config, key: SecretKey) -> Result<Arc<dyn Store>, String> {
    let opened: Result<Arc<dyn Store>, StoreError> = match config.database_url.as_ref().map(|s| s.0.as_str()) {
        Some(url) if is_postgres(config) => {
            orgbase_store_postgres::connect(url).await.map(|s| Arc::new(s.sealing_with(key)) as Arc<dyn Store>)
        }
        Some(url) => orgbase_store_sqlite::open_url(url).await.map(|s| Arc::new(s.sealing_with(key)) as Arc<dyn Store>),
        None => orgbase_store_sqlite::open_dir(&config.data_dir)
            .await
            .map(|s| Arc::new(s.sealing_with(key)) as Arc<dyn Store>),
    };
    let store = opened.map_err(|e| format!("database: {e}"))?;
    store.reseal_app_secrets(None).await.map_err(|e| format!("sealing app secrets: {e}"))?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn postgres_without_a_configured_key_is_refused_with_a_message_that_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            database_url: Some(Secret("postgres://db.invalid/orgbase".into())),
            ..Config::default()
        };
        let refused = secret_key(&config).unwrap_err();
        assert!(refused.contains("ORGBASE_SECRET_KEY") && refused.contains("PostgreSQL"), "{refused}");
        assert!(!dir.path().join(SECRET_KEY_FILE).exists(), "no key file is made for PostgreSQL");
        let key = SecretKey::generate();
        let configured = Config { secret_key: Some(Secret(key.to_hex())), ..config.clone() };
        assert_eq!(secret_key(&configured).unwrap(), (key, KeySource::Config));
        let bad = Config { secret_key: Some(Secret("not hex".into())), ..config };
        assert!(secret_key(&bad).unwrap_err().contains("64 hex"));
    }

    #[test]
    fn on_sqlite_a_key_is_made_once_in_the_data_dir_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { data_dir: dir.path().join("data"), ..Config::default() };
        let (first, source) = secret_key(&config).unwrap();
        assert_eq!(source, KeySource::DataDir);
        assert_eq!(secret_key(&config).unwrap().0, first, "a restart keeps the key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(config.data_dir.join(SECRET_KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
