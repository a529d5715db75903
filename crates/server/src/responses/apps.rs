//! Apps as the API shows them: the org's `apps` entries (`App::view`) with
//! `object: "app"`, and the secret only in the answers that create one.

use orgbase_domain::Id;
use orgbase_domain::app::{ActAs, App};
use orgbase_domain::time::Date;
use serde::Serialize;
use utoipa::ToSchema;

use super::object_tag;

object_tag!(
    /// `app`.
    AppTag = "app"
);

/// Whom an app's signed requests may act as: `"all"` (any active member), or an
/// array of account ids (empty: none). Writes also take `"none"`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ActAs)]
#[serde(untagged)]
pub enum ActAsSchema {
    /// `"all"` (or, in writes, `"none"`).
    Named(String),
    /// Account ids, 24 hex characters each.
    Accounts(Vec<String>),
}

/// An app's CORS settings.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AppCors)]
pub struct AppCorsResponse<'a> {
    /// Browser origins allowed by CORS (`https://app.example.com`).
    pub origins: &'a [String],
}

/// An app of the org. Its secret is shown only by the create and rotate answers.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = App)]
pub struct AppResponse<'a> {
    /// 24 hex characters.
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    pub id: Id,
    /// The accounts signed requests may act as: `"all"` (any active member) or an
    /// array of account ids (empty: none).
    #[serde(rename = "actAs")]
    #[schema(value_type = ActAsSchema)]
    pub act_as: &'a ActAs,
    /// CORS.
    pub cors: AppCorsResponse<'a>,
    /// Creation time, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub created: Date,
    /// True (the default): a cookie-authenticated write must echo
    /// `Medable-Csrf-Token`. False: a write without it is accepted only from one
    /// of `cors.origins`.
    pub csrf: bool,
    /// A disabled app's key is refused (400 `kInvalidClient`).
    pub enabled: bool,
    /// The client key: 22 letters and digits, public.
    pub key: &'a str,
    /// The label.
    pub name: &'a str,
    /// Always `app`.
    pub object: AppTag,
    /// After a rotation: when the previous secret stops signing.
    #[serde(rename = "previousSecretExpires", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub previous_secret_expires: Option<Date>,
    /// Signed requests must use signature version 2.
    #[serde(rename = "requireSignatureV2")]
    pub require_signature_v2: bool,
    /// The signing secret: only when the app was just created or its secret
    /// rotated. Keep it: it is never shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<&'a str>,
}

impl<'a> From<&'a App> for AppResponse<'a> {
    fn from(a: &'a App) -> Self {
        Self {
            id: a.id,
            act_as: &a.act_as,
            cors: AppCorsResponse { origins: &a.cors_origins },
            created: Date(a.created),
            csrf: a.csrf,
            enabled: a.enabled,
            key: &a.key,
            name: &a.name,
            object: AppTag::Tag,
            previous_secret_expires: a.previous_secret.as_ref().map(|p| Date(p.until)),
            require_signature_v2: a.require_signature_v2,
            secret: None,
        }
    }
}

impl<'a> AppResponse<'a> {
    /// The app with its secret: the answer of a create or a rotation, only.
    pub fn with_secret(app: &'a App) -> Self {
        Self { secret: Some(&app.secret), ..Self::from(app) }
    }
}
