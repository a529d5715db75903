//! An org row: its columns and its decoder.

use orgbase_domain::org::{Org, OrgCode, OrgProps, OrgState};
use orgbase_domain::{Id, StoreError};

use crate::cells::Cells;

/// The columns [`org_row`] reads, in table order.
pub const ORG_COLUMNS: &str = "id, code, state, version, created, updated, updater, props, custom_props";

/// Rebuilds an org from a row of [`ORG_COLUMNS`].
pub fn org_row(row: &impl Cells) -> Result<Org, StoreError> {
    let id = row.text("id")?;
    let bad = |what: &str| StoreError::Backend(format!("stored org {id}: bad {what}"));
    // Read before the checks below, so that an unreadable cell is reported as such.
    let (code, state, version) = (row.text("code")?, row.text("state")?, row.int("version")?);
    let (created, updated, updater) = (row.time("created")?, row.time("updated")?, row.opt_text("updater")?);
    let (props, schema) = (row.json("props")?, row.json("custom_props")?);
    Ok(Org {
        id: Id::parse(id).ok_or_else(|| bad("id"))?,
        code: OrgCode::parse(code).map_err(|_| bad("code"))?,
        state: OrgState::parse(state).ok_or_else(|| bad("state"))?,
        version,
        created,
        updated,
        updater: updater.map(|u| Id::parse(u).ok_or_else(|| bad("updater"))).transpose()?,
        props: OrgProps::from_value(props).map_err(|_| bad("props"))?,
        schema: serde_json::from_value(schema).map_err(|_| bad("custom properties"))?,
    })
}
