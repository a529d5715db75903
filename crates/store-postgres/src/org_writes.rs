//! Changes to one org, combined per node: while a transaction on the org's row is
//! open, the changes that arrive queue; the next transaction takes them all, locks
//! the row once (`FOR UPDATE`, which holds off other nodes), applies each change
//! to the result of the one before in memory, and writes the row once. 64
//! concurrent writers of one org cost a few commits, not 64 commits one after
//! another behind the row lock.
//!
//! Each org with queued changes has one task draining its queue; it runs apart
//! from the callers, so a caller that goes away (a timeout, a client that hung up)
//! cannot strand the changes queued behind it.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, SubsecRound, Utc};
use orgbase_domain::org::Org;
use orgbase_domain::store::OrgChange;
use orgbase_domain::{DomainError, Id, StoreError};
use orgbase_store_cache::Cache;
use sqlx::PgPool;
use sqlx::types::Json;
use tokio::sync::oneshot;

use orgbase_store_sql::orgs::{ORG_COLUMNS, org_row};

use crate::backend;

/// A change waiting for its org's next transaction.
struct Queued {
    change: OrgChange,
    updater: Option<Id>,
    now: DateTime<Utc>,
    answer: oneshot::Sender<Result<Org, DomainError>>,
}

/// The queued changes of each org that has a task draining them.
#[derive(Default)]
pub(crate) struct OrgWrites(Mutex<HashMap<Id, Vec<Queued>>>);

impl std::fmt::Debug for OrgWrites {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgWrites").finish_non_exhaustive()
    }
}

/// At most this many changes share one transaction.
const MAX_BATCH: usize = 256;

impl OrgWrites {
    fn queues(&self) -> std::sync::MutexGuard<'_, HashMap<Id, Vec<Queued>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `change` to the org's latest version in its next transaction, and
    /// answers once that transaction has committed.
    pub(crate) async fn modify(
        self: &Arc<Self>,
        pool: &PgPool,
        cache: &Arc<Cache>,
        id: Id,
        change: OrgChange,
        updater: Option<Id>,
        now: DateTime<Utc>,
    ) -> Result<Org, DomainError> {
        let (answer, answered) = oneshot::channel();
        // PostgreSQL keeps microseconds: the answer shows what is stored.
        let queued = Queued { change, updater, now: now.trunc_subsecs(6), answer };
        let start = match self.queues().entry(id) {
            Entry::Occupied(mut queue) => {
                queue.get_mut().push(queued);
                false
            }
            Entry::Vacant(slot) => {
                slot.insert(vec![queued]);
                true
            }
        };
        if start {
            tokio::spawn(drain(Arc::clone(self), pool.clone(), Arc::clone(cache), id));
        }
        answered.await.map_err(|_| StoreError::Backend("the org's writer dropped the change".into()))?
    }
}

/// Writes the org's queued changes, a transaction at a time, until none are left.
async fn drain(writes: Arc<OrgWrites>, pool: PgPool, cache: Arc<Cache>, id: Id) {
    loop {
        let batch = {
            let mut queues = writes.queues();
            let Some(queue) = queues.get_mut(&id) else { return };
            if queue.is_empty() {
                queues.remove(&id);
                return;
            }
            let rest = queue.split_off(queue.len().min(MAX_BATCH));
            std::mem::replace(queue, rest)
        };
        // A task per transaction: a change that panics (a bug) drops its batch (its
        // callers are told), not the queue behind it.
        let (pool, cache) = (pool.clone(), Arc::clone(&cache));
        if let Err(e) = tokio::spawn(async move { write_batch(&pool, &cache, id, batch).await }).await {
            tracing::error!(error = %e, "org writes: a change panicked; its transaction was rolled back");
        }
    }
}

/// One transaction: every queued change in turn, one `UPDATE`, one commit. A change
/// that is refused changes nothing; the others stand.
async fn write_batch(pool: &PgPool, cache: &Cache, id: Id, batch: Vec<Queued>) {
    let (answers, changes): (Vec<_>, Vec<_>) =
        batch.into_iter().map(|q| (q.answer, (q.change, q.updater, q.now))).unzip();
    let results = match apply_batch(pool, id, changes).await {
        Ok(results) => {
            // Forgotten, not written through: another node's newer write may
            // already have been heard (the triggers tell this node too).
            cache.forget_org(id);
            results
        }
        Err(e) => answers.iter().map(|_| Err(e.clone().into())).collect(),
    };
    for (answer, result) in answers.into_iter().zip(results) {
        // The caller may have gone away: nothing to tell.
        let _ = answer.send(result);
    }
}

/// The changes of a batch applied in one transaction; each one's result, or the
/// error that ended the transaction (then nothing was written).
async fn apply_batch(
    pool: &PgPool,
    id: Id,
    changes: Vec<(OrgChange, Option<Id>, DateTime<Utc>)>,
) -> Result<Vec<Result<Org, DomainError>>, StoreError> {
    let mut tx = pool.begin().await.map_err(backend)?;
    let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = $1 FOR UPDATE");
    let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *tx).await.map_err(backend)?;
    let mut current = row.as_ref().map(org_row).transpose()?.ok_or(StoreError::NotFound)?;
    let read = current.version;
    let mut results = Vec::with_capacity(changes.len());
    for (change, updater, now) in changes {
        results.push(change(&current).map(|(props, schema)| {
            current = current.next(props, schema, updater, now);
            current.clone()
        }));
    }
    if current.version == read {
        return Ok(results);
    }
    sqlx::query(
        "UPDATE orgs SET props = $1, custom_props = $2, name = $3, updater = $4, updated = $5, version = $6 \
         WHERE id = $7",
    )
    .bind(Json(current.props.to_value()))
    .bind(Json(&current.schema))
    .bind(&current.props.name)
    .bind(current.updater.map(|u| u.to_string()))
    .bind(current.updated)
    .bind(current.version)
    .bind(id.to_string())
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok(results)
}
