//! Cells that only the connection and live session decoders read so far: a small
//! integer (a connection's state: SMALLINT on PostgreSQL, INTEGER on SQLite) and a
//! time that may be NULL (when a live session started or ended). Kept apart from
//! [`crate::cells::Cells`] until the two are merged into one trait.

use chrono::{DateTime, Utc};
use orgbase_domain::StoreError;
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use crate::cells::from_millis;
use crate::error::backend;

/// More cells of a row, by column name.
pub trait ExtraCells {
    /// A small integer cell.
    fn small_int(&self, column: &str) -> Result<i16, StoreError>;
    /// A point in time that may be NULL.
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, StoreError>;
}

impl ExtraCells for SqliteRow {
    fn small_int(&self, column: &str) -> Result<i16, StoreError> {
        let n: i64 = self.try_get(column).map_err(backend)?;
        i16::try_from(n).map_err(backend)
    }
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.try_get::<Option<i64>, _>(column).map_err(backend)?.map(from_millis))
    }
}

impl ExtraCells for PgRow {
    fn small_int(&self, column: &str) -> Result<i16, StoreError> {
        self.try_get(column).map_err(backend)
    }
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.try_get(column).map_err(backend)
    }
}
