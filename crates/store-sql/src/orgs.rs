//! The `OrgStore` impl: org rows, their codes and states. A change to an org's
//! document is the backend's (`Backend::modify_org`): SQLite's group-commit batcher
//! or PostgreSQL's combined writes under the row lock. After a write, the backend
//! keeps the org in its cache or forgets it (`Backend::wrote_org`).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orgbase_domain::org::{Org, OrgCode, OrgProps, OrgState};
use orgbase_domain::paging::{Page, PageRequest};
use orgbase_domain::store::{LinkRequest, Linked, OrgChange, OrgStore};
use orgbase_domain::{DomainError, Id, StoreError};
use sqlx::QueryBuilder;

use crate::backend::{Backend, SqlStore};
use crate::bind::{built, sql};
use crate::cells::Cells;
use crate::dialect::Dialect;
use crate::error::{backend, map_err};
use crate::members::link_row;
use crate::paging::push_keyset;

/// The columns [`org_row`] reads, in table order.
pub const ORG_COLUMNS: &str = "id, code, state, version, created, updated, updater, props, custom_props";

/// Rebuilds an org from a row of [`ORG_COLUMNS`].
pub fn org_row(row: &impl Cells) -> Result<Org, StoreError> {
    let id = row.text("id")?;
    let bad = |what: &str| StoreError::Backend(format!("stored org {id}: bad {what}"));
    // Read before the checks below, so that an unreadable cell is reported as such.
    let (code, state, version) = (row.text("code")?, row.text("state")?, row.int("version")?);
    let (created, updated, updater) = (row.time("created")?, row.time("updated")?, row.opt_text("updater")?);
    let (props, schema) = (row.json("props")?, row.json("custom_props")?);
    Ok(Org {
        id: Id::parse(id).ok_or_else(|| bad("id"))?,
        code: OrgCode::parse(code).map_err(|_| bad("code"))?,
        state: OrgState::parse(state).ok_or_else(|| bad("state"))?,
        version,
        created,
        updated,
        updater: updater.map(|u| Id::parse(u).ok_or_else(|| bad("updater"))).transpose()?,
        props: OrgProps::from_value(props).map_err(|_| bad("props"))?,
        schema: serde_json::from_value(schema).map_err(|_| bad("custom properties"))?,
    })
}

/// Inserts an org row.
pub async fn insert_org_row<D: Dialect>(conn: &mut D::Connection, org: &Org) -> Result<(), StoreError> {
    sql::<D>(
        "INSERT INTO orgs (id, code, name, state, version, created, updated, updater, props) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .id(org.id)
    .text(org.code.as_str())
    .text(&org.props.name)
    .text(org.state.as_str())
    .int(org.version)
    .time(org.created)
    .time(org.updated)
    .opt_id(org.updater)
    .json(&org.props.to_value())?
    .execute(conn)
    .await
    .map_err(|e| map_err(e, "An org with this code already exists."))?;
    Ok(())
}

/// The org with `code`, if any.
pub async fn org_by_code<D: Dialect>(conn: &mut D::Connection, code: &str) -> Result<Option<Org>, StoreError> {
    let query = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE code = $1");
    let row = sql::<D>(&query).text(code).fetch_optional(conn).await.map_err(backend)?;
    row.as_ref().map(org_row).transpose()
}

/// The org with `id`, if any.
pub async fn org_by_id<D: Dialect>(conn: &mut D::Connection, id: Id) -> Result<Option<Org>, StoreError> {
    let query = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = $1");
    let row = sql::<D>(&query).id(id).fetch_optional(conn).await.map_err(backend)?;
    row.as_ref().map(org_row).transpose()
}

/// Sets an org's state, as a new version; the org as it now is.
pub async fn set_org_state_row<D: Dialect>(
    conn: &mut D::Connection,
    id: Id,
    state: OrgState,
    now: DateTime<Utc>,
) -> Result<Org, StoreError> {
    let query = format!(
        "UPDATE orgs SET state = $1, version = version + 1, updated = $2 WHERE id = $3 RETURNING {ORG_COLUMNS}"
    );
    let row = sql::<D>(&query).text(state.as_str()).time(now).id(id).fetch_optional(conn).await.map_err(backend)?;
    row.as_ref().map(org_row).transpose()?.ok_or(StoreError::NotFound)
}

#[async_trait]
impl<B: Backend> OrgStore for SqlStore<B> {
    async fn insert_org(&self, org: &Org, admin: Option<&LinkRequest>) -> Result<Option<Linked>, StoreError> {
        let _changing = self.changing();
        let mut tx = self.begin().await?;
        insert_org_row::<B::Db>(&mut tx, org).await?;
        let linked = match admin {
            None => None,
            Some(admin) => Some(link_row::<B::Db>(&mut tx, org.id, admin, org.created).await?),
        };
        tx.commit().await.map_err(backend)?;
        Ok(linked)
    }

    async fn org_by_code(&self, code: &str) -> Result<Option<Arc<Org>>, StoreError> {
        if let Some(org) = self.cached().and_then(|c| c.org(code)) {
            return Ok(Some(org));
        }
        let read_in = self.cache().generation();
        let org = org_by_code::<B::Db>(&mut *self.read().await?, code).await?.map(Arc::new);
        if let (Some(cache), Some(org)) = (self.cached(), &org) {
            cache.put_org(read_in, Arc::clone(org));
        }
        Ok(org)
    }

    async fn org_by_id(&self, id: Id) -> Result<Option<Org>, StoreError> {
        org_by_id::<B::Db>(&mut *self.read().await?, id).await
    }

    async fn list_orgs(&self, req: &PageRequest) -> Result<Page<Org>, StoreError> {
        let mut q = QueryBuilder::<B::Db>::new(format!("SELECT {ORG_COLUMNS} FROM orgs WHERE 1 = 1"));
        push_keyset(&mut q, "orgs", req);
        let rows = built(&mut q).fetch_all(&mut *self.read().await?).await.map_err(backend)?;
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
        Backend::modify_org(&**self, id, change, updater, now).await
    }

    async fn set_org_state(&self, id: Id, state: OrgState, now: DateTime<Utc>) -> Result<Org, StoreError> {
        let org = set_org_state_row::<B::Db>(&mut *self.write().await?, id, state, now).await?;
        self.wrote_org(&org);
        Ok(org)
    }
}
