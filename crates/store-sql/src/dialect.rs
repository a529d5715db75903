//! The few spots where shared SQL differs between the two databases, so that a
//! query builder written once ([`crate::paging`], [`crate::members`]) can serve
//! both. Whole queries that differ stay in each store crate.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder, Sqlite};

use crate::cells::millis;

/// A database whose SQL the stores write.
pub trait Dialect: sqlx::Database {
    /// Binds a text value.
    fn bind_text(q: &mut QueryBuilder<'_, Self>, value: String);
    /// Binds an integer.
    fn bind_int(q: &mut QueryBuilder<'_, Self>, value: i64);
    /// Binds a point in time, in the form the dialect stores it.
    fn bind_time(q: &mut QueryBuilder<'_, Self>, value: DateTime<Utc>);
    /// Pushes a condition: the JSON array of texts in `column` holds `value`.
    fn push_holds(q: &mut QueryBuilder<'_, Self>, column: &str, value: String);
    /// Pushes a condition: `column` starts with the escaped, lowercase `pattern`
    /// (which ends in `%`), ignoring case. `lowercase` says the column is stored in
    /// lowercase already.
    fn push_prefix(q: &mut QueryBuilder<'_, Self>, column: &str, lowercase: bool, pattern: String);
}

/// SQLite: times are integer milliseconds, JSON is TEXT read through `json_each`,
/// and `LIKE` compares the lowercased column (it folds ASCII only).
impl Dialect for Sqlite {
    fn bind_text(q: &mut QueryBuilder<'_, Self>, value: String) {
        q.push_bind(value);
    }
    fn bind_int(q: &mut QueryBuilder<'_, Self>, value: i64) {
        q.push_bind(value);
    }
    fn bind_time(q: &mut QueryBuilder<'_, Self>, value: DateTime<Utc>) {
        q.push_bind(millis(value));
    }
    fn push_holds(q: &mut QueryBuilder<'_, Self>, column: &str, value: String) {
        q.push(format_args!("EXISTS (SELECT 1 FROM json_each({column}) WHERE value = "));
        q.push_bind(value);
        q.push(")");
    }
    fn push_prefix(q: &mut QueryBuilder<'_, Self>, column: &str, lowercase: bool, pattern: String) {
        if lowercase {
            q.push(format_args!("{column} LIKE "));
        } else {
            q.push(format_args!("lower({column}) LIKE "));
        }
        q.push_bind(pattern);
        q.push(" ESCAPE '\\'");
    }
}

/// PostgreSQL: times are `timestamptz`, JSON is `jsonb` matched by containment
/// (`@>`, which its GIN index serves), and `ILIKE` ignores case.
impl Dialect for Postgres {
    fn bind_text(q: &mut QueryBuilder<'_, Self>, value: String) {
        q.push_bind(value);
    }
    fn bind_int(q: &mut QueryBuilder<'_, Self>, value: i64) {
        q.push_bind(value);
    }
    fn bind_time(q: &mut QueryBuilder<'_, Self>, value: DateTime<Utc>) {
        q.push_bind(value);
    }
    fn push_holds(q: &mut QueryBuilder<'_, Self>, column: &str, value: String) {
        q.push(format_args!("{column} @> jsonb_build_array("));
        q.push_bind(value);
        q.push("::text)");
    }
    fn push_prefix(q: &mut QueryBuilder<'_, Self>, column: &str, _lowercase: bool, pattern: String) {
        q.push(format_args!("{column} ILIKE "));
        q.push_bind(pattern);
        q.push(" ESCAPE '\\'");
    }
}
