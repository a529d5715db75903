//! The shared SQL helpers of `orgbase-store-sql` under the names this crate's
//! aggregate files use: keyset paging, SQLite's millisecond time columns and the
//! mapping of a driver error on a write that references other rows.

pub(crate) use orgbase_store_sql::cells::{from_millis, millis};
pub(crate) use orgbase_store_sql::error::map_ref_err;
pub(crate) use orgbase_store_sql::paging::push_keyset;

/// A time as this backend binds it: integer milliseconds since the epoch.
pub(crate) fn stored_time(t: chrono::DateTime<chrono::Utc>) -> i64 {
    millis(t)
}
