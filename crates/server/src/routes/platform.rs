//! The platform API for operators, who are not org members: list, create and
//! enable/disable orgs. Authenticated by the operator token from config.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use orgbase_domain::org::{NewOrg, OrgState};
use orgbase_domain::store::{Linked, ORG_SORT_FIELDS};
use orgbase_domain::{FieldError, Id};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::extract::{ApiJson, Paging};
use crate::fault::Fault;
use crate::flows::orgs::{create_org_in, render_for_operator};
use crate::responses::{
    AccountResponse, ConnectionResponse, CreatedOrgResponse, ListResponse, ListTag, OrgResponse, json,
};
use crate::state::AppState;

/// A request authenticated with the operator token.
#[derive(Debug)]
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = Fault;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(expected) = state.config.operator_token.as_ref().filter(|t| !t.0.is_empty()) else {
            return Err(Fault::access_denied("The platform API is disabled: no operator token is configured."));
        };
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        // Compare digests, so neither the content nor the length leaks through timing.
        let a = orgbase_domain::secret::digest(given);
        let b = orgbase_domain::secret::digest(&expected.0);
        if bool::from(a.as_bytes().ct_eq(b.as_bytes())) {
            Ok(Self)
        } else {
            Err(Fault::access_denied("A valid operator token is required."))
        }
    }
}

/// The body of `POST /platform/v1/orgs`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateOrgRequest {
    /// The unique code: lowercase letters, digits and `-`, 2–40, starting with a letter.
    pub code: String,
    /// The label.
    pub name: String,
    /// A BCP 47 locale; `en_US` by default.
    pub locale: Option<String>,
    /// An IANA time zone.
    pub tz: Option<String>,
    /// The first Administrator: the account with this email is linked, or created
    /// without a password (it sets one through `accounts/request-password-reset`).
    pub admin_email: Option<String>,
}

/// Lists orgs, paged.
#[utoipa::path(get, path = "/platform/v1/orgs", tag = "platform",
    params(("limit" = Option<u32>, Query), ("skip" = Option<u64>, Query), ("startingAfter" = Option<String>, Query),
           ("endingBefore" = Option<String>, Query), ("sort" = Option<String>, Query, description = "_id, code, name or created; '-' for descending")),
    responses((status = 200, body = ListResponse<OrgResponse>), (status = 403, body = Fault)),
    security(("operator" = [])))]
pub async fn list_orgs(
    State(state): State<AppState>,
    _op: Operator,
    Paging(params): Paging,
) -> Result<Response, Fault> {
    let req = params.validate(ORG_SORT_FIELDS).map_err(Fault::validation)?;
    let page = state.store.list_orgs(&req).await?;
    let mut data = Vec::with_capacity(page.data.len());
    for org in &page.data {
        data.push(OrgResponse::Rendered(render_for_operator(&state, org).await?));
    }
    Ok(ListResponse { data, has_more: page.has_more, object: ListTag::Tag }.into_response())
}

/// Creates an org.
#[utoipa::path(post, path = "/platform/v1/orgs", tag = "platform", request_body = CreateOrgRequest,
    responses((status = 200, body = CreatedOrgResponse),
              (status = 400, body = Fault), (status = 409, body = Fault)),
    security(("operator" = [])))]
pub async fn create_org(
    State(state): State<AppState>,
    _op: Operator,
    ApiJson(body): ApiJson<CreateOrgRequest>,
) -> Result<Response, Fault> {
    let new = NewOrg { code: body.code, name: body.name, locale: body.locale, tz: body.tz };
    let (org, admin) = create_org_in(&state, new, body.admin_email.as_deref()).await?;
    let org = render_for_operator(&state, &org).await?;
    let (admin, invitation) = match &admin {
        Some(Linked::Member(_, account)) => (Some(AccountResponse::from(account)), None),
        Some(Linked::Invited(connection)) => (None, Some(ConnectionResponse::from(connection))),
        _ => (None, None),
    };
    Ok(json(CreatedOrgResponse { org, admin, invitation }))
}

/// The body of `PATCH /platform/v1/orgs/{id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrgStateRequest {
    /// `enabled` or `disabled`.
    pub state: String,
}

/// Enables or disables an org.
#[utoipa::path(patch, path = "/platform/v1/orgs/{id}", tag = "platform", request_body = UpdateOrgStateRequest,
    params(("id" = String, Path)),
    responses((status = 200, body = OrgResponse), (status = 400, body = Fault), (status = 404, body = Fault)),
    security(("operator" = [])))]
pub async fn update_org_state(
    State(state): State<AppState>,
    _op: Operator,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateOrgStateRequest>,
) -> Result<Response, Fault> {
    let id = Id::parse(&id).ok_or_else(|| Fault::not_found("Org"))?;
    let new_state = OrgState::parse(&body.state)
        .ok_or_else(|| Fault::validation(vec![FieldError::new("state", "state is enabled or disabled.")]))?;
    let org = state.store.set_org_state(id, new_state, state.clock.now()).await?;
    Ok(json(OrgResponse::Rendered(render_for_operator(&state, &org).await?)))
}
