//! An org's posts as both databases store them: the column list and the row decoder.

use orgbase_domain::post::Post;
use orgbase_domain::{Id, StoreError};

use crate::cells::Cells;

/// The columns [`post`] reads, in table order.
pub const POST_COLUMNS: &str = "id, org_id, creator, body, created";

/// Rebuilds a post from a row of [`POST_COLUMNS`].
pub fn post(row: &impl Cells) -> Result<Post, StoreError> {
    let id = row.text("id")?;
    let bad = || StoreError::Backend(format!("stored post {id}: bad value"));
    Ok(Post {
        id: Id::parse(id).ok_or_else(bad)?,
        org: Id::parse(row.text("org_id")?).ok_or_else(bad)?,
        creator: Id::parse(row.text("creator")?).ok_or_else(bad)?,
        body: row.string("body")?,
        created: row.time("created")?,
    })
}
