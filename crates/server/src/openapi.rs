//! The OpenAPI document, generated from the handlers' annotations. A committed
//! snapshot (`tests/snapshots`) makes every API change visible in review.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::fault::Fault;
use crate::routes::{accounts, connections, health, members, orgs, platform, posts};

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
        connections::accept_connection, connections::delete_connection,
        accounts::register, accounts::login, accounts::logout, accounts::get_me, accounts::get_status,
        accounts::update_password, accounts::request_password_reset, accounts::reset_password,
        platform::list_orgs, platform::create_org, platform::update_org_state,
    ),
    components(schemas(
        Fault, platform::CreateOrgRequest, platform::UpdateOrgStateRequest,
        accounts::RegisterRequest, accounts::LoginRequest, accounts::UpdatePasswordRequest,
        accounts::RequestPasswordResetRequest, accounts::ResetPasswordRequest, posts::CreatePostRequest,
        members::UpdateMemberRequest, connections::CreateConnectionRequest,
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
