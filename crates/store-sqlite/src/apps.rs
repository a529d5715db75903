//! The `AppStore` impl on SQLite: the API apps of an org and their keys.

use std::sync::Arc;

use async_trait::async_trait;
use orgbase_domain::app::{App, app_from_row};
use orgbase_domain::store::AppStore;
use orgbase_domain::{Id, StoreError};
use sqlx::Row;

use crate::sql::{from_millis, millis};
use crate::{SqliteStore, backend, map_err};

const APP_COLUMNS: &str = "id, org_id, name, key, secret, enabled, cors_origins, created, require_signature_v2, act_as";

fn app_row(row: &sqlx::sqlite::SqliteRow) -> Result<App, StoreError> {
    let origins: String = row.try_get("cors_origins").map_err(backend)?;
    app_from_row(
        row.try_get("id").map_err(backend)?,
        row.try_get("org_id").map_err(backend)?,
        row.try_get("name").map_err(backend)?,
        row.try_get("key").map_err(backend)?,
        row.try_get("secret").map_err(backend)?,
        row.try_get("enabled").map_err(backend)?,
        serde_json::from_str(&origins).map_err(backend)?,
        from_millis(row.try_get("created").map_err(backend)?),
        row.try_get("require_signature_v2").map_err(backend)?,
        row.try_get::<Option<String>, _>("act_as")
            .map_err(backend)?
            .map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(backend)?,
    )
}

#[async_trait]
impl AppStore for SqliteStore {
    async fn insert_app(&self, app: &App) -> Result<(), StoreError> {
        let _changing = self.changing();
        sqlx::query(
            "INSERT INTO apps (id, org_id, name, key, secret, enabled, cors_origins, created, \
             require_signature_v2, act_as) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(app.id.to_string())
        .bind(app.org.to_string())
        .bind(&app.name)
        .bind(&app.key)
        .bind(&app.secret)
        .bind(app.enabled)
        .bind(serde_json::to_string(&app.cors_origins).map_err(backend)?)
        .bind(millis(app.created))
        .bind(app.require_signature_v2)
        .bind(app.act_as.to_stored().map(|ids| ids.to_string()))
        .execute(&self.writer)
        .await
        .map_err(|e| map_err(e, "An app with this key already exists."))?;
        Ok(())
    }

    async fn app_by_key(&self, key: &str) -> Result<Option<Arc<App>>, StoreError> {
        if let Some(app) = self.cache.app(key) {
            return Ok(Some(app));
        }
        let read_in = self.cache.generation();
        let sql = format!("SELECT {APP_COLUMNS} FROM apps WHERE key = ?");
        let row = sqlx::query(&sql).bind(key).fetch_optional(&self.reader).await.map_err(backend)?;
        let app = row.as_ref().map(app_row).transpose()?.map(Arc::new);
        if let Some(app) = &app {
            self.cache.put_app(read_in, Arc::clone(app));
        }
        Ok(app)
    }

    async fn apps_of_org(&self, org: Id) -> Result<Vec<App>, StoreError> {
        if let Some(apps) = self.cache.org_apps(org) {
            return Ok(apps);
        }
        let read_in = self.cache.generation();
        let sql = format!("SELECT {APP_COLUMNS} FROM apps WHERE org_id = ? ORDER BY id");
        let rows = sqlx::query(&sql).bind(org.to_string()).fetch_all(&self.reader).await.map_err(backend)?;
        let apps = rows.iter().map(app_row).collect::<Result<Vec<_>, _>>()?;
        self.cache.put_org_apps(read_in, org, &apps);
        Ok(apps)
    }
}
