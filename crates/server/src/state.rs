//! The application state handed to every handler: the store, the clock, the config,
//! the mailer, the rate limits and the media signing key. Only [`open_store`]
//! decides which backend runs.

use std::sync::Arc;

use orgbase_domain::store::Store;
use orgbase_domain::{Clock, StoreError};
use orgbase_store_postgres::PgStore;
use orgbase_store_sqlite::SqliteStore;

use crate::auth::Limits;
use crate::config::Config;
use crate::mail::Mailer;
use crate::media::MediaKeys;

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
    /// The signing key of media join tokens.
    pub media: Arc<MediaKeys>,
}

impl AppState {
    /// The state for a store, a clock and a config; fails on an unusable mail config.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: Config) -> Result<Self, String> {
        let mailer = Mailer::from_config(&config)?;
        let limits = Limits::new(config.login_attempts_per_minute);
        let media = Arc::new(MediaKeys::new(&config));
        Ok(Self { store, clock, config: Arc::new(config), mailer, limits, media })
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
