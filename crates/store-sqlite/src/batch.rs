//! Group commit: writes queue for the one writer connection, and every write that
//! is waiting when the writer becomes free runs in the same transaction, with one
//! `COMMIT` (one fsync with `synchronous=FULL`) for all of them. Nobody is answered
//! before the commit that holds their write is on disk. A queued write runs at most
//! one statement that writes, as its last step: SQLite undoes a failed statement by
//! itself, so a write that fails leaves nothing behind and the others stand.
//!
//! A write may instead *stage* its change in the batch's [`Stage`]: writes to the
//! same row then apply one after another in memory, and the stage writes each row
//! once, just before the commit. 64 changes to one org cost one `UPDATE`, not 64.
//! The transaction is `BEGIN IMMEDIATE`: it holds SQLite's write lock from its
//! start, so what a batch reads cannot be changed by another process before it
//! commits.
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

/// What the writes of one batch share: changes staged in memory, written once
/// before the commit. A new (empty) stage starts with every batch; a batch that
/// fails drops its stage with its transaction.
pub trait Stage: Default + Send + 'static {
    /// Writes what was staged; an error fails the whole batch.
    fn flush<'c>(self, conn: &'c mut SqliteConnection) -> ConnFuture<'c, Result<(), String>>;
}

/// A queued write.
trait Write<S>: Send {
    /// Runs on the writer connection inside the batch's transaction; returns how to
    /// answer once the batch has ended, and whether the backend failed (the
    /// transaction may then be gone: the batch stops and rolls back).
    fn run<'c>(
        self: Box<Self>,
        conn: &'c mut SqliteConnection,
        stage: &'c mut S,
    ) -> ConnFuture<'c, (Finish, Option<String>)>;
    /// Answers a write that could not run.
    fn refuse(self: Box<Self>, error: StoreError);
}

struct Pending<T, W, C> {
    work: W,
    committed: C,
    answer: oneshot::Sender<Result<T, DomainError>>,
}

/// The work of a queued write: runs on the writer connection, with the batch's stage.
pub trait Work<S, T>:
    for<'c> FnOnce(&'c mut SqliteConnection, &'c mut S) -> ConnFuture<'c, Result<T, DomainError>> + Send + 'static
{
}

impl<S, T, W> Work<S, T> for W where
    W: for<'c> FnOnce(&'c mut SqliteConnection, &'c mut S) -> ConnFuture<'c, Result<T, DomainError>> + Send + 'static
{
}

impl<S, T, W, C> Write<S> for Pending<T, W, C>
where
    S: Stage,
    T: Send + 'static,
    W: Work<S, T>,
    C: FnOnce(&T) + Send + 'static,
{
    fn run<'c>(
        self: Box<Self>,
        conn: &'c mut SqliteConnection,
        stage: &'c mut S,
    ) -> ConnFuture<'c, (Finish, Option<String>)> {
        let Self { work, committed, answer } = *self;
        Box::pin(async move {
            let result = work(conn, stage).await;
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

type Job<S> = Box<dyn Write<S>>;

/// At most this many writes share one transaction, so that one batch cannot hold
/// the writer for long.
const MAX_BATCH: usize = 256;

/// The queue of writes for the group-commit writer, whose batches share a stage `S`.
#[derive(Debug)]
pub struct Batcher<S> {
    jobs: mpsc::UnboundedSender<Job<S>>,
}

impl<S: Stage> Batcher<S> {
    /// Starts the writer task on `pool` (the pool of the one writer connection).
    pub fn start(pool: SqlitePool) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, queue));
        Self { jobs }
    }

    /// Runs `work` in the next batch and answers once that batch is committed: with
    /// `work`'s result, or with the commit's error. `work` runs at most one
    /// statement that writes, as its last step, or stages its change (see the
    /// module's documentation).
    /// `committed` runs with the result right after the commit, on the writer's
    /// task, before the writer takes the next batch: even if the caller has gone
    /// (a timeout, a client that hung up), so what it updates (a cache) never
    /// misses a committed write.
    pub async fn write<T, W, C>(&self, work: W, committed: C) -> Result<T, DomainError>
    where
        T: Send + 'static,
        W: Work<S, T>,
        C: FnOnce(&T) + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job: Job<S> = Box::new(Pending { work, committed, answer });
        self.jobs.send(job).map_err(|_| StoreError::Backend("the writer has stopped".into()))?;
        answered.await.map_err(|_| StoreError::Backend("the writer dropped a write".into()))?
    }
}

async fn run<S: Stage>(pool: SqlitePool, mut queue: mpsc::UnboundedReceiver<Job<S>>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let batch = std::mem::replace(&mut jobs, Vec::with_capacity(MAX_BATCH));
        // Each batch in a task of its own: a write that panics takes down its batch
        // (rolled back; its writers are told the write was dropped), not the writer.
        let pool = pool.clone();
        if let Err(e) = tokio::spawn(async move { finish_batch(&pool, batch).await }).await {
            tracing::error!(error = %e, "group commit: a write panicked; its batch was rolled back and refused");
        }
    }
}

/// Runs and answers one batch.
async fn finish_batch<S: Stage>(pool: &SqlitePool, batch: Vec<Job<S>>) {
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
    if let Err(error) = ended {
        for job in batch {
            job.refuse(error.clone());
        }
    }
}

/// Runs the jobs of one batch in one transaction; returns the answers of the jobs
/// that ran and how the batch ended. Jobs left in `jobs` never ran.
async fn run_batch<S: Stage>(
    conn: &mut SqliteConnection,
    jobs: &mut impl Iterator<Item = Job<S>>,
) -> (Vec<Finish>, Result<(), String>) {
    let mut ran = Vec::new();
    let mut tx = match conn.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => return (ran, Err(e.to_string())),
    };
    let mut stage = S::default();
    for job in jobs.by_ref() {
        let (finish, failed) = job.run(&mut tx, &mut stage).await;
        ran.push(finish);
        if let Some(e) = failed {
            // Some failures (a full disk, an I/O error) end SQLite's transaction;
            // dropping `tx` rolls back whatever is left of it.
            tracing::error!(error = %e, "group commit: a write failed in the backend; the batch is rolled back");
            return (ran, Err(e));
        }
    }
    if let Err(e) = stage.flush(&mut tx).await {
        tracing::error!(error = %e, "group commit: writing the staged changes failed; the batch is rolled back");
        return (ran, Err(e));
    }
    let committed = tx.commit().await.map_err(|e| e.to_string());
    if let Err(e) = &committed {
        tracing::error!(error = %e, "group commit: the commit failed; every write of the batch is refused");
    }
    (ran, committed)
}
