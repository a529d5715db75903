//! Facilities, rooms, posts and taxonomy terms as the API shows them.

use orgbase_domain::Id;
use orgbase_domain::facility::{Facility, Room};
use orgbase_domain::post::Post;
use orgbase_domain::taxonomy::Term;
use orgbase_domain::time::Date;
use serde::Serialize;
use utoipa::ToSchema;

use super::object_tag;

object_tag!(
    /// `facility`.
    FacilityTag = "facility"
);
object_tag!(
    /// `room`.
    RoomTag = "room"
);
object_tag!(
    /// `post`.
    PostTag = "post"
);

/// A facility of the org.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Facility)]
pub struct FacilityResponse<'a> {
    /// 24 hex characters.
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    pub id: Id,
    /// Creation time, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub created: Date,
    /// False keeps it from being deleted.
    #[serde(rename = "isRemovable")]
    pub is_removable: bool,
    /// The label.
    pub name: &'a str,
    /// Always `facility`.
    pub object: FacilityTag,
    /// The org's id.
    #[schema(value_type = String)]
    pub org: Id,
    /// Last update, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub updated: Date,
}

impl<'a> From<&'a Facility> for FacilityResponse<'a> {
    fn from(f: &'a Facility) -> Self {
        Self {
            id: f.id,
            created: Date(f.created),
            is_removable: f.is_removable,
            name: &f.name,
            object: FacilityTag::Tag,
            org: f.org,
            updated: Date(f.updated),
        }
    }
}

/// A room of a facility.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Room)]
pub struct RoomResponse<'a> {
    /// 24 hex characters.
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    pub id: Id,
    /// Creation time, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub created: Date,
    /// The facility's id.
    #[schema(value_type = String)]
    pub facility: Id,
    /// False keeps it from being deleted.
    #[serde(rename = "isRemovable")]
    pub is_removable: bool,
    /// The label.
    pub name: &'a str,
    /// Always `room`.
    pub object: RoomTag,
    /// Last update, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub updated: Date,
}

impl<'a> From<&'a Room> for RoomResponse<'a> {
    fn from(r: &'a Room) -> Self {
        Self {
            id: r.id,
            created: Date(r.created),
            facility: r.facility,
            is_removable: r.is_removable,
            name: &r.name,
            object: RoomTag::Tag,
            updated: Date(r.updated),
        }
    }
}

/// A post on the org's feed.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Post)]
pub struct PostResponse<'a> {
    /// 24 hex characters.
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    pub id: Id,
    /// The text.
    pub body: &'a str,
    /// Creation time, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub created: Date,
    /// The author's account id.
    #[schema(value_type = String)]
    pub creator: Id,
    /// Always `post`.
    pub object: PostTag,
    /// The org's id.
    #[schema(value_type = String)]
    pub org: Id,
}

impl<'a> From<&'a Post> for PostResponse<'a> {
    fn from(p: &'a Post) -> Self {
        Self { id: p.id, body: &p.body, created: Date(p.created), creator: p.creator, object: PostTag::Tag, org: p.org }
    }
}

/// One taxonomy entry.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TaxonomyTerm)]
pub struct TaxonomyTermResponse {
    /// The value that writes carry (`HOSPITAL`, `GBR`).
    pub code: &'static str,
    /// Its English name.
    pub name: &'static str,
}

impl From<Term> for TaxonomyTermResponse {
    fn from(t: Term) -> Self {
        Self { code: t.code, name: t.name }
    }
}
