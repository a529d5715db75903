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

use crate::{ORG_COLUMNS, backend, org_row};

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
    let mut answers = Vec::with_capacity(batch.len());
    let written = apply_batch(pool, id, batch, &mut answers).await;
    if written.is_ok() {
        // Forgotten, not written through: another node's newer write may already
        // have been heard (the triggers tell this node too).
        cache.forget_org(id);
    }
    for (answer, result) in answers {
        let result = match &written {
            Ok(()) => result,
            Err(e) => Err(e.clone().into()),
        };
        // The caller may have gone away: nothing to tell.
        let _ = answer.send(result);
    }
}

type Answer = (oneshot::Sender<Result<Org, DomainError>>, Result<Org, DomainError>);

async fn apply_batch(pool: &PgPool, id: Id, batch: Vec<Queued>, answers: &mut Vec<Answer>) -> Result<(), StoreError> {
    let refuse_all = |batch: Vec<Queued>, answers: &mut Vec<Answer>, error: StoreError| {
        answers.extend(batch.into_iter().map(|q| (q.answer, Err(error.clone().into()))));
    };
    let mut tx = match pool.begin().await {
        Ok(tx) => tx,
        Err(e) => {
            refuse_all(batch, answers, backend(e));
            return Ok(());
        }
    };
    let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = $1 FOR UPDATE");
    let row = match sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *tx).await {
        Ok(row) => row,
        Err(e) => {
            refuse_all(batch, answers, backend(e));
            return Ok(());
        }
    };
    let mut current = match row.as_ref().map(org_row).transpose() {
        Ok(Some(org)) => org,
        Ok(None) => {
            refuse_all(batch, answers, StoreError::NotFound);
            return Ok(());
        }
        Err(e) => {
            refuse_all(batch, answers, e);
            return Ok(());
        }
    };
    let read = current.version;
    for Queued { change, updater, now, answer } in batch {
        match change(&current) {
            Ok((props, schema)) => {
                current = current.next(props, schema, updater, now);
                answers.push((answer, Ok(current.clone())));
            }
            Err(e) => answers.push((answer, Err(e))),
        }
    }
    if current.version == read {
        return Ok(());
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
    tx.commit().await.map_err(backend)
}
