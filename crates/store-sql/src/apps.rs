//! The `AppStore` impl: the API apps of an org and their keys. Documents
//! (`cors_origins`, `act_as`) are JSON, TEXT on SQLite and `jsonb` on PostgreSQL.

use std::sync::Arc;

use async_trait::async_trait;
use orgbase_domain::app::{ActAs, App, PreviousSecret};
use orgbase_domain::store::AppStore;
use orgbase_domain::{Id, StoreError};

use crate::backend::{Backend, SqlStore};
use crate::bind::sql;
use crate::cells::Cells;
use crate::dialect::Dialect;
use crate::error::{backend, map_err};

/// The columns [`app_row`] reads, in table order.
pub const APP_COLUMNS: &str = "id, org_id, name, key, secret, enabled, cors_origins, created, \
    require_signature_v2, act_as, csrf, previous_secret, previous_secret_expires";

/// Rebuilds an app from a row of [`APP_COLUMNS`].
pub fn app_row(row: &impl Cells) -> Result<App, StoreError> {
    let id = row.text("id")?;
    let bad = |what: &str| StoreError::Backend(format!("stored app {id}: bad {what}"));
    let org = row.text("org_id")?;
    let (name, key, secret, enabled) =
        (row.string("name")?, row.string("key")?, row.string("secret")?, row.flag("enabled")?);
    let cors_origins = row.json("cors_origins")?;
    let (created, require_signature_v2) = (row.time("created")?, row.flag("require_signature_v2")?);
    let act_as = row.opt_json("act_as")?;
    let previous_secret = match (row.opt_string("previous_secret")?, row.opt_time("previous_secret_expires")?) {
        (Some(secret), Some(until)) => Some(PreviousSecret { secret, until }),
        _ => None,
    };
    Ok(App {
        id: Id::parse(id).ok_or_else(|| bad("id"))?,
        org: Id::parse(org).ok_or_else(|| bad("org"))?,
        name,
        key,
        secret,
        enabled,
        cors_origins: serde_json::from_value(cors_origins).map_err(|_| bad("cors origins"))?,
        created,
        require_signature_v2,
        act_as: ActAs::from_stored(act_as).ok_or_else(|| bad("act_as"))?,
        csrf: row.flag("csrf")?,
        previous_secret,
    })
}

/// Inserts an app row.
pub async fn insert_app_row<D: Dialect>(conn: &mut D::Connection, app: &App) -> Result<(), StoreError> {
    sql::<D>(
        "INSERT INTO apps (id, org_id, name, key, secret, enabled, cors_origins, created, \
         require_signature_v2, act_as, csrf, previous_secret, previous_secret_expires) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .id(app.id)
    .id(app.org)
    .text(&app.name)
    .text(&app.key)
    .text(&app.secret)
    .flag(app.enabled)
    .json(&app.cors_origins)?
    .time(app.created)
    .flag(app.require_signature_v2)
    .opt_json(app.act_as.to_stored().as_ref())?
    .flag(app.csrf)
    .opt_text(app.previous_secret.as_ref().map(|p| p.secret.clone()))
    .opt_time(app.previous_secret.as_ref().map(|p| p.until))
    .execute(conn)
    .await
    .map_err(|e| map_err(e, "An app with this key already exists."))?;
    Ok(())
}

/// Writes the changeable columns of an app row; false when there is none.
pub async fn update_app_row<D: Dialect>(conn: &mut D::Connection, app: &App) -> Result<bool, StoreError> {
    let written = sql::<D>(
        "UPDATE apps SET name = $1, secret = $2, enabled = $3, cors_origins = $4, require_signature_v2 = $5, \
         act_as = $6, csrf = $7, previous_secret = $8, previous_secret_expires = $9 \
         WHERE id = $10 AND org_id = $11",
    )
    .text(&app.name)
    .text(&app.secret)
    .flag(app.enabled)
    .json(&app.cors_origins)?
    .flag(app.require_signature_v2)
    .opt_json(app.act_as.to_stored().as_ref())?
    .flag(app.csrf)
    .opt_text(app.previous_secret.as_ref().map(|p| p.secret.clone()))
    .opt_time(app.previous_secret.as_ref().map(|p| p.until))
    .id(app.id)
    .id(app.org)
    .execute(conn)
    .await
    .map_err(backend)?;
    Ok(written > 0)
}

#[async_trait]
impl<B: Backend> AppStore for SqlStore<B> {
    async fn insert_app(&self, app: &App) -> Result<(), StoreError> {
        let _changing = self.changing();
        insert_app_row::<B::Db>(&mut *self.write().await?, app).await
    }

    async fn app_by_key(&self, key: &str) -> Result<Option<Arc<App>>, StoreError> {
        if let Some(app) = self.cached().and_then(|c| c.app(key)) {
            return Ok(Some(app));
        }
        let read_in = self.cache().generation();
        let sql_text = format!("SELECT {APP_COLUMNS} FROM apps WHERE key = $1");
        let row = sql::<B::Db>(&sql_text).text(key).fetch_optional(&mut *self.read().await?).await.map_err(backend)?;
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
        let read_in = self.cache().generation();
        let sql_text = format!("SELECT {APP_COLUMNS} FROM apps WHERE org_id = $1 ORDER BY id");
        let rows = sql::<B::Db>(&sql_text).id(org).fetch_all(&mut *self.read().await?).await.map_err(backend)?;
        let apps = rows.iter().map(app_row).collect::<Result<Vec<_>, _>>()?;
        if let Some(cache) = self.cached() {
            cache.put_org_apps(read_in, org, &apps);
        }
        Ok(apps)
    }

    async fn update_app(&self, app: &App) -> Result<(), StoreError> {
        let _changing = self.changing();
        if update_app_row::<B::Db>(&mut *self.write().await?, app).await? { Ok(()) } else { Err(StoreError::NotFound) }
    }

    async fn delete_app(&self, org: Id, app: Id) -> Result<bool, StoreError> {
        let _changing = self.changing();
        let deleted = sql::<B::Db>("DELETE FROM apps WHERE id = $1 AND org_id = $2")
            .id(app)
            .id(org)
            .execute(&mut *self.write().await?)
            .await
            .map_err(backend)?;
        Ok(deleted > 0)
    }
}
