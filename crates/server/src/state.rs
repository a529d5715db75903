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

/// Opens the backend named by the config (running its migrations): PostgreSQL for a
/// `postgres://` URL, otherwise SQLite.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StoreError> {
    match config.database_url.as_ref().map(|s| s.0.as_str()) {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(orgbase_store_postgres::connect(url).await?))
        }
        Some(url) => Ok(Arc::new(orgbase_store_sqlite::open_url(url).await?)),
        None => Ok(Arc::new(orgbase_store_sqlite::open_dir(&config.data_dir).await?)),
    }
}
