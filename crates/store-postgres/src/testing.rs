//! Test support: isolated schemas in one database, so each test gets a fresh,
//! migrated store without the cost of `CREATE DATABASE`.

use sqlx::Connection;
use sqlx::postgres::PgConnection;

use super::backend;
use orgbase_domain::StoreError;

/// Creates a new empty schema in the database at `base_url` and returns a URL
/// whose connections use it. Schemas left by earlier runs (older than two
/// hours) are dropped on the way.
pub async fn fresh_schema_url(base_url: &str, unix_secs: i64) -> Result<String, StoreError> {
    let mut conn = PgConnection::connect(base_url).await.map_err(backend)?;
    let stale: Vec<(String,)> =
        sqlx::query_as("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'orgbase\\_t\\_%'")
            .fetch_all(&mut conn)
            .await
            .map_err(backend)?;
    for (name,) in stale {
        let born = name.split('_').nth(2).and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
        if unix_secs - born > 2 * 3600 {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE")).execute(&mut conn).await;
        }
    }
    let suffix: u64 = rand_suffix();
    let schema = format!("orgbase_t_{unix_secs}_{suffix:016x}");
    sqlx::query(&format!("CREATE SCHEMA \"{schema}\"")).execute(&mut conn).await.map_err(backend)?;
    let sep = if base_url.contains('?') { '&' } else { '?' };
    Ok(format!("{base_url}{sep}options=-c%20search_path%3D{schema}"))
}

/// Drops a schema made by [`fresh_schema_url`].
pub async fn drop_schema(base_url: &str, schema_url: &str) -> Result<(), StoreError> {
    let Some(schema) = schema_url.rsplit("search_path%3D").next().filter(|s| s.starts_with("orgbase_t_")) else {
        return Ok(());
    };
    let mut conn = PgConnection::connect(base_url).await.map_err(backend)?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).execute(&mut conn).await.map_err(backend)?;
    Ok(())
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::process::id())
}
