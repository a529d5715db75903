//! The `OrgStore` impl on SQLite: org rows, their codes and states, and the org document writes.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orgbase_domain::org::{Org, OrgState, org_from_row};
use orgbase_domain::paging::{Page, PageRequest};
use orgbase_domain::store::{LinkRequest, Linked, OrgChange, OrgStore};
use orgbase_domain::{DomainError, Id, StoreError};
use sqlx::{QueryBuilder, Row, SqliteConnection};

use crate::batch;
use crate::members::link_row;
use crate::sql::{from_millis, millis, push_keyset};
use crate::{SqliteStore, backend, map_err};

const ORG_COLUMNS: &str = "id, code, state, version, created, updated, updater, props, custom_props";

/// The org changes of one batch (see [`batch`]): each org is read once per batch,
/// changed in memory by each of the batch's writes in turn, and written once, just
/// before the commit. The batch holds SQLite's write lock from its start, so the
/// row cannot change between the read and the write.
#[derive(Debug, Default)]
pub(crate) struct StagedOrgs(Vec<StagedOrg>);

#[derive(Debug)]
struct StagedOrg {
    /// The version of the row as read.
    read: i64,
    org: Arc<Org>,
}

impl batch::Stage for StagedOrgs {
    fn flush<'c>(self, conn: &'c mut SqliteConnection) -> batch::ConnFuture<'c, Result<(), StoreError>> {
        Box::pin(async move {
            for StagedOrg { read, org } in self.0 {
                let custom = serde_json::to_string(&org.schema).map_err(backend)?;
                let written = sqlx::query(
                    "UPDATE orgs SET props = ?, custom_props = ?, name = ?, updater = ?, updated = ?, version = ? \
                     WHERE id = ? AND version = ?",
                )
                .bind(org.props.to_value().to_string())
                .bind(custom)
                .bind(&org.props.name)
                .bind(org.updater.map(|u| u.to_string()))
                .bind(millis(org.updated))
                .bind(org.version)
                .bind(org.id.to_string())
                .bind(read)
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                if written.rows_affected() != 1 {
                    return Err(StoreError::Backend(format!(
                        "org {}: the row changed under the batch's write lock",
                        org.id
                    )));
                }
            }
            Ok(())
        })
    }
}

/// One org change inside a batch: applied to the batch's latest version of the org
/// (read from the row the first time), and staged. A change that is refused stages
/// nothing.
async fn modify_in_batch(
    conn: &mut SqliteConnection,
    staged: &mut StagedOrgs,
    id: Id,
    change: &OrgChange,
    updater: Option<Id>,
    now: DateTime<Utc>,
) -> Result<Arc<Org>, DomainError> {
    let slot = match staged.0.iter().position(|s| s.org.id == id) {
        Some(slot) => slot,
        None => {
            let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = ?");
            let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *conn).await.map_err(backend)?;
            let org = row.as_ref().map(org_row).transpose()?.ok_or(StoreError::NotFound)?;
            staged.0.push(StagedOrg { read: org.version, org: Arc::new(org) });
            staged.0.len() - 1
        }
    };
    let current = &staged.0[slot].org;
    let (props, schema) = change(current)?;
    let updated = Arc::new(current.next(props, schema, updater, from_millis(millis(now))));
    staged.0[slot].org = Arc::clone(&updated);
    Ok(updated)
}

fn org_row(row: &sqlx::sqlite::SqliteRow) -> Result<Org, StoreError> {
    let props: String = row.try_get("props").map_err(backend)?;
    let schema: String = row.try_get("custom_props").map_err(backend)?;
    org_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("code").map_err(backend)?,
        row.try_get("state").map_err(backend)?,
        row.try_get("version").map_err(backend)?,
        from_millis(row.try_get("created").map_err(backend)?),
        from_millis(row.try_get("updated").map_err(backend)?),
        row.try_get("updater").map_err(backend)?,
        serde_json::from_str(&props).map_err(backend)?,
        serde_json::from_str(&schema).map_err(backend)?,
    )
}

#[async_trait]
impl OrgStore for SqliteStore {
    async fn insert_org(&self, org: &Org, admin: Option<&LinkRequest>) -> Result<Option<Linked>, StoreError> {
        let _changing = self.changing();
        let mut tx = self.writer.begin().await.map_err(backend)?;
        sqlx::query(
            "INSERT INTO orgs (id, code, name, state, version, created, updated, updater, props) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(org.id.to_string())
        .bind(org.code.as_str())
        .bind(&org.props.name)
        .bind(org.state.as_str())
        .bind(org.version)
        .bind(millis(org.created))
        .bind(millis(org.updated))
        .bind(org.updater.map(|u| u.to_string()))
        .bind(org.props.to_value().to_string())
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
        if let Some(org) = self.cache.org(code) {
            return Ok(Some(org));
        }
        let read_in = self.cache.generation();
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE code = ?");
        let row = sqlx::query(&sql).bind(code).fetch_optional(&self.reader).await.map_err(backend)?;
        let org = row.as_ref().map(org_row).transpose()?.map(Arc::new);
        if let Some(org) = &org {
            self.cache.put_org(read_in, Arc::clone(org));
        }
        Ok(org)
    }

    async fn org_by_id(&self, id: Id) -> Result<Option<Org>, StoreError> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = ?");
        let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&self.reader).await.map_err(backend)?;
        row.as_ref().map(org_row).transpose()
    }

    async fn list_orgs(&self, req: &PageRequest) -> Result<Page<Org>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {ORG_COLUMNS} FROM orgs WHERE 1 = 1"));
        push_keyset(&mut q, "orgs", req);
        let rows = q.build().fetch_all(&self.reader).await.map_err(backend)?;
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
        let cache = Arc::clone(&self.cache);
        let org = self
            .batcher
            .write(
                move |conn, staged| {
                    Box::pin(async move { modify_in_batch(conn, staged, id, &change, updater, now).await })
                },
                move |org: &Arc<Org>| cache.wrote_org(Arc::clone(org)),
            )
            .await?;
        Ok(Arc::unwrap_or_clone(org))
    }

    async fn set_org_state(&self, id: Id, state: OrgState, now: DateTime<Utc>) -> Result<Org, StoreError> {
        let sql = format!(
            "UPDATE orgs SET state = ?, version = version + 1, updated = ? WHERE id = ? RETURNING {ORG_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(state.as_str())
            .bind(millis(now))
            .bind(id.to_string())
            .fetch_optional(&self.writer)
            .await
            .map_err(backend)?;
        let org = row.as_ref().map(org_row).transpose()?.ok_or(StoreError::NotFound)?;
        self.cache.wrote_org(Arc::new(org.clone()));
        Ok(org)
    }
}
