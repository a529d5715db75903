//! An org's apps as administrators (API) and operators (CLI) manage them: create
//! (the secret shown once), change, rotate the secret, delete. A rotated-out
//! secret keeps signing for `app_secret_grace` seconds (config, one day by
//! default), so that the app's servers can switch without an outage; a second
//! rotation ends the first one's grace at once. Who may do this is the caller's
//! business (routes: administrators of the org).

use std::sync::Arc;

use chrono::Duration;
use orgbase_domain::app::{App, AppChange, RawAppChange};
use orgbase_domain::org::Org;

use crate::fault::Fault;
use crate::state::AppState;

/// The longest grace honoured (ten years, in seconds): more is taken as this.
const MAX_GRACE: u64 = 10 * 366 * 24 * 60 * 60;

/// The app of `org` with this client key, enabled or not; 404 otherwise (an app of
/// another org is not found either).
pub async fn app_of_org(state: &AppState, org: &Org, key: &str) -> Result<Arc<App>, Fault> {
    let app = state.store.app_by_key(key).await?.filter(|a| a.org == org.id);
    app.ok_or_else(|| Fault::not_found("App"))
}

/// Creates an app named `name` with the settings of `raw` (the defaults: enabled,
/// CSRF on, signatures of either version, acting as any member).
pub async fn create_app(state: &AppState, org: &Org, name: String, raw: RawAppChange) -> Result<App, Fault> {
    let change = AppChange::parse(RawAppChange { name: Some(name), ..raw }).map_err(Fault::validation)?;
    let app = App::new(org.id, String::new(), Vec::new(), state.clock.now()).changed(change);
    state.store.insert_app(&app).await?;
    Ok(app)
}

/// Applies a change to the app of `org` with this key; nothing is written when any
/// part of it is invalid.
pub async fn update_app(state: &AppState, org: &Org, key: &str, raw: RawAppChange) -> Result<App, Fault> {
    let change = AppChange::parse(raw).map_err(Fault::validation)?;
    let app = app_of_org(state, org, key).await?.changed(change);
    state.store.update_app(&app).await?;
    Ok(app)
}

/// Gives the app a new secret; the old one signs on for the configured grace.
pub async fn rotate_secret(state: &AppState, org: &Org, key: &str) -> Result<App, Fault> {
    let grace = Duration::seconds(i64::try_from(state.config.app_secret_grace.min(MAX_GRACE)).unwrap_or_default());
    let app = app_of_org(state, org, key).await?.rotated(state.clock.now(), grace);
    state.store.update_app(&app).await?;
    Ok(app)
}

/// Deletes the app of `org` with this key: its key, its secrets and its origins
/// stop working at once.
pub async fn delete_app(state: &AppState, org: &Org, key: &str) -> Result<(), Fault> {
    let app = app_of_org(state, org, key).await?;
    if state.store.delete_app(org.id, app.id).await? { Ok(()) } else { Err(Fault::not_found("App")) }
}
