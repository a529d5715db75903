//! Password hashing (argon2id, `domain::password`) off the async workers, with at
//! most one hash per core at a time. Not the policy of passwords (that is
//! `domain::password::check_policy`).

use std::sync::OnceLock;

use orgbase_domain::password;
use tokio::sync::Semaphore;

use crate::fault::Fault;

/// Runs argon2 off the async workers (tens of milliseconds of CPU), one hash per
/// core at a time: each takes 19 MiB while it runs, and more at once than there
/// are cores adds memory, not throughput. A burst of logins queues here.
async fn argon2<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Fault> {
    static HASHING: OnceLock<Semaphore> = OnceLock::new();
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let _turn = HASHING.get_or_init(|| Semaphore::new(cores)).acquire().await.map_err(|e| Fault::internal(&e))?;
    tokio::task::spawn_blocking(work).await.map_err(|e| Fault::internal(&e))
}

/// The argon2id hash of `password`, to store.
pub async fn hash_password(password: String) -> Result<String, Fault> {
    argon2(move || password::hash(&password)).await?.map_err(Fault::from)
}

/// Whether `password` matches the `stored` hash; with no hash, it still takes the
/// time of a check (against a dummy hash) and answers false.
pub async fn verify_password(password: String, stored: Option<String>) -> Result<bool, Fault> {
    argon2(move || password::verify(&password, stored.as_deref())).await
}
