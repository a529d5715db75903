//! The few spots where shared SQL differs between the two databases, so that a
//! query builder written once ([`crate::paging`], [`crate::members`]) can serve
//! both. Whole queries that differ stay in each store crate.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder, Sqlite};

use crate::cells::{Cells, millis};

/// A plain `sqlx::query` of dialect `D`, before its values are bound.
pub type RawQuery<'q, D> = sqlx::query::Query<'q, D, <D as sqlx::Database>::Arguments<'q>>;

/// A running query. Boxed, so that generic callers' futures stay `Send` (rustc
/// cannot prove it through an unboxed future that borrows two lifetimes).
pub type Running<'c, T> = Pin<Box<dyn Future<Output = Result<T, sqlx::Error>> + Send + 'c>>;

/// A database whose SQL the stores write.
///
/// The `arg_*` and `run*` methods serve [`crate::bind::Bound`]; they are per
/// dialect because sqlx states what a value encodes to, and what a connection
/// executes, per concrete database.
pub trait Dialect: sqlx::Database<Row: Cells> {
    /// Ends a `SELECT` of rows that the rest of a write transaction depends on, so
    /// that no other writer changes them until it ends: ` FOR UPDATE` on
    /// PostgreSQL, where writers run side by side; nothing on SQLite, whose one
    /// writer connection runs each write transaction alone.
    const FOR_UPDATE: &'static str;
    /// The same for rows that others may read but not change meanwhile:
    /// ` FOR SHARE` on PostgreSQL, nothing on SQLite.
    const FOR_SHARE: &'static str;
    /// Takes an org row's lock (`$1`, its id) for the rest of a transaction, where
    /// the database needs it: PostgreSQL's `FOR NO KEY UPDATE` queues member
    /// changes of one org behind each other without blocking foreign-key checks on
    /// the org (a participant insert), which would deadlock with a member change
    /// waiting for that participant's member row. SQLite needs none.
    const LOCK_ORG: Option<&'static str>;
    /// Binds a text onto a query.
    fn arg_text(q: RawQuery<'_, Self>, value: String) -> RawQuery<'_, Self>;
    /// Binds a text or NULL onto a query.
    fn arg_opt_text(q: RawQuery<'_, Self>, value: Option<String>) -> RawQuery<'_, Self>;
    /// Binds a small integer onto a query (a `SMALLINT` column on PostgreSQL).
    fn arg_small_int(q: RawQuery<'_, Self>, value: i16) -> RawQuery<'_, Self>;
    /// Binds an integer onto a query.
    fn arg_int(q: RawQuery<'_, Self>, value: i64) -> RawQuery<'_, Self>;
    /// Binds a boolean onto a query.
    fn arg_flag(q: RawQuery<'_, Self>, value: bool) -> RawQuery<'_, Self>;
    /// Binds a point in time onto a query, in the form the dialect stores it.
    fn arg_time(q: RawQuery<'_, Self>, value: DateTime<Utc>) -> RawQuery<'_, Self>;
    /// Binds a point in time or NULL onto a query.
    fn arg_opt_time(q: RawQuery<'_, Self>, value: Option<DateTime<Utc>>) -> RawQuery<'_, Self>;
    /// Binds a value as JSON onto a query, in the form the dialect stores it.
    fn arg_json<'q>(q: RawQuery<'q, Self>, value: &impl Serialize) -> Result<RawQuery<'q, Self>, serde_json::Error>;
    /// Binds a value as JSON, or NULL, onto a query.
    fn arg_opt_json<'q>(
        q: RawQuery<'q, Self>,
        value: Option<&impl Serialize>,
    ) -> Result<RawQuery<'q, Self>, serde_json::Error>;
    /// Runs a query on a connection; the number of rows it changed.
    fn run<'q: 'c, 'c>(q: RawQuery<'q, Self>, conn: &'c mut Self::Connection) -> Running<'c, u64>;
    /// Runs a query on a connection; its first row, if any.
    fn run_optional<'q: 'c, 'c>(
        q: RawQuery<'q, Self>,
        conn: &'c mut Self::Connection,
    ) -> Running<'c, Option<Self::Row>>;
    /// Runs a query on a connection; all its rows.
    fn run_all<'q: 'c, 'c>(q: RawQuery<'q, Self>, conn: &'c mut Self::Connection) -> Running<'c, Vec<Self::Row>>;
    /// Runs a built query on a connection; the number of rows it changed.
    fn run_built<'c>(q: &'c mut QueryBuilder<'_, Self>, conn: &'c mut Self::Connection) -> Running<'c, u64>;
    /// Runs a built query on a connection; its first row, if any.
    fn run_built_optional<'c>(
        q: &'c mut QueryBuilder<'_, Self>,
        conn: &'c mut Self::Connection,
    ) -> Running<'c, Option<Self::Row>>;
    /// Runs a built query on a connection; all its rows.
    fn run_built_all<'c>(
        q: &'c mut QueryBuilder<'_, Self>,
        conn: &'c mut Self::Connection,
    ) -> Running<'c, Vec<Self::Row>>;
    /// Binds a text value.
    fn bind_text(q: &mut QueryBuilder<'_, Self>, value: String);
    /// Binds a text value or NULL.
    fn bind_opt_text(q: &mut QueryBuilder<'_, Self>, value: Option<String>);
    /// Binds a boolean.
    fn bind_flag(q: &mut QueryBuilder<'_, Self>, value: bool);
    /// Binds an integer.
    fn bind_int(q: &mut QueryBuilder<'_, Self>, value: i64);
    /// Binds a point in time, in the form the dialect stores it.
    fn bind_time(q: &mut QueryBuilder<'_, Self>, value: DateTime<Utc>);
    /// Pushes a condition: the JSON array of texts in `column` holds `value`.
    fn push_holds(q: &mut QueryBuilder<'_, Self>, column: &str, value: String);
    /// Pushes a condition: the JSON array of texts in `column` holds any of
    /// `values`.
    fn push_holds_any(q: &mut QueryBuilder<'_, Self>, column: &str, values: Vec<String>);
    /// Pushes a condition: `column` starts with the escaped, lowercase `pattern`
    /// (which ends in `%`), ignoring case. `lowercase` says the column is stored in
    /// lowercase already.
    fn push_prefix(q: &mut QueryBuilder<'_, Self>, column: &str, lowercase: bool, pattern: String);
}

/// The methods that read the same in both dialects. They are written per dialect,
/// not as default methods of [`Dialect`], because sqlx states what a value encodes
/// to, and what a connection executes, per concrete database: a default body
/// would need those bounds for every `Self`.
macro_rules! same_in_both {
    () => {
        fn arg_text(q: RawQuery<'_, Self>, value: String) -> RawQuery<'_, Self> {
            q.bind(value)
        }
        fn arg_opt_text(q: RawQuery<'_, Self>, value: Option<String>) -> RawQuery<'_, Self> {
            q.bind(value)
        }
        fn arg_int(q: RawQuery<'_, Self>, value: i64) -> RawQuery<'_, Self> {
            q.bind(value)
        }
        fn arg_small_int(q: RawQuery<'_, Self>, value: i16) -> RawQuery<'_, Self> {
            q.bind(value)
        }
        fn bind_opt_text(q: &mut QueryBuilder<'_, Self>, value: Option<String>) {
            q.push_bind(value);
        }
        fn bind_flag(q: &mut QueryBuilder<'_, Self>, value: bool) {
            q.push_bind(value);
        }
        fn arg_flag(q: RawQuery<'_, Self>, value: bool) -> RawQuery<'_, Self> {
            q.bind(value)
        }
        fn run<'q: 'c, 'c>(q: RawQuery<'q, Self>, conn: &'c mut Self::Connection) -> Running<'c, u64> {
            Box::pin(async move { Ok(q.execute(conn).await?.rows_affected()) })
        }
        fn run_optional<'q: 'c, 'c>(
            q: RawQuery<'q, Self>,
            conn: &'c mut Self::Connection,
        ) -> Running<'c, Option<Self::Row>> {
            Box::pin(q.fetch_optional(conn))
        }
        fn run_all<'q: 'c, 'c>(q: RawQuery<'q, Self>, conn: &'c mut Self::Connection) -> Running<'c, Vec<Self::Row>> {
            Box::pin(q.fetch_all(conn))
        }
        fn run_built<'c>(q: &'c mut QueryBuilder<'_, Self>, conn: &'c mut Self::Connection) -> Running<'c, u64> {
            Box::pin(async move { Ok(q.build().execute(conn).await?.rows_affected()) })
        }
        fn run_built_optional<'c>(
            q: &'c mut QueryBuilder<'_, Self>,
            conn: &'c mut Self::Connection,
        ) -> Running<'c, Option<Self::Row>> {
            Box::pin(async move { q.build().fetch_optional(conn).await })
        }
        fn run_built_all<'c>(
            q: &'c mut QueryBuilder<'_, Self>,
            conn: &'c mut Self::Connection,
        ) -> Running<'c, Vec<Self::Row>> {
            Box::pin(async move { q.build().fetch_all(conn).await })
        }
        fn bind_text(q: &mut QueryBuilder<'_, Self>, value: String) {
            q.push_bind(value);
        }
        fn bind_int(q: &mut QueryBuilder<'_, Self>, value: i64) {
            q.push_bind(value);
        }
    };
}

/// SQLite: times are integer milliseconds, JSON is TEXT read through `json_each`,
/// and `LIKE` compares the lowercased column (it folds ASCII only).
impl Dialect for Sqlite {
    const FOR_UPDATE: &'static str = "";
    const FOR_SHARE: &'static str = "";
    const LOCK_ORG: Option<&'static str> = None;

    same_in_both!();

    fn arg_time(q: RawQuery<'_, Self>, value: DateTime<Utc>) -> RawQuery<'_, Self> {
        q.bind(millis(value))
    }
    fn arg_opt_time(q: RawQuery<'_, Self>, value: Option<DateTime<Utc>>) -> RawQuery<'_, Self> {
        q.bind(value.map(millis))
    }
    fn arg_json<'q>(q: RawQuery<'q, Self>, value: &impl Serialize) -> Result<RawQuery<'q, Self>, serde_json::Error> {
        Ok(q.bind(serde_json::to_string(value)?))
    }
    fn arg_opt_json<'q>(
        q: RawQuery<'q, Self>,
        value: Option<&impl Serialize>,
    ) -> Result<RawQuery<'q, Self>, serde_json::Error> {
        Ok(q.bind(value.map(serde_json::to_string).transpose()?))
    }
    fn bind_time(q: &mut QueryBuilder<'_, Self>, value: DateTime<Utc>) {
        q.push_bind(millis(value));
    }
    fn push_holds(q: &mut QueryBuilder<'_, Self>, column: &str, value: String) {
        q.push(format_args!("EXISTS (SELECT 1 FROM json_each({column}) WHERE value = "));
        q.push_bind(value);
        q.push(")");
    }
    fn push_holds_any(q: &mut QueryBuilder<'_, Self>, column: &str, values: Vec<String>) {
        q.push(format_args!("EXISTS (SELECT 1 FROM json_each({column}) WHERE value IN ("));
        let mut list = q.separated(", ");
        for value in values {
            list.push_bind(value);
        }
        q.push("))");
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
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    const FOR_SHARE: &'static str = " FOR SHARE";
    const LOCK_ORG: Option<&'static str> = Some("SELECT id FROM orgs WHERE id = $1 FOR NO KEY UPDATE");

    same_in_both!();

    fn arg_time(q: RawQuery<'_, Self>, value: DateTime<Utc>) -> RawQuery<'_, Self> {
        q.bind(value)
    }
    fn arg_opt_time(q: RawQuery<'_, Self>, value: Option<DateTime<Utc>>) -> RawQuery<'_, Self> {
        q.bind(value)
    }
    fn arg_json<'q>(q: RawQuery<'q, Self>, value: &impl Serialize) -> Result<RawQuery<'q, Self>, serde_json::Error> {
        Ok(q.bind(Json(serde_json::to_value(value)?)))
    }
    fn arg_opt_json<'q>(
        q: RawQuery<'q, Self>,
        value: Option<&impl Serialize>,
    ) -> Result<RawQuery<'q, Self>, serde_json::Error> {
        Ok(q.bind(value.map(serde_json::to_value).transpose()?.map(Json)))
    }
    fn bind_time(q: &mut QueryBuilder<'_, Self>, value: DateTime<Utc>) {
        q.push_bind(value);
    }
    fn push_holds(q: &mut QueryBuilder<'_, Self>, column: &str, value: String) {
        q.push(format_args!("{column} @> jsonb_build_array("));
        q.push_bind(value);
        q.push("::text)");
    }
    fn push_holds_any(q: &mut QueryBuilder<'_, Self>, column: &str, values: Vec<String>) {
        q.push(format_args!("{column} ?| "));
        q.push_bind(values);
        q.push("::text[]");
    }
    fn push_prefix(q: &mut QueryBuilder<'_, Self>, column: &str, _lowercase: bool, pattern: String) {
        q.push(format_args!("{column} ILIKE "));
        q.push_bind(pattern);
        q.push(" ESCAPE '\\'");
    }
}
