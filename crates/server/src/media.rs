//! Media join tokens: what lets a real media server admit a session's participant.
//! orgbase streams no video; it signs a short-lived JWT (HS256) that names the
//! session, the account, its org and its permissions, and the media server checks
//! it with the same key.
//!
//! The key is `media_signing_key` from the config. When that is unset, a random key
//! is made at first start and kept in `{data_dir}/media-signing.key` (mode 0600),
//! so restarts keep it; a media server (or a second node) must then be given the
//! same key. This module owns the key and the claims, not who may have a token
//! (`domain::live_session::can`).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use orgbase_domain::live_session::{LiveSession, Participant, Permissions};
use orgbase_domain::{Id, secret};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::config::{Config, Secret};
use crate::fault::Fault;

/// The `aud` of every join token.
pub const JOIN_TOKEN_AUDIENCE: &str = "orgbase-media";
/// How long a join token is valid.
pub const JOIN_TOKEN_TTL_SECONDS: i64 = 300;
/// What the log says when a media signing key was made.
const MADE_MEDIA_KEY: &str = "made a media signing key; give the media server the same key";
/// The key file in the data dir, used when no key is configured.
pub const KEY_FILE: &str = "media-signing.key";

/// The claims of a join token (documented in `docs/API.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinClaims {
    /// The issuer: orgbase's public URL.
    pub iss: String,
    /// Always [`JOIN_TOKEN_AUDIENCE`].
    pub aud: String,
    /// The participant's account id.
    pub sub: String,
    /// The token's id (also the `_id` of the response).
    pub jti: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Not valid after, seconds since the epoch.
    pub exp: i64,
    /// The session id.
    pub session: String,
    /// The org that owns the session.
    pub org: String,
    /// The org through which the participant takes part.
    pub home_org: String,
    /// True for the session's owner.
    pub owner: bool,
    /// What the participant may do.
    pub permissions: Permissions,
    /// Where the session is served.
    #[serde(rename = "mediaURL")]
    pub media_url: String,
}

impl JoinClaims {
    /// The claims of `participant` in `session`, issued at `now`.
    pub fn new(config: &Config, session: &LiveSession, participant: &Participant, now: DateTime<Utc>) -> Self {
        Self {
            iss: config.public_url(),
            aud: JOIN_TOKEN_AUDIENCE.to_owned(),
            sub: participant.account.to_string(),
            jti: Id::generate(now).to_string(),
            iat: now.timestamp(),
            exp: (now + Duration::seconds(JOIN_TOKEN_TTL_SECONDS)).timestamp(),
            session: session.id.to_string(),
            org: session.org.to_string(),
            home_org: participant.home_org.to_string(),
            owner: participant.account == session.owner,
            permissions: participant.permissions,
            media_url: session.media_url(&config.media_base_url()),
        }
    }
}

/// The fewest bytes a configured media signing key may have (HS256's hash size).
pub const MIN_KEY_BYTES: usize = 32;

/// The signing key of join tokens: the configured one, or the data dir's.
#[derive(Debug)]
pub struct MediaKeys {
    configured: Option<Secret>,
    file: PathBuf,
    key: OnceCell<Secret>,
}

impl MediaKeys {
    /// The keys of a config. Nothing is read or written until [`Self::key`]. A
    /// configured key shorter than [`MIN_KEY_BYTES`] is refused: HS256 with a short
    /// key can be brute-forced offline from one join token.
    pub fn new(config: &Config) -> Result<Self, String> {
        let configured = config.media_signing_key.clone().filter(|k| !k.0.is_empty());
        if let Some(key) = &configured
            && key.0.len() < MIN_KEY_BYTES
        {
            return Err(format!(
                "media_signing_key: {} bytes; it must have at least {MIN_KEY_BYTES} (or leave it unset for a random key)",
                key.0.len()
            ));
        }
        Ok(Self { configured, file: config.data_dir.join(KEY_FILE), key: OnceCell::new() })
    }

    /// The key, loading or making the data dir's key on first use. A failure is
    /// retried on the next call.
    pub async fn key(&self) -> std::io::Result<&Secret> {
        self.key
            .get_or_try_init(|| async {
                if let Some(key) = &self.configured {
                    return Ok(key.clone());
                }
                let file = self.file.clone();
                tokio::task::spawn_blocking(move || load_or_create_key(&file, secret::token, MADE_MEDIA_KEY))
                    .await
                    .map_err(std::io::Error::other)?
            })
            .await
    }

    /// Signs claims into a compact JWT.
    pub async fn sign(&self, claims: &JoinClaims) -> Result<String, Fault> {
        let key = self.key().await.map_err(|e| Fault::internal(&format!("media signing key: {e}")))?;
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(key.0.as_bytes()))
            .map_err(|e| Fault::internal(&e))
    }
}

/// Reads a key file, or creates it with a fresh key from `make` (readable by the
/// owner only); `made` is what the log says when it made one. Two nodes racing on one data dir
/// both end up with the file's key. Also keeps the key that seals app secrets
/// (`state::secret_key`).
pub(crate) fn load_or_create_key(file: &Path, make: impl FnOnce() -> String, made: &str) -> std::io::Result<Secret> {
    match std::fs::read_to_string(file) {
        Ok(s) if !s.trim().is_empty() => return Ok(Secret(s.trim().to_owned())),
        Ok(_) => return Err(std::io::Error::other(format!("{} is empty", file.display()))),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let key = make();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(file) {
        Ok(mut f) => {
            std::io::Write::write_all(&mut f, key.as_bytes())?;
            f.sync_all()?;
            tracing::info!(file = %file.display(), "{made}");
            Ok(Secret(key))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read_to_string(file).map(|s| Secret(s.trim().to_owned()))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unconfigured_key_is_made_once_and_kept_in_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { data_dir: dir.path().join("data"), ..Config::default() };
        let first = MediaKeys::new(&config).unwrap().key().await.unwrap().clone();
        assert_eq!(first.0.len(), 64);
        let again = MediaKeys::new(&config).unwrap().key().await.unwrap().clone();
        assert_eq!(first, again, "a restart keeps the key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(config.data_dir.join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let key = "configured-key-of-32-bytes-012345";
        let configured = Config { media_signing_key: Some(Secret(key.into())), ..config.clone() };
        assert_eq!(MediaKeys::new(&configured).unwrap().key().await.unwrap().0, key);
        let short = Config { media_signing_key: Some(Secret(key[..31].into())), ..config };
        let refused = MediaKeys::new(&short).unwrap_err();
        assert!(refused.contains("31 bytes") && !refused.contains(&key[..31]), "{refused}");
    }
}
