//! The org as the API shows it, and its schema (the declarations of custom
//! properties). The org body itself is rendered by `domain` (`OrgView`,
//! `Org::render`): which properties it holds depends on the caller's access level
//! and `?paths=`, so it is documented here by hand, around a thin wrapper.

use std::borrow::Cow;

use orgbase_domain::Id;
use orgbase_domain::access::ORG_PROPERTIES;
use orgbase_domain::org::OrgView;
use orgbase_domain::schema::{AclEntry, AclKind, CustomProperty, PropertyType};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{RefOr, schema};
use utoipa::{PartialSchema, ToSchema};

use super::{AccountResponse, ConnectionResponse, ListResponse, ResultResponse, object_tag};

object_tag!(
    /// `schema`.
    SchemaTag = "schema"
);
object_tag!(
    /// `property`.
    PropertyTag = "property"
);

/// The org as the caller may read it: `_id`, `object` and `access` always, the
/// other properties as the caller's access level and `?paths=` allow, as `domain`
/// renders it.
#[derive(Serialize)]
#[serde(untagged)]
pub enum OrgResponse<'a> {
    /// Every property the caller may read (`Org::view`).
    View(OrgView<'a>),
    /// The properties `?paths=` selects, or every property as a map (`Org::render`).
    Rendered(Map<String, Value>),
}

/// The built-in properties whose type is the same for every org.
const TYPED: &[(&str, Type, &str)] = &[
    ("_id", Type::String, "24 hex characters."),
    ("object", Type::String, "Always `org`."),
    ("access", Type::Integer, "The caller's access level (1 public … 8 script)."),
    ("code", Type::String, "The unique org code."),
    ("name", Type::String, "The label."),
    ("locale", Type::String, "The default locale (`en_US`)."),
    ("schemasETag", Type::String, "Changes when custom properties change."),
];

/// The org object: the typed properties above, every other built-in property with
/// the level needed to read it, and the custom `c_…` properties as additional ones.
fn org_object() -> ObjectBuilder {
    let mut object = ObjectBuilder::new().description(Some(
        "The org as the caller may read it: `_id`, `object` and `access` always, the other properties as the \
         caller's access level and `?paths=` allow; custom `c_…` properties as declared in `/schemas/org`.",
    ));
    for (name, level) in ORG_PROPERTIES {
        let described = TYPED.iter().find(|(n, _, _)| n == name);
        let property = match described {
            Some((_, kind, description)) => {
                ObjectBuilder::new().schema_type(SchemaType::Type(kind.clone())).description(Some(*description))
            }
            None => ObjectBuilder::new()
                .schema_type(SchemaType::AnyValue)
                .description(Some(format!("Read at access level {} and above.", level.as_u8()))),
        };
        object = object.property(*name, property);
    }
    object
        .required("_id")
        .required("object")
        .required("access")
        .additional_properties(Some(AdditionalProperties::FreeForm(true)))
}

impl PartialSchema for OrgResponse<'_> {
    fn schema() -> RefOr<Schema> {
        org_object().into()
    }
}

impl ToSchema for OrgResponse<'_> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Org")
    }
}

/// A new org as an operator sees it (every property), with `admin`, the account
/// made its Administrator, or `invitation`, the invitation mailed instead (when
/// the email belongs to an unverified account).
#[derive(Debug, Serialize)]
pub struct CreatedOrgResponse<'a> {
    /// The org's properties.
    #[serde(flatten)]
    pub org: Map<String, Value>,
    /// The account made Administrator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin: Option<AccountResponse<'a>>,
    /// The invitation mailed instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation: Option<ConnectionResponse<'a>>,
}

impl PartialSchema for CreatedOrgResponse<'_> {
    fn schema() -> RefOr<Schema> {
        org_object()
            .property("admin", AccountResponse::as_ref_schema())
            .property("invitation", ConnectionResponse::as_ref_schema())
            .into()
    }
}

impl ToSchema for CreatedOrgResponse<'_> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("CreatedOrg")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((AccountResponse::name().into_owned(), AccountResponse::schema()));
        AccountResponse::schemas(schemas);
        schemas.push((ConnectionResponse::name().into_owned(), ConnectionResponse::schema()));
        ConnectionResponse::schemas(schemas);
    }
}

/// A `$ref` to a named schema.
trait Named: ToSchema {
    fn as_ref_schema() -> RefOr<Schema> {
        RefOr::Ref(schema::Ref::from_schema_name(Self::name()))
    }
}

impl<T: ToSchema> Named for T {}

/// One property read or written by path: an array as a list, anything else as a
/// result.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(as = PropertyValue)]
pub enum PropertyResponse {
    /// An array value.
    List(ListResponse<Value>),
    /// Any other value.
    Result(ResultResponse<Value>),
}

impl From<Value> for PropertyResponse {
    fn from(value: Value) -> Self {
        match value {
            Value::Array(items) => Self::List(ListResponse::all(items)),
            other => Self::Result(ResultResponse::of(other)),
        }
    }
}

/// A built-in org property and the level needed to read it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BuiltinProperty)]
pub struct BuiltinPropertyResponse {
    /// The property's name.
    pub name: &'static str,
    /// The access level needed to read it.
    pub read_access: u8,
}

/// One ACL entry of a custom property: holders of role `target` get level `allow`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AclEntry)]
pub struct AclEntryResponse {
    /// The level granted (1–8).
    pub allow: u8,
    /// The role id.
    #[schema(value_type = String)]
    pub target: Id,
    /// Always `role`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// The value type of a custom property.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = PropertyType)]
pub enum PropertyTypeResponse {
    /// UTF-8 text.
    String,
    /// A JSON number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// An RFC 3339 date-time string.
    Date,
    /// A JSON object.
    Document,
}

impl From<PropertyType> for PropertyTypeResponse {
    fn from(t: PropertyType) -> Self {
        match t {
            PropertyType::String => Self::String,
            PropertyType::Number => Self::Number,
            PropertyType::Boolean => Self::Boolean,
            PropertyType::Date => Self::Date,
            PropertyType::Document => Self::Document,
        }
    }
}

/// A declared custom `c_…` property.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PropertyDeclaration)]
pub struct PropertyDeclarationResponse<'a> {
    /// Grants beyond the caller's level.
    pub acl: Vec<AclEntryResponse>,
    /// Holds an array of `type`.
    pub array: bool,
    /// The most items an array may hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_items: Option<u32>,
    /// `c_` then letters, digits or `_`.
    pub name: &'a str,
    /// `property`, in the answer of a declaration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<PropertyTag>,
    /// The level needed to read it.
    pub read_access: u8,
    /// The value type.
    #[serde(rename = "type")]
    pub kind: PropertyTypeResponse,
    /// The level needed to write it.
    pub write_access: u8,
}

impl<'a> From<&'a CustomProperty> for PropertyDeclarationResponse<'a> {
    fn from(p: &'a CustomProperty) -> Self {
        Self {
            acl: p.acl.iter().map(AclEntryResponse::from).collect(),
            array: p.array,
            max_items: p.max_items,
            name: &p.name,
            object: None,
            read_access: p.read_access,
            kind: p.kind.into(),
            write_access: p.write_access,
        }
    }
}

impl PropertyDeclarationResponse<'_> {
    /// The declaration as the answer of `POST /schemas/org/properties` shows it.
    pub fn declared(mut self) -> Self {
        self.object = Some(PropertyTag::Tag);
        self
    }
}

impl From<&AclEntry> for AclEntryResponse {
    fn from(a: &AclEntry) -> Self {
        let kind = match a.kind {
            AclKind::Role => "role",
        };
        Self { allow: a.allow, target: a.target, kind }
    }
}

/// The org's schema: the built-in properties and the declared custom ones.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OrgSchema)]
pub struct OrgSchemaResponse<'a> {
    /// The declared custom properties.
    pub custom_properties: Vec<PropertyDeclarationResponse<'a>>,
    /// Always `org`.
    pub name: &'static str,
    /// Always `schema`.
    pub object: SchemaTag,
    /// The built-in properties.
    pub properties: Vec<BuiltinPropertyResponse>,
    /// Changes when custom properties change.
    #[serde(rename = "schemasETag")]
    pub schemas_etag: &'a str,
}

impl<'a> OrgSchemaResponse<'a> {
    /// The schema of an org with `declared` custom properties under `etag`.
    pub fn new(declared: &'a [CustomProperty], etag: &'a str) -> Self {
        Self {
            custom_properties: declared.iter().map(PropertyDeclarationResponse::from).collect(),
            name: "org",
            object: SchemaTag::Tag,
            properties: ORG_PROPERTIES
                .iter()
                .map(|(name, level)| BuiltinPropertyResponse { name, read_access: level.as_u8() })
                .collect(),
            schemas_etag: etag,
        }
    }
}
