//! The `OrgStore` impl on PostgreSQL: org rows, their codes and states. A change to
//! an org's document goes through `org_writes.rs`, which combines a node's changes
//! to one org under the row lock; a write here evicts the org from the cache
//! (`forget_org`), since the other nodes learn of it through `listener.rs`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orgbase_domain::org::{Org, OrgState};
use orgbase_domain::paging::{Page, PageRequest};
use orgbase_domain::store::{LinkRequest, Linked, OrgChange, OrgStore};
use orgbase_domain::{DomainError, Id, StoreError};
use orgbase_store_sql::orgs::{self, ORG_COLUMNS, org_row};
use sqlx::{Postgres, QueryBuilder};

use crate::members::link_row;
use crate::sql::push_keyset;
use crate::{PgStore, backend};

#[async_trait]
impl OrgStore for PgStore {
    async fn insert_org(&self, org: &Org, admin: Option<&LinkRequest>) -> Result<Option<Linked>, StoreError> {
        let _changing = self.changing();
        let mut tx = self.writer().begin().await.map_err(backend)?;
        orgs::insert_org_row::<Postgres>(&mut tx, org).await?;
        let linked = match admin {
            None => None,
            Some(admin) => Some(link_row(&mut tx, org.id, admin, org.created).await?),
        };
        tx.commit().await.map_err(backend)?;
        Ok(linked)
    }

    async fn org_by_code(&self, code: &str) -> Result<Option<Arc<Org>>, StoreError> {
        if let Some(org) = self.cached().and_then(|c| c.org(code)) {
            return Ok(Some(org));
        }
        let read_in = self.cache.generation();
        let mut conn = self.reader().acquire().await.map_err(backend)?;
        let org = orgs::org_by_code::<Postgres>(&mut conn, code).await?.map(Arc::new);
        if let (Some(cache), Some(org)) = (self.cached(), &org) {
            cache.put_org(read_in, Arc::clone(org));
        }
        Ok(org)
    }

    async fn org_by_id(&self, id: Id) -> Result<Option<Org>, StoreError> {
        let mut conn = self.reader().acquire().await.map_err(backend)?;
        orgs::org_by_id::<Postgres>(&mut conn, id).await
    }

    async fn list_orgs(&self, req: &PageRequest) -> Result<Page<Org>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {ORG_COLUMNS} FROM orgs WHERE 1 = 1"));
        push_keyset(&mut q, "orgs", req);
        let rows = q.build().fetch_all(self.reader()).await.map_err(backend)?;
        let orgs = rows.iter().map(org_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(orgs, req))
    }

    async fn modify_org(
        &self,
        id: Id,
        change: OrgChange,
        updater: Option<Id>,
        now: DateTime<Utc>,
    ) -> Result<Org, DomainError> {
        self.org_writes.modify(&self.pool, &self.cache, id, change, updater, now).await
    }

    async fn set_org_state(&self, id: Id, state: OrgState, now: DateTime<Utc>) -> Result<Org, StoreError> {
        let mut conn = self.writer().acquire().await.map_err(backend)?;
        let org = orgs::set_org_state_row::<Postgres>(&mut conn, id, state, now).await?;
        self.cache.forget_org(id);
        Ok(org)
    }
}
