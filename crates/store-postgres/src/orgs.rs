//! The `OrgStore` impl on PostgreSQL: org rows, their codes and states, and the org document writes.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orgbase_domain::org::{Org, OrgState, org_from_row};
use orgbase_domain::paging::{Page, PageRequest};
use orgbase_domain::store::{LinkRequest, Linked, OrgChange, OrgStore};
use orgbase_domain::{DomainError, Id, StoreError};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{QueryBuilder, Row};

use crate::members::link_row;
use crate::sql::push_keyset;
use crate::{PgStore, backend, map_err};

pub(crate) const ORG_COLUMNS: &str = "id, code, state, version, created, updated, updater, props, custom_props";

pub(crate) fn org_row(row: &PgRow) -> Result<Org, StoreError> {
    let Json(props): Json<serde_json::Value> = row.try_get("props").map_err(backend)?;
    let Json(schema): Json<serde_json::Value> = row.try_get("custom_props").map_err(backend)?;
    org_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("code").map_err(backend)?,
        row.try_get("state").map_err(backend)?,
        row.try_get("version").map_err(backend)?,
        row.try_get("created").map_err(backend)?,
        row.try_get("updated").map_err(backend)?,
        row.try_get("updater").map_err(backend)?,
        props,
        schema,
    )
}

#[async_trait]
impl OrgStore for PgStore {
    async fn insert_org(&self, org: &Org, admin: Option<&LinkRequest>) -> Result<Option<Linked>, StoreError> {
        let _changing = self.cache.changing();
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query(
            "INSERT INTO orgs (id, code, name, state, version, created, updated, updater, props) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(org.id.to_string())
        .bind(org.code.as_str())
        .bind(&org.props.name)
        .bind(org.state.as_str())
        .bind(org.version)
        .bind(org.created)
        .bind(org.updated)
        .bind(org.updater.map(|u| u.to_string()))
        .bind(Json(org.props.to_value()))
        .execute(&mut *tx)
        .await
        .map_err(|e| map_err(e, "An org with this code already exists."))?;
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
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE code = $1");
        let row = sqlx::query(&sql).bind(code).fetch_optional(&self.pool).await.map_err(backend)?;
        let org = row.as_ref().map(org_row).transpose()?.map(Arc::new);
        if let (Some(cache), Some(org)) = (self.cached(), &org) {
            cache.put_org(read_in, Arc::clone(org));
        }
        Ok(org)
    }

    async fn org_by_id(&self, id: Id) -> Result<Option<Org>, StoreError> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = $1");
        let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&self.pool).await.map_err(backend)?;
        row.as_ref().map(org_row).transpose()
    }

    async fn list_orgs(&self, req: &PageRequest) -> Result<Page<Org>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {ORG_COLUMNS} FROM orgs WHERE 1 = 1"));
        push_keyset(&mut q, "orgs", req);
        let rows = q.build().fetch_all(&self.pool).await.map_err(backend)?;
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
        let sql = format!(
            "UPDATE orgs SET state = $1, version = version + 1, updated = $2 WHERE id = $3 RETURNING {ORG_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(state.as_str())
            .bind(now)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        let org = row.as_ref().map(org_row).transpose()?.ok_or(StoreError::NotFound)?;
        self.cache.forget_org(id);
        Ok(org)
    }
}
