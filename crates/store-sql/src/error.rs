//! Sorting driver errors into [`StoreError`]s, for both databases in one place. A
//! full disk and a database that cannot be reached now are told apart from other
//! failures, so that clients are told to come back later rather than that
//! something broke; a unique violation is [`StoreError::Exists`] and a foreign key
//! that no longer resolves is [`StoreError::NotFound`].
//!
//! The database codes differ per dialect: SQLite's primary result codes
//! (<https://www.sqlite.org/rescode.html>) and PostgreSQL's SQLSTATEs
//! (<https://www.postgresql.org/docs/current/errcodes-appendix.html>). A driver
//! error says which database raised it, so one function serves both.

use orgbase_domain::StoreError;
use sqlx::error::DatabaseError;
use sqlx::postgres::PgDatabaseError;

/// SQLite's primary result codes that [`classify`] tells apart.
const SQLITE_BUSY: i64 = 5;
const SQLITE_FULL: i64 = 13;

/// A backend failure, classified; an error that is not the driver's (a JSON one,
/// say) is a plain backend failure.
pub fn backend(e: impl std::fmt::Display + 'static) -> StoreError {
    let message = e.to_string();
    match (&e as &dyn std::any::Any).downcast_ref::<sqlx::Error>() {
        Some(e) => classify(e, message),
        None => StoreError::Backend(message),
    }
}

/// Sorts a driver error: a full disk or a capped database is
/// [`StoreError::StorageFull`]; a pool that timed out or closed, a crashed worker,
/// an I/O or TLS error, a database locked by another process past the busy timeout
/// (SQLite), or a server out of resources, shutting down or unreachable
/// (PostgreSQL) is [`StoreError::Unavailable`]; anything else is a plain backend
/// failure.
pub fn classify(e: &sqlx::Error, message: String) -> StoreError {
    match e {
        sqlx::Error::Database(db) => match fault(db.as_ref()) {
            Some(Fault::Full) => StoreError::StorageFull(message),
            Some(Fault::Unavailable) => StoreError::Unavailable(message),
            None => StoreError::Backend(message),
        },
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => StoreError::Unavailable(message),
        _ => StoreError::Backend(message),
    }
}

/// Maps a driver error, turning unique-constraint violations into `Exists`.
pub fn map_err(e: sqlx::Error, what: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Exists(what.to_owned()),
        _ => backend(e),
    }
}

/// Maps a driver error on a write that references other rows: a foreign key that
/// no longer resolves (a facility or room deleted meanwhile) is `NotFound`.
pub fn map_ref_err(e: sqlx::Error, what: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        _ => map_err(e, what),
    }
}

/// What a database error code says beyond "failed".
enum Fault {
    Full,
    Unavailable,
}

fn fault(db: &dyn DatabaseError) -> Option<Fault> {
    let code = db.code()?;
    if db.try_downcast_ref::<PgDatabaseError>().is_some() {
        // 53100 disk_full; class 53 insufficient resources, class 08 connection
        // exceptions, 57P01..57P03 shutting down or not yet accepting connections.
        match &*code {
            "53100" => Some(Fault::Full),
            c if c.starts_with("53") || c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03") => {
                Some(Fault::Unavailable)
            }
            _ => None,
        }
    } else {
        // The extended result code; its low byte is the primary code.
        match code.parse::<i64>().ok().map(|c| c & 0xff) {
            Some(SQLITE_FULL) => Some(Fault::Full),
            Some(SQLITE_BUSY) => Some(Fault::Unavailable),
            _ => None,
        }
    }
}
