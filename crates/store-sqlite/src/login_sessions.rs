//! Touching and deleting a login session go through the group-commit batcher, so a
//! burst of requests of one session shares one commit. The SQL is
//! `orgbase_store_sql::login_sessions`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use orgbase_domain::{Id, StoreError};
use orgbase_store_sql::login_sessions::{delete, touch};

use crate::{Db, SqliteBackend, store_error};

impl SqliteBackend {
    /// Concurrent requests of one session all see it due for a touch at once:
    /// through the batcher they share one commit, and only the first moves it.
    pub(crate) async fn touch_in_batch(
        &self,
        id: Id,
        last_seen: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let cache = Arc::clone(&self.cache);
        self.batcher
            .write(
                move |conn, _| Box::pin(async move { Ok(touch::<Db>(conn, id, last_seen, expires).await?) }),
                move |()| cache.forget_login_session(id),
            )
            .await
            .map_err(store_error)
    }

    /// Through the batcher: the session is forgotten once the delete commits, even
    /// if the caller (a logout) has gone away by then.
    pub(crate) async fn delete_in_batch(&self, id: Id) -> Result<(), StoreError> {
        let cache = Arc::clone(&self.cache);
        self.batcher
            .write(
                move |conn, _| Box::pin(async move { Ok(delete::<Db>(conn, id).await?) }),
                move |()| cache.forget_login_session(id),
            )
            .await
            .map_err(store_error)
    }
}
