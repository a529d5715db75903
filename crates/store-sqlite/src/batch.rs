//! Group commit: writes queue for the one writer connection, and every write that
//! is waiting when the writer becomes free runs in the same transaction, with one
//! `COMMIT` (one fsync with `synchronous=FULL`) for all of them. Nobody is answered
//! before the commit that holds their write is on disk. A queued write runs at most
//! one statement that writes, as its last step: SQLite undoes a failed statement by
//! itself, so a write that fails leaves nothing behind and the others stand.
//!
//! This is how PostgreSQL's WAL flush and most databases' commit paths share one
//! fsync between concurrent committers. With 64 writers on one org the writer
//! commits tens of writes per fsync instead of one.

use std::future::Future;
use std::pin::Pin;

use orgbase_domain::{DomainError, StoreError};
use sqlx::{Connection, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

/// A future borrowing the writer connection.
pub type ConnFuture<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// Tells a write that ran how its batch ended.
type Finish = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A queued write.
trait Write: Send {
    /// Runs on the writer connection inside the batch's transaction; returns how to
    /// answer once the batch has ended, and whether the backend failed (the
    /// transaction may then be gone: the batch stops and rolls back).
    fn run<'c>(self: Box<Self>, conn: &'c mut SqliteConnection) -> ConnFuture<'c, (Finish, Option<String>)>;
    /// Answers a write that could not run.
    fn refuse(self: Box<Self>, error: StoreError);
}

struct Pending<T, W, C> {
    work: W,
    committed: C,
    answer: oneshot::Sender<Result<T, DomainError>>,
}

impl<T, W, C> Write for Pending<T, W, C>
where
    T: Send + 'static,
    W: for<'c> FnOnce(&'c mut SqliteConnection) -> ConnFuture<'c, Result<T, DomainError>> + Send + 'static,
    C: FnOnce(&T) + Send + 'static,
{
    fn run<'c>(self: Box<Self>, conn: &'c mut SqliteConnection) -> ConnFuture<'c, (Finish, Option<String>)> {
        let Self { work, committed, answer } = *self;
        Box::pin(async move {
            let result = work(conn).await;
            let failed = match &result {
                Err(DomainError::Store(StoreError::Backend(e))) => Some(e.clone()),
                _ => None,
            };
            let finish: Finish = Box::new(move |ended: Result<(), StoreError>| {
                let result = ended.map_err(DomainError::Store).and(result);
                if let Ok(value) = &result {
                    committed(value);
                }
                // The writer may have gone away (its request was dropped): nothing to tell.
                let _ = answer.send(result);
            });
            (finish, failed)
        })
    }

    fn refuse(self: Box<Self>, error: StoreError) {
        let _ = self.answer.send(Err(DomainError::Store(error)));
    }
}

type Job = Box<dyn Write>;

/// At most this many writes share one transaction, so that one batch cannot hold
/// the writer for long.
const MAX_BATCH: usize = 256;

/// The queue of writes for the group-commit writer.
#[derive(Debug, Clone)]
pub struct Batcher {
    jobs: mpsc::UnboundedSender<Job>,
}

/// Called when a batch fails or a write in it panics: whatever the writes of the
/// batch remembered beside the database (the writer's heads) is now wrong.
pub type OnFailure = Box<dyn Fn() + Send + Sync>;

impl Batcher {
    /// Starts the writer task on `pool` (the pool of the one writer connection).
    pub fn start(pool: SqlitePool, on_failure: OnFailure) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, queue, on_failure));
        Self { jobs }
    }

    /// Runs `work` in the next batch and answers once that batch is committed: with
    /// `work`'s result, or with the commit's error. `work` runs at most one
    /// statement that writes, as its last step (see the module's documentation).
    /// `committed` runs with the result right after the commit, on the writer's
    /// task, before the writer takes the next batch: even if the caller has gone
    /// (a timeout, a client that hung up), so what it updates (a cache) never
    /// misses a committed write.
    pub async fn write<T, W, C>(&self, work: W, committed: C) -> Result<T, DomainError>
    where
        T: Send + 'static,
        W: for<'c> FnOnce(&'c mut SqliteConnection) -> ConnFuture<'c, Result<T, DomainError>> + Send + 'static,
        C: FnOnce(&T) + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(Pending { work, committed, answer });
        self.jobs.send(job).map_err(|_| StoreError::Backend("the writer has stopped".into()))?;
        answered.await.map_err(|_| StoreError::Backend("the writer dropped a write".into()))?
    }
}

async fn run(pool: SqlitePool, mut queue: mpsc::UnboundedReceiver<Job>, on_failure: OnFailure) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let batch = std::mem::replace(&mut jobs, Vec::with_capacity(MAX_BATCH));
        // Each batch in a task of its own: a write that panics takes down its batch
        // (rolled back; its writers are told the write was dropped), not the writer.
        let pool = pool.clone();
        match tokio::spawn(async move { finish_batch(&pool, batch).await }).await {
            Ok(true) => {}
            Ok(false) => on_failure(),
            Err(e) => {
                tracing::error!(error = %e, "group commit: a write panicked; its batch was rolled back and refused");
                on_failure();
            }
        }
    }
}

/// Runs and answers one batch; false if it failed.
async fn finish_batch(pool: &SqlitePool, batch: Vec<Job>) -> bool {
    let mut batch = batch.into_iter();
    // The connection is held until every write is answered, so that nothing else
    // (the external-change poller, another writer) comes between a commit and what
    // the writes do once committed.
    let (finishes, ended, _conn) = match pool.acquire().await {
        Ok(mut conn) => {
            let (finishes, ended) = run_batch(&mut conn, &mut batch).await;
            (finishes, ended, Some(conn))
        }
        Err(e) => (Vec::new(), Err(e.to_string()), None),
    };
    let ended = ended.map_err(StoreError::Backend);
    for finish in finishes {
        finish(ended.clone());
    }
    // Writes the batch never reached (it failed before them) are refused.
    let Err(error) = ended else { return true };
    for job in batch {
        job.refuse(error.clone());
    }
    false
}

/// Runs the jobs of one batch in one transaction; returns the answers of the jobs
/// that ran and how the batch ended. Jobs left in `jobs` never ran.
async fn run_batch(
    conn: &mut SqliteConnection,
    jobs: &mut impl Iterator<Item = Job>,
) -> (Vec<Finish>, Result<(), String>) {
    let mut ran = Vec::new();
    let mut tx = match conn.begin().await {
        Ok(tx) => tx,
        Err(e) => return (ran, Err(e.to_string())),
    };
    for job in jobs.by_ref() {
        let (finish, failed) = job.run(&mut tx).await;
        ran.push(finish);
        if let Some(e) = failed {
            // Some failures (a full disk, an I/O error) end SQLite's transaction;
            // dropping `tx` rolls back whatever is left of it.
            tracing::error!(error = %e, "group commit: a write failed in the backend; the batch is rolled back");
            return (ran, Err(e));
        }
    }
    let committed = tx.commit().await.map_err(|e| e.to_string());
    if let Err(e) = &committed {
        tracing::error!(error = %e, "group commit: the commit failed; every write of the batch is refused");
    }
    (ran, committed)
}
