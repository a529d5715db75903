//! The response bodies of the API: each type here is what a handler serialises
//! and what `/openapi.json` documents, so the two cannot drift apart. They are
//! built from domain types by `From` (domain knows nothing of HTTP or OpenAPI).
//! Field names and shapes are the seed platform's; fields are declared in the
//! order their names sort in, the order the bodies have always had.
//!
//! Not here: the fault body (`crate::fault::Fault`) and request bodies (beside
//! their handlers).

mod accounts;
mod apps;
mod org;
mod places;
mod sessions;

use axum::response::{IntoResponse, Response};
use orgbase_domain::paging::Page;
use serde::Serialize;
use utoipa::ToSchema;

pub use accounts::{AccountResponse, ConnectionResponse, LoginResponse, MeResponse, MemberResponse, StatusResponse};
pub use apps::{ActAsSchema, AppCorsResponse, AppResponse};
pub use org::{CreatedOrgResponse, OrgResponse, OrgSchemaResponse, PropertyDeclarationResponse, PropertyResponse};
pub use places::{FacilityResponse, PostResponse, RoomResponse, TaxonomyTermResponse};
pub use sessions::{JoinTokenResponse, ParticipantResponse, PermissionsResponse, SessionResponse};

/// Declares a one-value type that serialises as `$value`: the `object` field of a
/// body, documented as that one string.
macro_rules! object_tag {
    ($(#[$doc:meta])* $name:ident = $value:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub enum $name {
            #[doc = concat!("`", $value, "`")]
            #[default]
            Tag,
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str($value)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$value]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}
pub(crate) use object_tag;

object_tag!(
    /// `list`, the `object` of every list.
    ListTag = "list"
);
object_tag!(
    /// `result`, the `object` of an answer that is a bare value.
    ResultTag = "result"
);

/// A page of a list: `{"data":[...],"hasMore":bool,"object":"list"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListResponse<T> {
    /// The items of this page.
    pub data: Vec<T>,
    /// True when more items follow this page.
    #[serde(rename = "hasMore")]
    pub has_more: bool,
    /// Always `list`.
    pub object: ListTag,
}

impl<T> ListResponse<T> {
    /// The page's items mapped to their response type.
    pub fn of<'p, U>(page: &'p Page<U>, map: impl FnMut(&'p U) -> T) -> Self {
        Self { data: page.data.iter().map(map).collect(), has_more: page.has_more, object: ListTag::Tag }
    }

    /// A whole list, in one page.
    pub fn all(data: Vec<T>) -> Self {
        Self { data, has_more: false, object: ListTag::Tag }
    }
}

impl<T: Serialize> IntoResponse for ListResponse<T> {
    fn into_response(self) -> Response {
        axum::Json(self).into_response()
    }
}

/// A bare value: `{"data":…,"object":"result"}`, the answer of deletes, logouts
/// and the like.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResultResponse<T> {
    /// The value.
    pub data: T,
    /// Always `result`.
    pub object: ResultTag,
}

impl<T> ResultResponse<T> {
    /// `data` as a result.
    pub fn of(data: T) -> Self {
        Self { data, object: ResultTag::Tag }
    }
}

impl<T: Serialize> IntoResponse for ResultResponse<T> {
    fn into_response(self) -> Response {
        axum::Json(self).into_response()
    }
}

/// `{"data":true,"object":"result"}`: what a delete, a logout and the like answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Done)]
pub struct DoneResponse {
    /// Always `true`.
    pub data: bool,
    /// Always `result`.
    pub object: ResultTag,
}

impl DoneResponse {
    /// The answer.
    pub fn done() -> Self {
        Self { data: true, object: ResultTag::Tag }
    }
}

impl IntoResponse for DoneResponse {
    fn into_response(self) -> Response {
        axum::Json(self).into_response()
    }
}

/// Serialises a response type as its JSON body.
pub fn json<T: Serialize>(body: T) -> Response {
    axum::Json(body).into_response()
}

#[cfg(test)]
mod tests;
