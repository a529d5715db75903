//! The `AppStore` impl on SQLite: the API apps of an org and their keys. Documents
//! (`cors_origins`, `act_as`) are JSON in TEXT columns.

use std::sync::Arc;

use async_trait::async_trait;
use orgbase_domain::app::App;
use orgbase_domain::store::AppStore;
use orgbase_domain::{Id, StoreError};
use orgbase_store_sql::apps::{self, APP_COLUMNS, app_row};
use sqlx::Sqlite;

use crate::{SqliteStore, backend};

#[async_trait]
impl AppStore for SqliteStore {
    async fn insert_app(&self, app: &App) -> Result<(), StoreError> {
        let _changing = self.changing();
        let mut conn = self.writer().acquire().await.map_err(backend)?;
        apps::insert_app_row::<Sqlite>(&mut conn, app).await
    }

    async fn app_by_key(&self, key: &str) -> Result<Option<Arc<App>>, StoreError> {
        if let Some(app) = self.cached().and_then(|c| c.app(key)) {
            return Ok(Some(app));
        }
        let read_in = self.cache.generation();
        let sql = format!("SELECT {APP_COLUMNS} FROM apps WHERE key = $1");
        let row = sqlx::query(&sql).bind(key).fetch_optional(self.reader()).await.map_err(backend)?;
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
        let rows = sqlx::query(&sql).bind(org.to_string()).fetch_all(self.reader()).await.map_err(backend)?;
        let apps = rows.iter().map(app_row).collect::<Result<Vec<_>, _>>()?;
        if let Some(cache) = self.cached() {
            cache.put_org_apps(read_in, org, &apps);
        }
        Ok(apps)
    }
}
