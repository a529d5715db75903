//! Extractors that fail with the API's fault instead of axum's plain-text rejections:
//! a JSON body (content type, size, UTF-8, unknown fields and wrong types, with the
//! path of the bad field), and the paging parameters of lists.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use orgbase_domain::FieldError;
use orgbase_domain::paging::PageParams;
use serde::de::DeserializeOwned;

use crate::fault::Fault;

/// A JSON request body. Unknown fields are refused by the target types
/// (`deny_unknown_fields`), and the fault names the field that failed.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Fault;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json") || mime.to_ascii_lowercase().ends_with("+json")
            });
        if !is_json {
            return Err(Fault::unsupported_media("Send a JSON body with Content-Type: application/json."));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                Fault::too_large()
            } else {
                Fault::invalid_argument("The request body could not be read.")
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses JSON bytes into `T`, mapping syntax errors to `kInvalidArgument` and
/// shape errors to `kValidationError` at the failing path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Fault> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() {
            let path = if path == "." { String::new() } else { path };
            Fault::validation(vec![FieldError::new(path, inner.to_string())])
        } else {
            Fault::invalid_argument(format!("Malformed JSON: {inner}"))
        }
    })?;
    de.end().map_err(|e| Fault::invalid_argument(format!("Malformed JSON: {e}")))?;
    Ok(value)
}

/// The query string's parameters, in order, percent-decoded.
pub fn query_pairs(parts: &Parts) -> Vec<(String, String)> {
    parts.uri.query().map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

/// The paging parameters of a list (`limit`, `skip`, `startingAfter`,
/// `endingBefore`, `sort`), validated by the handler against its sortable fields.
#[derive(Debug, Default)]
pub struct Paging(pub PageParams);

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = Fault;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut params = PageParams::default();
        for (k, v) in query_pairs(parts) {
            match k.as_str() {
                "limit" => params.limit = Some(v),
                "skip" => params.skip = Some(v),
                "startingAfter" => params.starting_after = Some(v),
                "endingBefore" => params.ending_before = Some(v),
                "sort" => params.sort = Some(v),
                _ => {}
            }
        }
        Ok(Self(params))
    }
}

/// The `paths` of a read: `?paths=name,logo` or `?paths[]=name&paths[]=logo`.
pub fn requested_paths(parts: &Parts) -> Option<Vec<String>> {
    let paths: Vec<String> = query_pairs(parts)
        .into_iter()
        .filter(|(k, _)| k == "paths" || k == "paths[]")
        .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_owned()).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect();
    (!paths.is_empty()).then_some(paths)
}
