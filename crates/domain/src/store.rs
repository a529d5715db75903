//! The storage port: narrow traits that each backend (`store-sqlite`,
//! `store-postgres`) implements, and that `store-tests` checks with one conformance
//! suite. Invariants that need atomicity live inside one method, in one transaction.

use async_trait::async_trait;

use crate::app::App;
use crate::org::{Org, OrgState};
use crate::paging::{Page, PageRequest};
use crate::{Id, StoreError};

/// The fields orgs can be sorted by; the first is the default.
pub const ORG_SORT_FIELDS: &[&str] = &["_id", "code", "name", "created"];

/// Organisations.
#[async_trait]
pub trait OrgStore: Send + Sync {
    /// Inserts a new org. A taken code is [`StoreError::Exists`].
    async fn insert_org(&self, org: &Org) -> Result<(), StoreError>;
    /// The org with this code.
    async fn org_by_code(&self, code: &str) -> Result<Option<Org>, StoreError>;
    /// The org with this id.
    async fn org_by_id(&self, id: Id) -> Result<Option<Org>, StoreError>;
    /// A page of orgs.
    async fn list_orgs(&self, page: &PageRequest) -> Result<Page<Org>, StoreError>;
    /// Sets the state, bumping the version. Returns the updated org.
    async fn set_org_state(
        &self,
        id: Id,
        state: OrgState,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Org, StoreError>;
}

/// Apps and their credentials.
#[async_trait]
pub trait AppStore: Send + Sync {
    /// Inserts an app. A taken key is [`StoreError::Exists`].
    async fn insert_app(&self, app: &App) -> Result<(), StoreError>;
    /// The app with this client key.
    async fn app_by_key(&self, key: &str) -> Result<Option<App>, StoreError>;
    /// The apps of an org, oldest first.
    async fn apps_of_org(&self, org: Id) -> Result<Vec<App>, StoreError>;
}

/// Everything a backend provides.
#[async_trait]
pub trait Store: OrgStore + AppStore + Send + Sync {
    /// `"sqlite"` or `"postgres"`, for logs and metrics only.
    fn backend(&self) -> &'static str;
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
}
