//! The `AppStore` impl: the API apps of an org and their keys. Documents
//! (`cors_origins`, `act_as`) are JSON, TEXT on SQLite and `jsonb` on PostgreSQL.

use std::sync::Arc;

use async_trait::async_trait;
use orgbase_domain::app::{ActAs, App, PreviousSecret};
use orgbase_domain::sealed::{SecretKey, is_sealed};
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

/// A stored secret in the clear: opened with `key` when sealed, as it is when
/// stored before sealing existed.
fn open_secret(key: Option<&SecretKey>, id: &str, stored: String) -> Result<String, StoreError> {
    if !is_sealed(&stored) {
        return Ok(stored);
    }
    let key = key.ok_or_else(|| StoreError::Backend("no secret key to open app secrets with".into()))?;
    key.open(id, &stored).map_err(|e| StoreError::Backend(format!("stored app {id}: secret: {e}")))
}

/// Rebuilds an app from a row of [`APP_COLUMNS`], opening its secrets with `key`.
pub fn app_row(row: &impl Cells, key: Option<&SecretKey>) -> Result<App, StoreError> {
    let id = row.text("id")?;
    let bad = |what: &str| StoreError::Backend(format!("stored app {id}: bad {what}"));
    let org = row.text("org_id")?;
    let (name, client_key, enabled) = (row.string("name")?, row.string("key")?, row.flag("enabled")?);
    let secret = open_secret(key, id, row.string("secret")?)?;
    let cors_origins = row.json("cors_origins")?;
    let (created, require_signature_v2) = (row.time("created")?, row.flag("require_signature_v2")?);
    let act_as = row.opt_json("act_as")?;
    let previous_secret = match (row.opt_string("previous_secret")?, row.opt_time("previous_secret_expires")?) {
        (Some(secret), Some(until)) => Some(PreviousSecret { secret: open_secret(key, id, secret)?, until }),
        _ => None,
    };
    Ok(App {
        id: Id::parse(id).ok_or_else(|| bad("id"))?,
        org: Id::parse(org).ok_or_else(|| bad("org"))?,
        name,
        key: client_key,
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

/// Inserts an app row, its secrets sealed under `key`.
pub async fn insert_app_row<D: Dialect>(
    conn: &mut D::Connection,
    app: &App,
    key: &SecretKey,
) -> Result<(), StoreError> {
    let row = app.id.to_string();
    sql::<D>(
        "INSERT INTO apps (id, org_id, name, key, secret, enabled, cors_origins, created, \
         require_signature_v2, act_as, csrf, previous_secret, previous_secret_expires) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .id(app.id)
    .id(app.org)
    .text(&app.name)
    .text(&app.key)
    .text(key.seal(&row, &app.secret))
    .flag(app.enabled)
    .json(&app.cors_origins)?
    .time(app.created)
    .flag(app.require_signature_v2)
    .opt_json(app.act_as.to_stored().as_ref())?
    .flag(app.csrf)
    .opt_text(app.previous_secret.as_ref().map(|p| key.seal(&row, &p.secret)))
    .opt_time(app.previous_secret.as_ref().map(|p| p.until))
    .execute(conn)
    .await
    .map_err(|e| map_err(e, "An app with this key already exists."))?;
    Ok(())
}

/// Writes the changeable columns of an app row, its secrets sealed under `key`;
/// false when there is none.
pub async fn update_app_row<D: Dialect>(
    conn: &mut D::Connection,
    app: &App,
    key: &SecretKey,
) -> Result<bool, StoreError> {
    let row = app.id.to_string();
    let written = sql::<D>(
        "UPDATE apps SET name = $1, secret = $2, enabled = $3, cors_origins = $4, require_signature_v2 = $5, \
         act_as = $6, csrf = $7, previous_secret = $8, previous_secret_expires = $9 \
         WHERE id = $10 AND org_id = $11",
    )
    .text(&app.name)
    .text(key.seal(&row, &app.secret))
    .flag(app.enabled)
    .json(&app.cors_origins)?
    .flag(app.require_signature_v2)
    .opt_json(app.act_as.to_stored().as_ref())?
    .flag(app.csrf)
    .opt_text(app.previous_secret.as_ref().map(|p| key.seal(&row, &p.secret)))
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
        let key = self.secret_key()?;
        let _changing = self.changing();
        insert_app_row::<B::Db>(&mut *self.write().await?, app, key).await
    }

    async fn app_by_key(&self, key: &str) -> Result<Option<Arc<App>>, StoreError> {
        if let Some(app) = self.cached().and_then(|c| c.app(key)) {
            return Ok(Some(app));
        }
        let read_in = self.cache().generation();
        let sql_text = format!("SELECT {APP_COLUMNS} FROM apps WHERE key = $1");
        let row = sql::<B::Db>(&sql_text).text(key).fetch_optional(&mut *self.read().await?).await.map_err(backend)?;
        let app = row.as_ref().map(|row| app_row(row, self.secret_key().ok())).transpose()?.map(Arc::new);
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
        let apps = rows.iter().map(|row| app_row(row, self.secret_key().ok())).collect::<Result<Vec<_>, _>>()?;
        if let Some(cache) = self.cached() {
            cache.put_org_apps(read_in, org, &apps);
        }
        Ok(apps)
    }

    async fn update_app(&self, app: &App) -> Result<(), StoreError> {
        let key = self.secret_key()?;
        let _changing = self.changing();
        let written = update_app_row::<B::Db>(&mut *self.write().await?, app, key).await?;
        if written { Ok(()) } else { Err(StoreError::NotFound) }
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

    async fn reseal_app_secrets(&self, old: Option<&SecretKey>) -> Result<u64, StoreError> {
        let key = self.secret_key()?;
        let _changing = self.changing();
        let mut tx = self.begin().await?;
        let rows =
            sql::<B::Db>("SELECT id, secret, previous_secret FROM apps").fetch_all(&mut *tx).await.map_err(backend)?;
        let mut written = 0;
        for row in &rows {
            let (id, secret, previous) = (row.string("id")?, row.string("secret")?, row.opt_string("previous_secret")?);
            let due = |v: &str| old.is_some() || !is_sealed(v);
            if !due(&secret) && previous.as_deref().is_none_or(|p| !due(p)) {
                continue;
            }
            // Under the old key, or already under this one (a second run changes nothing).
            let open = |v: String| open_secret(old, &id, v.clone()).or_else(|_| open_secret(Some(key), &id, v));
            let secret = key.seal(&id, &open(secret)?);
            let previous = previous.map(open).transpose()?.map(|p| key.seal(&id, &p));
            sql::<B::Db>("UPDATE apps SET secret = $1, previous_secret = $2 WHERE id = $3")
                .text(secret)
                .opt_text(previous)
                .text(id.clone())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            written += 1;
        }
        tx.commit().await.map_err(backend)?;
        Ok(written)
    }
}
