//! Errors of the domain and of the storage port. The server maps [`DomainError`] to
//! the API's fault format; nothing here knows HTTP status codes.

/// One invalid field of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The property path, dotted (`configuration.email.locationBypass`).
    pub path: String,
    /// What is wrong, for people.
    pub reason: String,
}

impl FieldError {
    /// A field error at `path`.
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { path: path.into(), reason: reason.into() }
    }
}

/// A failure of a storage backend.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken (a duplicate code, email, key…).
    #[error("already exists: {0}")]
    Exists(String),
    /// The object to change does not exist.
    #[error("not found")]
    NotFound,
    /// The stored version differs from the expected one (optimistic concurrency).
    #[error("version conflict")]
    VersionConflict,
    /// The change would break an invariant (the last administrator…).
    #[error("invariant: {0}")]
    Invariant(String),
    /// The object's state refuses the change (an ended session, a room in use).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backend itself failed; the message is for logs only.
    #[error("storage backend: {0}")]
    Backend(String),
    /// The storage is full (SQLite's `SQLITE_FULL`, PostgreSQL's `disk_full`): writes
    /// fail until space is freed; reads may still work. The message is for logs only.
    #[error("storage full: {0}")]
    StorageFull(String),
    /// The database cannot be reached now (connection refused or lost, a pool
    /// timeout, a server shutting down or starting up). The message is for logs only.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// Whether the backend itself failed (rather than refusing the change): the
    /// transaction the error happened in may be gone.
    pub fn is_backend_failure(&self) -> bool {
        matches!(self, Self::Backend(_) | Self::StorageFull(_) | Self::Unavailable(_))
    }
}

/// A failure of a domain operation.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Input failed validation; each cause names its path.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// A uniqueness rule was broken.
    #[error("already exists: {0}")]
    Exists(String),
    /// The object does not exist, or the caller may not know that it does.
    #[error("not found")]
    NotFound,
    /// The caller may not do this.
    #[error("access denied: {reason}")]
    AccessDenied {
        /// The property, when one is concerned.
        path: Option<String>,
        /// Why, for people.
        reason: String,
    },
    /// The state of the object does not allow this operation.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A token or invitation has expired.
    #[error("expired")]
    Expired,
    /// `If-Match` named an older version.
    #[error("precondition failed")]
    PreconditionFailed,
    /// The storage backend failed.
    #[error(transparent)]
    Store(StoreError),
}

impl DomainError {
    /// One validation error at `path`.
    pub fn invalid(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(path, reason)])
    }
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Exists(what) => Self::Exists(what),
            StoreError::NotFound => Self::NotFound,
            StoreError::VersionConflict => Self::PreconditionFailed,
            StoreError::Invariant(why) => Self::Conflict(why),
            StoreError::Conflict(reason) => Self::Conflict(reason),
            other => Self::Store(other),
        }
    }
}
