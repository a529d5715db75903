//! An app row: its columns, its decoder and its insert.

use orgbase_domain::app::{ActAs, App};
use orgbase_domain::{Id, StoreError};

use crate::bind::sql;
use crate::cells::Cells;
use crate::dialect::Dialect;
use crate::error::map_err;

/// The columns [`app_row`] reads, in table order.
pub const APP_COLUMNS: &str =
    "id, org_id, name, key, secret, enabled, cors_origins, created, require_signature_v2, act_as";

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
    })
}

/// Inserts an app row.
pub async fn insert_app_row<D: Dialect>(conn: &mut D::Connection, app: &App) -> Result<(), StoreError> {
    sql::<D>(
        "INSERT INTO apps (id, org_id, name, key, secret, enabled, cors_origins, created, \
         require_signature_v2, act_as) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
    .execute(conn)
    .await
    .map_err(|e| map_err(e, "An app with this key already exists."))?;
    Ok(())
}
