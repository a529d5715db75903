//! The `PostStore` impl on SQLite: an org's posts. The columns and row decoder are shared
//! with PostgreSQL (`orgbase_store_sql::posts`); only the time differs (integer
//! milliseconds here, `timestamptz` there).

use async_trait::async_trait;
use orgbase_domain::paging::{Page, PageRequest};
use orgbase_domain::post::Post;
use orgbase_domain::store::PostStore;
use orgbase_domain::{Id, StoreError};
use orgbase_store_sql::posts::{POST_COLUMNS, post};
use sqlx::QueryBuilder;

use crate::sql::{millis, push_keyset};
use crate::{SqliteStore, backend};

#[async_trait]
impl PostStore for SqliteStore {
    async fn insert_post(&self, post: &Post) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO posts (id, org_id, creator, body, created) VALUES ($1, $2, $3, $4, $5)")
            .bind(post.id.to_string())
            .bind(post.org.to_string())
            .bind(post.creator.to_string())
            .bind(&post.body)
            .bind(millis(post.created))
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn list_posts(&self, org: Id, req: &PageRequest) -> Result<Page<Post>, StoreError> {
        let mut q = QueryBuilder::new(format!("SELECT {POST_COLUMNS} FROM posts WHERE org_id = "));
        q.push_bind(org.to_string());
        push_keyset(&mut q, "posts", req);
        let rows = q.build().fetch_all(&self.reader).await.map_err(backend)?;
        let posts = rows.iter().map(post).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(posts, req))
    }

    async fn post_by_id(&self, org: Id, id: Id) -> Result<Option<Post>, StoreError> {
        let sql = format!("SELECT {POST_COLUMNS} FROM posts WHERE org_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.as_ref().map(post).transpose()
    }

    async fn delete_post(&self, org: Id, id: Id) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM posts WHERE org_id = $1 AND id = $2")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}
