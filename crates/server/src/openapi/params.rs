//! The schemas of the parameters that many operations share, by name: the paging
//! parameters of lists (`crate::extract::Paging`, `domain::paging`), the ids in
//! paths and the property path of `/orgs/{id}/{path}`. Set here once rather than
//! on each handler, from the same constants that the server checks against.

use orgbase_domain::facility::FACILITY_SORT_FIELDS;
use orgbase_domain::paging::MAX_LIMIT;
use orgbase_domain::patch::{MAX_DEPTH, MAX_SEGMENT};
use orgbase_domain::store::ORG_SORT_FIELDS;
use serde_json::Value;
use utoipa::Modify;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Object, RefOr, Schema};

use super::fields::{self, ID_PATTERN};
use super::operations;

/// The path parameters that hold an object id (`crate::routes::common::path_id`:
/// a malformed one finds nothing, 404). Under a room or a participant, the id of
/// the facility or session is named `{facility}` or `{session}`: the room's and
/// the participant's own `_id` is another id.
const ID_PARAMS: &[&str] = &["id", "facility", "session", "room", "post", "account"];

/// The fields each list sorts by (`PageParams::validate`), by path.
fn sort_fields(path: &str) -> Option<&'static [&'static str]> {
    match path {
        "/{org}/v2/facilities" | "/{org}/v2/facilities/{id}/rooms" => Some(FACILITY_SORT_FIELDS),
        "/{org}/v2/orgs/{id}/posts" => Some(&["_id"]),
        "/platform/v1/orgs" => Some(ORG_SORT_FIELDS),
        _ => None,
    }
}

/// `sort`: a field, or the field with `-` (descending) or `+` before it; empty is
/// the default order.
fn sort_schema(fields: &[&str]) -> Object {
    let mut values = vec![Value::from("")];
    for field in fields {
        for prefix in ["", "-", "+"] {
            values.push(Value::from(format!("{prefix}{field}")));
        }
    }
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values)).build()
}

fn integer(min: u64, max: u64) -> Object {
    ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(min)).maximum(Some(max)).build()
}

fn pattern(pattern: &str) -> Object {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(pattern)).build()
}

/// A property path as `domain::patch::Path::parse` reads it: segments of ASCII
/// letters, digits and `_` joined by `/` or `.`, an optional leading `/`.
fn property_path() -> String {
    format!("^/?[A-Za-z0-9_]{{1,{MAX_SEGMENT}}}(?:[./][A-Za-z0-9_]{{1,{MAX_SEGMENT}}}){{0,{}}}$", MAX_DEPTH - 1)
}

/// The schema of a shared parameter of `path`, if `parameter` is one.
fn schema_of(path: &str, parameter: &Parameter) -> Option<Object> {
    let name = parameter.name.as_str();
    match parameter.parameter_in {
        ParameterIn::Query => match name {
            "limit" => Some(integer(1, u64::from(MAX_LIMIT))),
            "skip" => Some(integer(0, u64::from(u32::MAX))),
            "startingAfter" | "endingBefore" => Some(pattern(ID_PATTERN)),
            "sort" => sort_fields(path).map(sort_schema),
            _ => filter_of(path, name),
        },
        ParameterIn::Path if ID_PARAMS.contains(&name) => Some(pattern(ID_PATTERN)),
        ParameterIn::Path if name == "path" => Some(pattern(&property_path())),
        _ => None,
    }
}

/// The schema of a list filter (`crate::routes::members::member_filter`,
/// `crate::routes::connections::list_connections`).
fn filter_of(path: &str, name: &str) -> Option<Object> {
    match (path, name) {
        ("/{org}/v2/members", "role") => Some(fields::role()),
        ("/{org}/v2/members", "state") => Some(fields::one_of(&["active", "suspended"], false)),
        ("/{org}/v2/members", "search") => Some(fields::text_without_nul()),
        ("/{org}/v2/connections", "state") => Some(integer(0, 3)),
        _ => None,
    }
}

/// Gives the shared parameters their schemas.
pub struct SharedParams;

impl Modify for SharedParams {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            for operation in operations(item) {
                for parameter in operation.parameters.iter_mut().flatten() {
                    if let Some(schema) = schema_of(path, parameter) {
                        parameter.schema = Some(RefOr::T(Schema::Object(schema)));
                    }
                }
            }
        }
    }
}
