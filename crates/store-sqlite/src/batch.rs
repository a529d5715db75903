//! Group commit: writes queue for the one writer connection, and every write that
//! is waiting when the writer becomes free runs in the same transaction, with one
//! `COMMIT` (one fsync with `synchronous=FULL`) for all of them. Nobody is answered
//! before the commit that holds their write is on disk.
//!
//! One write's failure fails that write alone: each runs after a `SAVEPOINT` of
//! its own, and a write that fails (whatever the error: a refused change, a row
//! that cannot be read, a failed statement) is rolled back to it, so it leaves
//! nothing behind and the others of its batch stand. When the rollback itself
//! fails, the failure ended SQLite's transaction (a full disk, an I/O error): only
//! then does the whole batch fail. The savepoints are never released one by one
//! (each would cost a statement): they nest, and the `COMMIT` ends them all.
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
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use orgbase_domain::{DomainError, StoreError};
use sqlx::{Connection, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

/// A future borrowing the writer connection.
pub type ConnFuture<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// Tells a write that ran how its batch ended.
type Finish = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// The savepoint set before each write (see the module's documentation).
const SAVEPOINT: &str = "SAVEPOINT job";
/// Undoes the write that failed, leaving those before it.
const ROLLBACK_TO_SAVEPOINT: &str = "ROLLBACK TO SAVEPOINT job";

/// What the writes of one batch share: changes staged in memory, written once
/// before the commit. A new (empty) stage starts with every batch; a batch that
/// fails drops its stage with its transaction. A write that fails must stage
/// nothing (its savepoint undoes what it did in the database, not in the stage).
pub trait Stage: Default + Send + 'static {
    /// Writes what was staged; an error fails the whole batch.
    fn flush<'c>(self, conn: &'c mut SqliteConnection) -> ConnFuture<'c, Result<(), StoreError>>;
}

/// How a write went.
enum Ran {
    /// It did its work (or staged it).
    Done,
    /// It failed (it is then rolled back to its savepoint); with the backend's
    /// error when the backend failed, which may have ended the transaction.
    Failed(Option<StoreError>),
}

/// A queued write.
trait Write<S>: Send {
    /// Runs on the writer connection inside the batch's transaction; returns how to
    /// answer once the batch has ended, and how the write went.
    fn run<'c>(self: Box<Self>, conn: &'c mut SqliteConnection, stage: &'c mut S) -> ConnFuture<'c, (Finish, Ran)>;
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
    fn run<'c>(self: Box<Self>, conn: &'c mut SqliteConnection, stage: &'c mut S) -> ConnFuture<'c, (Finish, Ran)> {
        let Self { work, committed, answer } = *self;
        Box::pin(async move {
            let result = work(conn, stage).await;
            let ran = match &result {
                Ok(_) => Ran::Done,
                Err(DomainError::Store(e)) if e.is_backend_failure() => Ran::Failed(Some(e.clone())),
                Err(_) => Ran::Failed(None),
            };
            let finish: Finish = Box::new(move |ended: Result<(), StoreError>| {
                let result = ended.map_err(DomainError::Store).and(result);
                if let Ok(value) = &result {
                    committed(value);
                }
                // The writer may have gone away (its request was dropped): nothing to tell.
                let _ = answer.send(result);
            });
            (finish, ran)
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
    failing: Arc<AtomicBool>,
}

impl<S: Stage> Batcher<S> {
    /// Starts the writer task on `pool` (the pool of the one writer connection).
    pub fn start(pool: SqlitePool) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        let failing = Arc::new(AtomicBool::new(false));
        tokio::spawn(run(pool, queue, Arc::clone(&failing)));
        Self { jobs, failing }
    }

    /// Whether the last batch failed because the storage is full or unreachable
    /// (no batch has committed since).
    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
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

async fn run<S: Stage>(pool: SqlitePool, mut queue: mpsc::UnboundedReceiver<Job<S>>, failing: Arc<AtomicBool>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let batch = std::mem::replace(&mut jobs, Vec::with_capacity(MAX_BATCH));
        // Each batch in a task of its own: a write that panics takes down its batch
        // (rolled back; its writers are told the write was dropped), not the writer.
        let (pool, failing) = (pool.clone(), Arc::clone(&failing));
        if let Err(e) = tokio::spawn(async move { finish_batch(&pool, batch, &failing).await }).await {
            tracing::error!(error = %e, "group commit: a write panicked; its batch was rolled back and refused");
        }
    }
}

/// Runs and answers one batch.
async fn finish_batch<S: Stage>(pool: &SqlitePool, batch: Vec<Job<S>>, failing: &AtomicBool) {
    let mut batch = batch.into_iter();
    // The connection is held until every write is answered, so that nothing else
    // (the external-change poller, another writer) comes between a commit and what
    // the writes do once committed.
    let (finishes, ended, _conn) = match pool.acquire().await {
        Ok(mut conn) => {
            let (finishes, ended) = run_batch(&mut conn, &mut batch).await;
            (finishes, ended, Some(conn))
        }
        Err(e) => (Vec::new(), Err(crate::backend(e)), None),
    };
    match &ended {
        Ok(()) => failing.store(false, Ordering::Relaxed),
        Err(StoreError::StorageFull(_) | StoreError::Unavailable(_)) => failing.store(true, Ordering::Relaxed),
        Err(_) => {}
    }
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
) -> (Vec<Finish>, Result<(), StoreError>) {
    let mut ran = Vec::new();
    let mut tx = match conn.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => return (ran, Err(crate::backend(e))),
    };
    let mut stage = S::default();
    for job in jobs.by_ref() {
        if let Err(e) = sqlx::query(SAVEPOINT).execute(&mut *tx).await {
            let e = crate::backend(e);
            tracing::error!(error = %e, "group commit: a savepoint failed; the batch is rolled back");
            return (ran, Err(e));
        }
        let (finish, outcome) = job.run(&mut tx, &mut stage).await;
        ran.push(finish);
        if let Ran::Failed(cause) = outcome {
            // The write is answered with its own error; the batch goes on without
            // it. Unless the failure ended SQLite's transaction (a full disk, an
            // I/O error): then the savepoint is gone too, and so is the batch,
            // which fails with the write's error (what ended it).
            if let Err(e) = sqlx::query(ROLLBACK_TO_SAVEPOINT).execute(&mut *tx).await {
                let e = cause.unwrap_or_else(|| crate::backend(e));
                tracing::error!(error = %e, "group commit: a write failed and ended the transaction; the batch is rolled back");
                return (ran, Err(e));
            }
        }
    }
    if let Err(e) = stage.flush(&mut tx).await {
        tracing::error!(error = %e, "group commit: writing the staged changes failed; the batch is rolled back");
        return (ran, Err(e));
    }
    // A failed commit leaves `tx` to its drop, which rolls back what SQLite kept of
    // the transaction; the writer pool's release check (`lib.rs`) replaces the
    // connection if that leaves it inside a transaction.
    let committed = tx.commit().await.map_err(crate::backend);
    if let Err(e) = &committed {
        tracing::error!(error = %e, "group commit: the commit failed; every write of the batch is refused");
    }
    (ran, committed)
}
