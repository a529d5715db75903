//! The application state handed to every handler: the store, the clock, the config,
//! the mailer, the rate limits and the media signing key. Only [`open_store`]
//! decides which backend runs.

use std::collections::HashMap;
use std::sync::Arc;

use orgbase_domain::Id;

use orgbase_domain::store::Store;
use orgbase_domain::{Clock, StoreError};
use orgbase_store_postgres::PgStore;
use orgbase_store_sqlite::SqliteStore;

use crate::auth::Limits;
use crate::config::Config;
use crate::mail::Mailer;
use crate::media::MediaKeys;

/// One async lock per org, so this node applies writes to an org one at a time:
/// optimistic retries are then needed only against other nodes, and a burst of
/// concurrent writes queues instead of retrying against itself.
#[derive(Default)]
pub struct OrgWriteLocks(std::sync::Mutex<HashMap<Id, Arc<tokio::sync::Mutex<()>>>>);

impl OrgWriteLocks {
    /// Waits for this node's turn to write `org`.
    pub async fn lock(&self, org: Id) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // Forget locks nobody holds or waits for, so the map stays small.
            locks.retain(|_, l| Arc::strong_count(l) > 1);
            locks.entry(org).or_default().clone()
        };
        lock.lock_owned().await
    }
}

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
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
    /// Serialises this node's writes per org.
    pub org_writes: Arc<OrgWriteLocks>,
    /// The signing key of media join tokens.
    pub media: Arc<MediaKeys>,
}

impl AppState {
    /// The state for a store, a clock and a config; fails on an unusable mail config.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: Config) -> Result<Self, String> {
        let mailer = Mailer::from_config(&config)?;
        let limits = Limits::new(config.login_attempts_per_minute);
        let media = Arc::new(MediaKeys::new(&config));
        Ok(Self { store, clock, config: Arc::new(config), mailer, limits, media, org_writes: Arc::default() })
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
