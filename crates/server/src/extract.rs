//! Extractors that fail with the API's fault instead of axum's plain-text rejections:
//! a JSON body (content type, size, UTF-8, unknown fields and wrong types, with the
//! path of the bad field), a flat body sent as JSON or as a browser's form, and the
//! paging parameters of lists.
//!
//! A form body (`application/x-www-form-urlencoded`, what jQuery's `$.ajax` sends
//! by default) is read as the JSON object of its fields, each value a string, and
//! then checked exactly as that JSON would be: a form's `5` is the string `"5"`,
//! refused where a number is due, as JSON's `"5"` is. Nothing is coerced, since a
//! form cannot tell a number from text and a guess would make one property accept
//! different things from the two encodings. A form carries no arrays or documents
//! (jQuery writes them as `roles[]=a` or `name[first]=A`, and an HTML form as a
//! repeated name): such a body needs JSON, and the 415 says so.

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
        match body_kind(&req) {
            BodyKind::Json => {}
            BodyKind::Form => {
                return Err(Fault::unsupported_media(
                    "This route's body is JSON (it may hold arrays or documents, which a form body \
                     can't carry): send it with Content-Type: application/json.",
                ));
            }
            BodyKind::Other => {
                return Err(Fault::unsupported_media("Send a JSON body with Content-Type: application/json."));
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| Fault::unreadable_body(&rejection))?;
        let any_value = std::any::TypeId::of::<T>() == std::any::TypeId::of::<serde_json::Value>();
        if !any_value && bytes.trim_ascii_start().first() == Some(&b'[') {
            return Err(Fault::validation(vec![FieldError::new("", "The body is a JSON object.")]));
        }
        parse_json(&bytes).map(ApiJson)
    }
}

/// A flat request body, sent as JSON or as a form (`application/x-www-form-urlencoded`,
/// as browsers and jQuery send it). A form is read as the JSON object of its fields
/// with string values and then checked as that JSON is (see the module's doc).
#[derive(Debug)]
pub struct JsonOrForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonOrForm<T> {
    type Rejection = Fault;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let kind = body_kind(&req);
        if kind == BodyKind::Other {
            return Err(Fault::unsupported_media(
                "Send a JSON body with Content-Type: application/json \
                 (or a form, application/x-www-form-urlencoded, in UTF-8).",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| Fault::unreadable_body(&rejection))?;
        match kind {
            BodyKind::Form => parse_json(&form_as_json(&bytes)?).map(JsonOrForm),
            _ => parse_json(&bytes).map(JsonOrForm),
        }
    }
}

/// How a request body is encoded, by its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    /// `application/json` or `application/…+json`.
    Json,
    /// `application/x-www-form-urlencoded`, in UTF-8 (no charset, or `charset=UTF-8`).
    Form,
    /// Anything else, or no `Content-Type`.
    Other,
}

fn body_kind(req: &Request) -> BodyKind {
    let Some(content_type) = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return BodyKind::Other;
    };
    let mut parts = content_type.split(';').map(str::trim);
    let mime = parts.next().unwrap_or_default().to_ascii_lowercase();
    if mime == "application/json" || mime.ends_with("+json") {
        return BodyKind::Json;
    }
    let utf8 = |param: &str| match param.split_once('=') {
        Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
            value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        }
        _ => true,
    };
    if mime == "application/x-www-form-urlencoded" && parts.all(utf8) {
        return BodyKind::Form;
    }
    BodyKind::Other
}

/// The JSON object of a form body's fields, each value a string. Refuses (400)
/// a body that is not UTF-8 once percent-decoded (instead of replacing the bad
/// bytes, as form decoders do) and a field named twice (as a JSON body to a typed
/// route is refused), and (415) a field of an array or a document (`a[]`, `a[b]`).
pub fn form_as_json(bytes: &[u8]) -> Result<Vec<u8>, Fault> {
    // `&`, `=` and `+` are ASCII, so the whole body decodes to UTF-8 exactly when
    // every name and value does.
    if percent_encoding::percent_decode(bytes).decode_utf8().is_err() {
        return Err(Fault::invalid_argument("The form body is not UTF-8 once percent-decoded."));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
        .map_err(|e| Fault::invalid_argument(format!("Malformed form body: {e}")))?;
    let mut fields = serde_json::Map::new();
    for (name, value) in pairs {
        if name.contains(['[', ']']) {
            return Err(Fault::unsupported_media(format!(
                "The form field '{name}' is part of an array or a document, which a form body can't carry: \
                 send this body as JSON with Content-Type: application/json."
            )));
        }
        if fields.contains_key(&name) {
            return Err(Fault::validation(vec![FieldError::new(
                name.clone(),
                format!("duplicate field `{name}` (a form carries no arrays: send JSON for one)"),
            )]));
        }
        fields.insert(name, serde_json::Value::String(value));
    }
    serde_json::to_vec(&fields).map_err(|e| Fault::internal(&e))
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
/// ones. Like [`JsonOrForm`], it takes a flat body as a form too.
#[derive(Debug)]
pub struct MergePatch<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for MergePatch<T> {
    type Rejection = Fault;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let JsonOrForm(body) = JsonOrForm::<serde_json::Value>::from_request(req, state).await?;
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

    fn form(body: &str) -> Result<serde_json::Value, Fault> {
        form_as_json(body.as_bytes()).map(|bytes| serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn a_form_is_the_json_object_of_its_fields_as_strings() {
        assert_eq!(
            form("op=push&path=%2Fconfiguration%2Femail%2FlocationBypass&value=john%40medable.com").unwrap(),
            json!({"op": "push", "path": "/configuration/email/locationBypass", "value": "john@medable.com"})
        );
        assert_eq!(
            form("n=5&b=true&e=&s=a+b%2Bc%C3%A9").unwrap(),
            json!({"n": "5", "b": "true", "e": "", "s": "a b+cé"})
        );
        assert_eq!(form("").unwrap(), json!({}));
    }

    #[test]
    fn a_form_with_broken_utf8_a_repeated_field_or_nesting_is_refused() {
        for (body, status) in [
            ("email=a%FFb", 400),
            ("email=a%C3", 400),
            ("a=1&a=2", 400),
            ("roles%5B%5D=a", 415),
            ("roles[]=a", 415),
            ("name%5Bfirst%5D=A", 415),
        ] {
            assert_eq!(form(body).unwrap_err().status, status, "{body}");
        }
        assert_eq!(form_as_json(b"email=a\xffb").unwrap_err().status, 400);
    }

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
