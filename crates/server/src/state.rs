//! The application state handed to every handler: the store, the clock, the config,
//! the mailer, the rate limits and the media signing key. Only [`open_store`]
//! decides which backend runs.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};

use bytes::Bytes;
use orgbase_domain::Id;
use orgbase_domain::org::Org;

use orgbase_domain::store::Store;
use orgbase_domain::{Clock, StoreError};
use orgbase_store_postgres::PgStore;
use orgbase_store_sqlite::SqliteStore;

use crate::auth::Limits;
use crate::config::Config;
use crate::mail::Mailer;
use crate::media::MediaKeys;

/// The public body of each org (what a caller who is not logged in reads), rendered
/// once per version.
#[derive(Default)]
pub struct PublicOrgs(std::sync::RwLock<HashMap<Id, (i64, Bytes)>>);

/// Past this many orgs the cache starts over, so it stays bounded.
const PUBLIC_ORGS_MAX: usize = 10_000;

impl PublicOrgs {
    /// The rendered body of this version of `org`, if rendered.
    pub fn get(&self, org: &Org) -> Option<Bytes> {
        let bodies = self.0.read().unwrap_or_else(PoisonError::into_inner);
        bodies.get(&org.id).filter(|(version, _)| *version == org.version).map(|(_, body)| body.clone())
    }

    /// Keeps `body` as the rendering of `org` (unless a newer version is kept) and
    /// returns it.
    pub fn put(&self, org: &Org, body: Bytes) -> Bytes {
        let mut bodies = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if bodies.len() >= PUBLIC_ORGS_MAX {
            bodies.clear();
        }
        match bodies.get(&org.id) {
            Some((version, _)) if *version > org.version => {}
            _ => {
                bodies.insert(org.id, (org.version, body.clone()));
            }
        }
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
    /// The public org bodies, rendered once per version.
    pub public_orgs: PublicOrgs,
}

impl AppState {
    /// The state for a store, a clock and a config; fails on an unusable mail config.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: Config) -> Result<Self, String> {
        let mailer = Mailer::from_config(&config)?;
        let limits = Limits::new(config.login_attempts_per_minute);
        let media = Arc::new(MediaKeys::new(&config));
        Ok(Self(Arc::new(Shared {
            store,
            clock,
            config: Arc::new(config),
            mailer,
            limits,
            media,
            public_orgs: PublicOrgs::default(),
        })))
    }
}

/// Opens the backend named by the config (running its migrations): PostgreSQL for a
/// `postgres://` URL, otherwise SQLite.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StoreError> {
    match config.database_url.as_ref().map(|s| s.0.as_str()) {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(PgStore::connect(url).await?))
        }
        Some(url) => Ok(Arc::new(SqliteStore::open_url(url).await?)),
        None => Ok(Arc::new(SqliteStore::open_dir(&config.data_dir).await?)),
    }
}
