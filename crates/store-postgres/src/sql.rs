//! The shared SQL helpers of `orgbase-store-sql` under the names this crate's
//! aggregate files use: keyset paging and the mapping of a driver error on a
//! write that references other rows.

pub(crate) use orgbase_store_sql::error::map_ref_err;
pub(crate) use orgbase_store_sql::paging::push_keyset;

/// A time as this backend binds it: a `timestamptz`, as is.
pub(crate) fn stored_time(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    t
}
