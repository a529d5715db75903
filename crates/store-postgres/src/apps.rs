//! The `AppStore` impl on PostgreSQL: the API apps of an org and their keys.

use std::sync::Arc;

use async_trait::async_trait;
use orgbase_domain::app::{App, app_from_row};
use orgbase_domain::store::AppStore;
use orgbase_domain::{Id, StoreError};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::types::Json;

use crate::{PgStore, backend, map_err};

const APP_COLUMNS: &str = "id, org_id, name, key, secret, enabled, cors_origins, created, require_signature_v2, act_as";

fn app_row(row: &PgRow) -> Result<App, StoreError> {
    let Json(origins): Json<serde_json::Value> = row.try_get("cors_origins").map_err(backend)?;
    app_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("org_id").map_err(backend)?,
        row.try_get("name").map_err(backend)?,
        row.try_get("key").map_err(backend)?,
        row.try_get("secret").map_err(backend)?,
        row.try_get("enabled").map_err(backend)?,
        origins,
        row.try_get("created").map_err(backend)?,
        row.try_get("require_signature_v2").map_err(backend)?,
        row.try_get::<Option<Json<serde_json::Value>>, _>("act_as").map_err(backend)?.map(|Json(v)| v),
    )
}

#[async_trait]
impl AppStore for PgStore {
    async fn insert_app(&self, app: &App) -> Result<(), StoreError> {
        let _changing = self.cache.changing();
        sqlx::query(
            "INSERT INTO apps (id, org_id, name, key, secret, enabled, cors_origins, created, \
             require_signature_v2, act_as) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(app.id.to_string())
        .bind(app.org.to_string())
        .bind(&app.name)
        .bind(&app.key)
        .bind(&app.secret)
        .bind(app.enabled)
        .bind(Json(&app.cors_origins))
        .bind(app.created)
        .bind(app.require_signature_v2)
        .bind(app.act_as.to_stored().map(Json))
        .execute(&self.pool)
        .await
        .map_err(|e| map_err(e, "An app with this key already exists."))?;
        Ok(())
    }

    async fn app_by_key(&self, key: &str) -> Result<Option<Arc<App>>, StoreError> {
        if let Some(app) = self.cached().and_then(|c| c.app(key)) {
            return Ok(Some(app));
        }
        let read_in = self.cache.generation();
        let sql = format!("SELECT {APP_COLUMNS} FROM apps WHERE key = $1");
        let row = sqlx::query(&sql).bind(key).fetch_optional(&self.pool).await.map_err(backend)?;
        let app = row.as_ref().map(app_row).transpose()?.map(Arc::new);
        if let (Some(cache), Some(app)) = (self.cached(), &app) {
            cache.put_app(read_in, Arc::clone(app));
        }
        Ok(app)
    }

    async fn apps_of_org(&self, org: Id) -> Result<Vec<App>, StoreError> {
        if let Some(apps) = self.cached().and_then(|c| c.org_apps(org)) {
            return Ok(apps);
        }
        let read_in = self.cache.generation();
        let sql = format!("SELECT {APP_COLUMNS} FROM apps WHERE org_id = $1 ORDER BY id");
        let rows = sqlx::query(&sql).bind(org.to_string()).fetch_all(&self.pool).await.map_err(backend)?;
        let apps = rows.iter().map(app_row).collect::<Result<Vec<_>, _>>()?;
        if let Some(cache) = self.cached() {
            cache.put_org_apps(read_in, org, &apps);
        }
        Ok(apps)
    }
}
