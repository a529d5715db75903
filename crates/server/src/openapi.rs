//! The OpenAPI document, generated from the handlers' annotations. A committed
//! snapshot (`tests/snapshots`) makes every API change visible in review.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::fault::Fault;
use crate::routes::{accounts, connections, facilities, health, members, orgs, platform, posts, sessions, taxonomy};

#[derive(OpenApi)]
#[openapi(
    info(title = "orgbase", description = "Organisations, members, roles, invitations and sessions."),
    paths(
        health::healthz, health::readyz, health::metrics, health::openapi,
        orgs::get_public_org, orgs::get_org, orgs::patch_public_org, orgs::patch_org,
        orgs::get_org_property, orgs::put_org_property, orgs::get_org_schema, orgs::declare_property,
        posts::list_posts, posts::create_post, posts::delete_post,
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
        sessions::CreateSessionRequest, sessions::UpdateSessionRequest, sessions::AddParticipantRequest,
        sessions::UpdateParticipantRequest, sessions::PermissionsDoc, sessions::SessionDoc,
        facilities::CreatePlaceRequest, facilities::UpdatePlaceRequest, facilities::PlaceDoc, taxonomy::TermDoc,
    )),
    modifiers(&Security),
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

/// The OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
