//! Helpers that several aggregates of this backend share: keyset paging, time columns and reference-error mapping.

use orgbase_domain::StoreError;
use orgbase_domain::paging::PageRequest;
use sqlx::{Postgres, QueryBuilder};

use crate::map_err;

fn sort_column(field: &str) -> &'static str {
    match field {
        "code" => "code",
        "name" => "name",
        "created" => "created",
        "scheduledStart" => "scheduled_start",
        _ => "id",
    }
}

/// Appends keyset paging over `(column, id)` to a query that already has a WHERE.
pub(crate) fn push_keyset(q: &mut QueryBuilder<'_, Postgres>, table: &str, req: &PageRequest) {
    let column = sort_column(req.sort.field);
    if let Some(id) = req.cursor_id() {
        q.push(format_args!(
            " AND ({column}, id) {} (SELECT {column}, id FROM {table} WHERE id = ",
            req.sql_comparison()
        ));
        q.push_bind(id.to_string());
        q.push(")");
    }
    let dir = req.sql_direction();
    q.push(format_args!(" ORDER BY {column} {dir}, id {dir} LIMIT "));
    q.push_bind(i64::from(req.limit) + 1);
    q.push(" OFFSET ");
    q.push_bind(i64::from(req.skip));
}

/// Maps a driver error on a write that references other rows: a foreign key that
/// no longer resolves (a facility or room deleted meanwhile) is `NotFound`.
pub(crate) fn map_ref_err(e: sqlx::Error, what: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        _ => map_err(e, what),
    }
}
