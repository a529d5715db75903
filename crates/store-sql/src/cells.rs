//! Reading one cell of a result row the same way on both databases, so that the row
//! decoders are written once. The dialects store two kinds of value differently:
//! SQLite keeps a time as integer milliseconds since the epoch and a JSON document
//! as TEXT; PostgreSQL keeps them as `timestamptz` and `jsonb`. [`Cells`] hides that.
//! A cell that cannot be read is a backend failure ([`crate::error::backend`]).

use chrono::{DateTime, TimeZone, Utc};
use orgbase_domain::StoreError;
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::types::Json;
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::error::backend;

/// The cells of a row, by column name.
pub trait Cells {
    /// A text cell, borrowed from the row.
    fn text(&self, column: &str) -> Result<&str, StoreError>;
    /// A text cell that may be NULL, borrowed from the row.
    fn opt_text(&self, column: &str) -> Result<Option<&str>, StoreError>;
    /// A text cell, owned.
    fn string(&self, column: &str) -> Result<String, StoreError>;
    /// A text cell that may be NULL, owned.
    fn opt_string(&self, column: &str) -> Result<Option<String>, StoreError>;
    /// An integer cell.
    fn int(&self, column: &str) -> Result<i64, StoreError>;
    /// A boolean cell.
    fn flag(&self, column: &str) -> Result<bool, StoreError>;
    /// A point in time.
    fn time(&self, column: &str) -> Result<DateTime<Utc>, StoreError>;
    /// A JSON document.
    fn json(&self, column: &str) -> Result<Value, StoreError>;
    /// A JSON document that may be NULL.
    fn opt_json(&self, column: &str) -> Result<Option<Value>, StoreError>;
    /// A small integer (SMALLINT on PostgreSQL, INTEGER on SQLite).
    fn small_int(&self, column: &str) -> Result<i16, StoreError>;
    /// A point in time that may be NULL.
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, StoreError>;
}

/// One typed cell.
fn get<'r, R, T>(row: &'r R, column: &str) -> Result<T, StoreError>
where
    R: Row,
    T: Decode<'r, R::Database> + Type<R::Database>,
    for<'c> &'c str: ColumnIndex<R>,
{
    row.try_get(column).map_err(backend)
}

/// A time stored as integer milliseconds since the epoch.
pub fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// A time as SQLite stores it: integer milliseconds since the epoch.
pub fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

impl Cells for SqliteRow {
    fn text(&self, column: &str) -> Result<&str, StoreError> {
        get(self, column)
    }
    fn opt_text(&self, column: &str) -> Result<Option<&str>, StoreError> {
        get(self, column)
    }
    fn string(&self, column: &str) -> Result<String, StoreError> {
        get(self, column)
    }
    fn opt_string(&self, column: &str) -> Result<Option<String>, StoreError> {
        get(self, column)
    }
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        get(self, column)
    }
    fn flag(&self, column: &str) -> Result<bool, StoreError> {
        get(self, column)
    }
    fn time(&self, column: &str) -> Result<DateTime<Utc>, StoreError> {
        get(self, column).map(from_millis)
    }
    fn json(&self, column: &str) -> Result<Value, StoreError> {
        serde_json::from_str(get(self, column)?).map_err(backend)
    }
    fn opt_json(&self, column: &str) -> Result<Option<Value>, StoreError> {
        get::<_, Option<&str>>(self, column)?.map(serde_json::from_str).transpose().map_err(backend)
    }
    fn small_int(&self, column: &str) -> Result<i16, StoreError> {
        i16::try_from(get::<_, i64>(self, column)?).map_err(backend)
    }
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(get::<_, Option<i64>>(self, column)?.map(from_millis))
    }
}

impl Cells for PgRow {
    fn text(&self, column: &str) -> Result<&str, StoreError> {
        get(self, column)
    }
    fn opt_text(&self, column: &str) -> Result<Option<&str>, StoreError> {
        get(self, column)
    }
    fn string(&self, column: &str) -> Result<String, StoreError> {
        get(self, column)
    }
    fn opt_string(&self, column: &str) -> Result<Option<String>, StoreError> {
        get(self, column)
    }
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        get(self, column)
    }
    fn flag(&self, column: &str) -> Result<bool, StoreError> {
        get(self, column)
    }
    fn time(&self, column: &str) -> Result<DateTime<Utc>, StoreError> {
        get(self, column)
    }
    fn json(&self, column: &str) -> Result<Value, StoreError> {
        get(self, column).map(|Json(v)| v)
    }
    fn opt_json(&self, column: &str) -> Result<Option<Value>, StoreError> {
        get::<_, Option<Json<Value>>>(self, column).map(|v| v.map(|Json(v)| v))
    }
    fn small_int(&self, column: &str) -> Result<i16, StoreError> {
        get(self, column)
    }
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        get(self, column)
    }
}
