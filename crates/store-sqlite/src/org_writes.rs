//! Changes to org documents, combined: `modify_org` runs inside the group-commit
//! batcher ([`crate::batch`]), so the changes queued while the writer connection is
//! busy commit in one transaction. Each org is read once per batch, every change of
//! the batch applies to the result of the one before in memory, and the row is
//! written once before the commit. The PostgreSQL store does the same per org with
//! a row lock (its `org_writes.rs`), since there several nodes write.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use orgbase_domain::org::Org;
use orgbase_domain::store::OrgChange;
use orgbase_domain::{DomainError, Id, StoreError};
use orgbase_store_sql::orgs::{ORG_COLUMNS, org_row};

use crate::{Conn, SqliteBackend, backend, batch};
use orgbase_store_sql::cells::{from_millis, millis};

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
    fn flush<'c>(self, conn: &'c mut Conn) -> batch::ConnFuture<'c, Result<(), StoreError>> {
        Box::pin(async move {
            for StagedOrg { read, org } in self.0 {
                let custom = serde_json::to_string(&org.schema).map_err(backend)?;
                let written = sqlx::query(
                    "UPDATE orgs SET props = $1, custom_props = $2, name = $3, updater = $4, updated = $5, version = $6 \
                     WHERE id = $7 AND version = $8",
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
pub(crate) async fn modify_in_batch(
    conn: &mut Conn,
    staged: &mut StagedOrgs,
    id: Id,
    change: &OrgChange,
    updater: Option<Id>,
    now: DateTime<Utc>,
) -> Result<Arc<Org>, DomainError> {
    let slot = match staged.0.iter().position(|s| s.org.id == id) {
        Some(slot) => slot,
        None => {
            let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = $1");
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

impl SqliteBackend {
    /// `OrgStore::modify_org`: the change joins the next batch; the cache keeps
    /// the written org once the batch commits.
    pub(crate) async fn modify_org_in_batch(
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
}
