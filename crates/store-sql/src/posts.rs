//! The `PostStore` impl: an org's posts.

use async_trait::async_trait;
use orgbase_domain::paging::{Page, PageRequest};
use orgbase_domain::post::Post;
use orgbase_domain::store::PostStore;
use orgbase_domain::{Id, StoreError};
use sqlx::QueryBuilder;

use crate::backend::{Backend, SqlStore};
use crate::bind::{built, sql};
use crate::cells::Cells;
use crate::dialect::Dialect;
use crate::error::backend;
use crate::paging::push_keyset;

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

#[async_trait]
impl<B: Backend> PostStore for SqlStore<B> {
    async fn insert_post(&self, post: &Post) -> Result<(), StoreError> {
        let insert = sql::<B::Db>("INSERT INTO posts (id, org_id, creator, body, created) VALUES ($1, $2, $3, $4, $5)");
        let insert = insert.id(post.id).id(post.org).id(post.creator).text(&post.body).time(post.created);
        insert.execute(&mut *self.write().await?).await.map_err(backend)?;
        Ok(())
    }

    async fn list_posts(&self, org: Id, req: &PageRequest) -> Result<Page<Post>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {POST_COLUMNS} FROM posts WHERE org_id = "));
        B::Db::bind_text(&mut q, org.to_string());
        push_keyset(&mut q, "posts", req);
        let rows = built(&mut q).fetch_all(&mut *self.read().await?).await.map_err(backend)?;
        let posts = rows.iter().map(post).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(posts, req))
    }

    async fn post_by_id(&self, org: Id, id: Id) -> Result<Option<Post>, StoreError> {
        let query = format!("SELECT {POST_COLUMNS} FROM posts WHERE org_id = $1 AND id = $2");
        let row = sql::<B::Db>(&query).id(org).id(id).fetch_optional(&mut *self.read().await?).await;
        row.map_err(backend)?.as_ref().map(post).transpose()
    }

    async fn delete_post(&self, org: Id, id: Id) -> Result<bool, StoreError> {
        let delete = sql::<B::Db>("DELETE FROM posts WHERE org_id = $1 AND id = $2").id(org).id(id);
        Ok(delete.execute(&mut *self.write().await?).await.map_err(backend)? == 1)
    }
}
