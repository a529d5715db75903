//! Posts: the org's simple feed of member posts.

use chrono::{DateTime, Utc};

use crate::{FieldError, Id};

/// The longest post body, in characters.
pub const MAX_BODY: usize = 10_000;

/// A post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    /// The id.
    pub id: Id,
    /// The org.
    pub org: Id,
    /// The author's account.
    pub creator: Id,
    /// The text.
    pub body: String,
    /// When it was posted.
    pub created: DateTime<Utc>,
}

impl Post {
    /// A new post; the body is 1 to 10,000 characters.
    pub fn new(org: Id, creator: Id, body: &str, now: DateTime<Utc>) -> Result<Self, FieldError> {
        let chars = body.trim().chars().count();
        if chars == 0 || chars > MAX_BODY {
            return Err(FieldError::new("body", format!("A post is 1 to {MAX_BODY} characters.")));
        }
        if body.contains('\0') {
            return Err(FieldError::new("body", crate::limits::NUL));
        }
        Ok(Self { id: Id::generate(now), org, creator, body: body.to_owned(), created: now })
    }
}
