//! Writing a query body once for both dialects: [`Bound`] is a plain `sqlx::query`
//! whose values are bound through the [`Dialect`], so a time goes in as the
//! dialect stores it (milliseconds or `timestamptz`) and JSON as TEXT or `jsonb`,
//! and which runs on the dialect's connection (or a transaction, which derefs to
//! one).

use chrono::{DateTime, Utc};
use orgbase_domain::{Id, StoreError};
use serde::Serialize;
use sqlx::QueryBuilder;

use crate::dialect::{Dialect, RawQuery};
use crate::error::backend;

/// A query being bound, for dialect `D`.
pub struct Bound<'q, D: Dialect>(RawQuery<'q, D>);

/// Starts a query on `sql`, whose placeholders are `$1`, `$2`… in both dialects.
pub fn sql<D: Dialect>(sql: &str) -> Bound<'_, D> {
    Bound(sqlx::query(sql))
}

/// A query built with a [`QueryBuilder`], whose values are bound already, to run.
pub struct Built<'b, 'a, D: Dialect>(&'b mut QueryBuilder<'a, D>);

/// Runs the query `q` has built.
pub fn built<'b, 'a, D: Dialect>(q: &'b mut QueryBuilder<'a, D>) -> Built<'b, 'a, D> {
    Built(q)
}

impl<D: Dialect> Built<'_, '_, D> {
    /// Runs the query; the number of rows it changed.
    pub async fn execute(self, conn: &mut D::Connection) -> Result<u64, sqlx::Error> {
        D::run_built(self.0, conn).await
    }
    /// Runs the query; its first row, if any.
    pub async fn fetch_optional(self, conn: &mut D::Connection) -> Result<Option<D::Row>, sqlx::Error> {
        D::run_built_optional(self.0, conn).await
    }
    /// Runs the query; all its rows.
    pub async fn fetch_all(self, conn: &mut D::Connection) -> Result<Vec<D::Row>, sqlx::Error> {
        D::run_built_all(self.0, conn).await
    }
}

impl<'q, D: Dialect> Bound<'q, D> {
    /// Binds a text.
    pub fn text(self, value: impl Into<String>) -> Self {
        Self(D::arg_text(self.0, value.into()))
    }
    /// Binds an id, as its text.
    pub fn id(self, value: Id) -> Self {
        self.text(value.to_string())
    }
    /// Binds a text or NULL.
    pub fn opt_text(self, value: Option<String>) -> Self {
        Self(D::arg_opt_text(self.0, value))
    }
    /// Binds an id or NULL.
    pub fn opt_id(self, value: Option<Id>) -> Self {
        self.opt_text(value.map(|v| v.to_string()))
    }
    /// Binds a small integer.
    pub fn small_int(self, value: i16) -> Self {
        Self(D::arg_small_int(self.0, value))
    }
    /// Binds an integer.
    pub fn int(self, value: i64) -> Self {
        Self(D::arg_int(self.0, value))
    }
    /// Binds a boolean.
    pub fn flag(self, value: bool) -> Self {
        Self(D::arg_flag(self.0, value))
    }
    /// Binds a point in time or NULL.
    pub fn opt_time(self, value: Option<DateTime<Utc>>) -> Self {
        Self(D::arg_opt_time(self.0, value))
    }
    /// Binds a point in time.
    pub fn time(self, value: DateTime<Utc>) -> Self {
        Self(D::arg_time(self.0, value))
    }
    /// Binds a value as JSON.
    pub fn json(self, value: &impl Serialize) -> Result<Self, StoreError> {
        Ok(Self(D::arg_json(self.0, value).map_err(backend)?))
    }
    /// Binds a value as JSON, or NULL.
    pub fn opt_json(self, value: Option<&impl Serialize>) -> Result<Self, StoreError> {
        Ok(Self(D::arg_opt_json(self.0, value).map_err(backend)?))
    }
    /// Runs the query; the number of rows it changed.
    pub async fn execute(self, conn: &mut D::Connection) -> Result<u64, sqlx::Error> {
        D::run(self.0, conn).await
    }
    /// Runs the query; its first row, if any.
    pub async fn fetch_optional(self, conn: &mut D::Connection) -> Result<Option<D::Row>, sqlx::Error> {
        D::run_optional(self.0, conn).await
    }
    /// Runs the query; all its rows.
    pub async fn fetch_all(self, conn: &mut D::Connection) -> Result<Vec<D::Row>, sqlx::Error> {
        D::run_all(self.0, conn).await
    }
}
