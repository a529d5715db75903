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
/// (`deny_unknown_fields`), and the fault names the field that failed. A body read
/// into a struct is an object: serde would also read a struct from the array of its
/// fields in order (`[null, null]`), which no operation documents; only a body
/// taken as any JSON value (`ApiJson<serde_json::Value>`) may be an array.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + 'static> FromRequest<S> for ApiJson<T> {
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
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| Fault::unreadable_body(&rejection))?;
        let any_value = std::any::TypeId::of::<T>() == std::any::TypeId::of::<serde_json::Value>();
        if !any_value && bytes.trim_ascii_start().first() == Some(&b'[') {
            return Err(Fault::validation(vec![FieldError::new("", "The body is a JSON object.")]));
        }
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

/// The decoded query string of a request, in order (without copying the request's
/// headers, as taking `Parts` would).
#[derive(Debug, Default)]
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(query_pairs(parts)))
    }
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

/// The body of a PATCH of a plain object (a session, a facility, a room): the
/// fields to change (`{"name": "Theatre 2"}`), or the seed platform's ops on its
/// top-level fields, one or an array: `{op: "set", path?, value}`, `{op: "unset",
/// value: {field: 1}}` and `{op: "remove", path}`. `null`, `unset` and `remove`
/// clear a field. The merged fields are then read into `T`, which refuses unknown
/// ones.
#[derive(Debug)]
pub struct MergePatch<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for MergePatch<T> {
    type Rejection = Fault;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ApiJson(body) = ApiJson::<serde_json::Value>::from_request(req, state).await?;
        let fields = merge_fields(body)?;
        let bytes = serde_json::to_vec(&fields).map_err(|e| Fault::internal(&e))?;
        parse_json(&bytes).map(MergePatch)
    }
}

/// Turns a PATCH body into the object of fields it sets (see [`MergePatch`]).
pub fn merge_fields(body: serde_json::Value) -> Result<serde_json::Value, Fault> {
    use serde_json::{Map, Value};
    let ops = match body {
        Value::Object(map) if !map.contains_key("op") => return Ok(Value::Object(map)),
        Value::Array(ops) if ops.is_empty() => return Err(Fault::invalid_argument("The list of ops is empty.")),
        Value::Array(ops) => ops,
        op @ Value::Object(_) => vec![op],
        _ => return Err(Fault::invalid_argument("A PATCH body is an object of fields, or one op or an array of ops.")),
    };
    let field = |path: Option<&Value>| -> Result<Option<String>, Fault> {
        let Some(path) = path else { return Ok(None) };
        let name = path.as_str().map(|p| p.trim_matches(['/', '.'])).unwrap_or_default();
        if name.is_empty() || name.contains(['/', '.']) {
            return Err(Fault::invalid_argument("A path names one top-level field here.").at("path"));
        }
        Ok(Some(name.to_owned()))
    };
    let mut fields = Map::new();
    for op in ops {
        let Value::Object(mut op) = op else { return Err(Fault::invalid_argument("Each op is an object.")) };
        let name = op.remove("op").and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let path = field(op.get("path"))?;
        let value = op.remove("value");
        match (name.as_str(), path, value) {
            ("set", Some(path), Some(value)) => {
                fields.insert(path, value);
            }
            ("set", None, Some(Value::Object(values))) => fields.extend(values),
            ("unset", None, Some(Value::Object(paths))) => {
                for path in paths.keys() {
                    if let Some(path) = field(Some(&Value::String(path.clone())))? {
                        fields.insert(path, Value::Null);
                    }
                }
            }
            ("remove", Some(path), None) => {
                fields.insert(path, Value::Null);
            }
            ("set" | "unset" | "remove", _, _) => {
                return Err(Fault::invalid_argument(format!("The '{name}' op lacks its path or value.")));
            }
            _ => return Err(Fault::invalid_argument(format!("The op '{name}' does not apply to this object."))),
        }
    }
    Ok(Value::Object(fields))
}

/// For `#[serde(default, deserialize_with = "present")]` on an `Option<T>` PATCH
/// field that cannot be cleared: absent is `None`, and `null` is refused.
pub fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// For `#[serde(default, deserialize_with = "nullable")]` on an `Option<Option<T>>`
/// PATCH field: absent is `None`, `null` is `Some(None)` (clear it).
pub fn nullable<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn patch_bodies_merge_fields_and_simple_ops() {
        let same = json!({"name": "A", "room": null});
        assert_eq!(merge_fields(same.clone()).unwrap(), same);
        let ops = json!([
            {"op": "set", "path": "name", "value": "B"},
            {"op": "set", "value": {"access": "PRIVATE"}},
            {"op": "unset", "value": {"speciality": 1}},
            {"op": "remove", "path": "/room"}
        ]);
        assert_eq!(
            merge_fields(ops).unwrap(),
            json!({"name": "B", "access": "PRIVATE", "speciality": null, "room": null})
        );
        assert_eq!(merge_fields(json!({"op": "set", "path": "name", "value": "C"})).unwrap(), json!({"name": "C"}));
        for bad in [
            json!([]),
            json!({"op": "push", "path": "name", "value": 1}),
            json!({"op": "set", "path": "a.b", "value": 1}),
            json!({"op": "set", "path": "name"}),
            json!("name"),
        ] {
            assert_eq!(merge_fields(bad.clone()).unwrap_err().status, 400, "{bad}");
        }
    }
}
