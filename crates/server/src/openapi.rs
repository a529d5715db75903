//! The OpenAPI document, generated from the handlers' annotations and the response
//! types they serialise (`crate::responses`), plus what every route shares: the
//! faults that the layers in front of the handlers answer. A committed snapshot
//! (`tests/api/snapshots`) makes every API change visible in review.

pub mod fields;
pub mod org;
mod params;

use std::collections::HashMap;

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use self::org::PropertyPuts;
use self::params::SharedParams;
use crate::fault::Fault;
use crate::routes::{
    accounts, apps, connections, facilities, health, members, orgs, platform, posts, sessions, taxonomy,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "orgbase", description = "Organisations, members, roles, invitations and sessions."),
    paths(
        health::healthz, health::readyz, health::metrics, health::openapi,
        orgs::get_public_org, orgs::get_org, orgs::patch_public_org, orgs::patch_org,
        orgs::get_org_property, orgs::put_org_property, orgs::get_org_schema, orgs::declare_property,
        posts::list_posts, posts::create_post, posts::delete_post,
        apps::list_apps, apps::create_app, apps::get_app, apps::update_app, apps::rotate_app_secret,
        apps::delete_app,
        members::list_members, members::get_member, members::update_member, members::delete_member,
        connections::create_connection, connections::list_connections, connections::resend_connection,
        connections::accept_connection, connections::delete_connection, connections::accept_connection_by_body,
        connections::decline_connection_by_body,
        accounts::register, accounts::login, accounts::logout, accounts::get_me, accounts::get_status,
        accounts::update_password, accounts::request_password_reset, accounts::reset_password, accounts::verify_email,
        platform::list_orgs, platform::create_org, platform::update_org_state,
        sessions::list_sessions, sessions::create_session, sessions::get_session, sessions::patch_session,
        sessions::delete_session, sessions::start_session, sessions::end_session, sessions::list_participants,
        sessions::add_participant, sessions::patch_participant, sessions::remove_participant,
        sessions::create_join_token, sessions::list_my_sessions,
        facilities::list_facilities, facilities::create_facility, facilities::get_facility,
        facilities::patch_facility, facilities::delete_facility, facilities::list_rooms, facilities::create_room,
        facilities::get_room, facilities::patch_room, facilities::delete_room,
        taxonomy::get_org_types, taxonomy::get_countries, taxonomy::get_user_titles,
        taxonomy::get_user_specialities, taxonomy::get_session_types, taxonomy::get_session_durations,
    ),
    components(schemas(
        Fault, platform::CreateOrgRequest, platform::UpdateOrgStateRequest,
        accounts::RegisterRequest, accounts::LoginRequest, accounts::UpdatePasswordRequest,
        accounts::RequestPasswordResetRequest, accounts::ResetPasswordRequest, accounts::VerifyRequest,
        connections::ConnectionTokenRequest, posts::CreatePostRequest,
        members::UpdateMemberRequest, connections::CreateConnectionRequest,
        apps::CreateAppRequest, apps::UpdateAppRequest, apps::AppCorsRequest,
        sessions::CreateSessionRequest, sessions::UpdateSessionRequest, sessions::AddParticipantRequest,
        sessions::UpdateParticipantRequest, sessions::PermissionGrant,
        facilities::CreatePlaceRequest, facilities::UpdatePlaceRequest,
    )),
    modifiers(&PropertyPuts, &Security, &CommonFaults, &UniqueOperationIds, &SharedParams),
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme("operator", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        }
    }
}

/// The faults that any operation of the org API can answer before or besides its
/// handler, with why: the context layer (`crate::context`) resolves the org, the
/// client key and the caller; `crate::edge` enforces the timeout; the body limit
/// and the body extractors (`crate::extract`) refuse bodies; the store may be full
/// or unreachable.
const ORG_FAULTS: &[(u16, &str)] = &[
    (400, "Invalid request: a malformed parameter or body, or an unknown client key (`kInvalidClient`)"),
    (403, "Access denied: not logged in, a session that ended, a bad CSRF token or signature, maintenance"),
    (404, "The org (or what the path names) does not exist"),
    (408, "The request took too long (`kTimeout`)"),
    (429, "Too many requests (`kThrottled`), with `Retry-After`"),
    (503, "The database is full (`kStorageFull`) or unreachable (`kUnavailable`), with `Retry-After`"),
];

/// The faults of an operation that takes a body.
const BODY_FAULTS: &[(u16, &str)] = &[
    (413, "The body is larger than the limit (`kTooLarge`)"),
    (415, "The body is neither JSON nor, where docs/API.md says so, a flat form (`kUnsupportedMedia`)"),
];

/// The faults of the platform API (operator token, no org in the path).
const PLATFORM_FAULTS: &[(u16, &str)] = &[
    (400, "Invalid request: a malformed parameter or body"),
    (403, "No or a wrong operator token"),
    (404, "The org does not exist"),
    (408, "The request took too long (`kTimeout`)"),
    (503, "The database is full (`kStorageFull`) or unreachable (`kUnavailable`), with `Retry-After`"),
];

/// Adds the shared faults to every operation that does not already list them.
struct CommonFaults;

impl Modify for CommonFaults {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let shared = if path.starts_with("/{org}/v2") {
                ORG_FAULTS
            } else if path.starts_with("/platform/") {
                PLATFORM_FAULTS
            } else {
                continue;
            };
            for operation in operations(item) {
                let body = if operation.request_body.is_some() { BODY_FAULTS } else { &[] };
                for (status, description) in shared.iter().chain(body) {
                    let fault = ResponseBuilder::new()
                        .description(*description)
                        .content("application/json", Content::new(Some(Ref::from_schema_name(Fault::name()))))
                        .build();
                    operation.responses.responses.entry(status.to_string()).or_insert(fault.into());
                }
            }
        }
    }
}

/// Every operation of a path.
fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// Gives each operation of a handler that serves several methods an id of its own
/// (`create_join_token` for POST, `create_join_token_get` for GET): an id must be
/// unique in the document, and generated clients name their functions by it.
struct UniqueOperationIds;

impl Modify for UniqueOperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                if let Some(id) = &operation.operation_id {
                    *seen.entry(id.clone()).or_default() += 1;
                }
            }
        }
        for item in openapi.paths.paths.values_mut() {
            let methods = [
                ("get", item.get.as_mut()),
                ("put", item.put.as_mut()),
                ("post", item.post.as_mut()),
                ("delete", item.delete.as_mut()),
                ("patch", item.patch.as_mut()),
            ];
            for (method, operation) in methods {
                let Some(operation) = operation else { continue };
                let Some(id) = operation.operation_id.clone() else { continue };
                if seen.get(&id).copied().unwrap_or(0) > 1 && method != "post" {
                    operation.operation_id = Some(format!("{id}_{method}"));
                }
            }
        }
    }
}

/// The OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
