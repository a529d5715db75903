//! The schemas of org writes: the value of each property that a caller may write
//! (`domain::org::OrgProps::validate`), the ops of an org PATCH on them
//! (`domain::patch::parse_ops`), and one `PUT /orgs/{id}/{property}` per property.
//!
//! The document describes the org's own top-level properties, and the two lists of
//! addresses and roles inside them that ops push to and pull from. The server
//! takes more: a nested path (`configuration.email.sender`), and the org's custom
//! `c_…` properties once declared (`/schemas/org/properties`), whose values only
//! the declaration describes.

use orgbase_domain::limits::{MAX_LIST_ITEMS, MAX_ROLES};
use orgbase_domain::patch::MAX_OPS;
use orgbase_domain::roles::builtin_roles;
use utoipa::Modify;
use utoipa::openapi::path::{HttpMethod, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, SchemaType, Type};
use utoipa::openapi::{Content, Object, Ref, RefOr, Required, Schema};

use super::fields::{self, ID_PATTERN};

/// The most seconds an org's lifetimes may be (90 days).
const MAX_TTL: u64 = 90 * 24 * 3600;

fn boolean() -> Object {
    ObjectBuilder::new().schema_type(Type::Boolean).build()
}

fn integer(min: u64, max: u64) -> Object {
    ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(min)).maximum(Some(max)).build()
}

fn string_or_null(nullable: bool) -> ObjectBuilder {
    if nullable {
        ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null]))
    } else {
        ObjectBuilder::new().schema_type(Type::String)
    }
}

/// An object of optional properties that refuses others (`deny_unknown_fields`).
fn object(properties: Vec<(&str, RefOr<Schema>)>) -> Object {
    let mut builder = ObjectBuilder::new().schema_type(Type::Object);
    for (name, schema) in properties {
        builder = builder.property(name, schema);
    }
    builder.additional_properties(Some(AdditionalProperties::FreeForm(false))).build()
}

fn array(items: impl Into<RefOr<Schema>>, max: usize) -> RefOr<Schema> {
    let items: RefOr<Schema> = items.into();
    ArrayBuilder::new().items(items).max_items(Some(max)).build().into()
}

fn schema(object: Object) -> RefOr<Schema> {
    RefOr::T(Schema::Object(object))
}

/// Letters in either case, as `[Aa][Dd]…`, for codes compared without case.
fn either_case(word: &str) -> String {
    word.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A BCP 47 locale (`parse_locale`): a language, then an optional script and
/// region, joined by `_` or `-` (`en_US`, `fr-CA`, `zh_Hant_TW`).
fn locale(nullable: bool) -> Object {
    string_or_null(nullable)
        .pattern(Some("^[A-Za-z]{2,3}(?:[_-][A-Za-z]{4})?(?:[_-](?:[A-Za-z]{2}|[0-9]{3}))?$"))
        .build()
}

/// An IANA time zone name (`parse_tz`): the component `TimeZone`.
fn time_zones() -> Object {
    let names: Vec<&str> = orgbase_domain::text::time_zones().collect();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(names))
        .description(Some("An IANA time zone name."))
        .build()
}

/// A reference to the component `name`, or `null` too when `nullable`.
fn named(name: &str, nullable: bool) -> RefOr<Schema> {
    let reference = RefOr::Ref(Ref::from_schema_name(name));
    if nullable {
        let null = ObjectBuilder::new().schema_type(Type::Null).build();
        RefOr::T(Schema::OneOf(OneOfBuilder::new().item(reference).item(null).build()))
    } else {
        reference
    }
}

fn nullable_email() -> Object {
    fields::email_or_null(true)
}

/// A custom role (`check_custom_roles`): a new id and code (not a built-in role's),
/// a name of 1–100 characters without control characters, and the built-in roles
/// it includes. Ids and codes are unique among the org's roles.
fn custom_role() -> Object {
    let builtin = builtin_roles();
    let ids = builtin.iter().map(|r| r.id.to_string()).collect::<Vec<_>>().join("|");
    let codes = builtin.iter().map(|r| either_case(&r.code)).collect::<Vec<_>>().join("|");
    let id = format!("^(?!(?:{ids})$){}", ID_PATTERN.trim_start_matches('^'));
    let code = format!("^(?!(?:{codes})$)[A-Za-z0-9_-]{{1,64}}$");
    let name = r"^(?=[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])[^\x00-\x1f\x7f-\x9f]{1,100}$";
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("_id", ObjectBuilder::new().schema_type(Type::String).pattern(Some(id)).build())
        .required("_id")
        .property("name", ObjectBuilder::new().schema_type(Type::String).pattern(Some(name)).build())
        .required("name")
        .property("code", ObjectBuilder::new().schema_type(Type::String).pattern(Some(code)).build())
        .required("code")
        .property("include", array(fields::builtin_role_id(), MAX_ROLES))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .description(Some("A custom role. Ids and codes (in any case) are unique among the org's roles."))
        .build()
}

/// A property of the org that a caller may write, and its value.
pub struct Property {
    /// The name.
    pub name: &'static str,
    /// The schema of its value.
    pub value: RefOr<Schema>,
    /// It may be unset (back to its default or absent).
    pub removable: bool,
}

/// Every top-level property of the org that an Administrator may write, with its
/// value as `OrgProps::validate` checks it; `null` (unset) too for those that may
/// be unset when `nulls` (a PATCH `set` with a path takes no `null`).
///
/// Not described: `website` and `support.url`, http(s) URLs as the WHATWG URL
/// parser reads them, which trims, drops tabs and takes more than a pattern can
/// say; a document that called some of them invalid would lie as much as one
/// that called every string valid.
pub fn properties(nulls: bool) -> Vec<Property> {
    let prop = |name, value: Object, removable| Property { name, value: schema(value), removable };
    let email_config =
        object(vec![("locationBypass", array(fields::email(), MAX_LIST_ITEMS)), ("sender", schema(nullable_email()))]);
    let security = object(vec![
        ("invitationTtl", schema(integer(60, MAX_TTL))),
        ("sessionTtl", schema(integer(60, MAX_TTL))),
        ("sessionMaxAge", schema(integer(60, MAX_TTL))),
        ("passwordMinLength", schema(integer(8, 128))),
        ("mfaRequired", schema(ObjectBuilder::new().schema_type(Type::Boolean).enum_values(Some([false])).build())),
        ("allowExternalParticipants", schema(boolean())),
    ]);
    let no_nul = r"^[^\x00]*$";
    let phone = string_or_null(true).min_length(Some(1)).max_length(Some(40)).pattern(Some(no_nul)).build();
    let message = string_or_null(nulls).max_length(Some(1000)).pattern(Some(no_nul)).build();
    vec![
        prop("name", fields::name(), false),
        prop("locale", locale(false), false),
        Property { name: "tz", value: named("TimeZone", nulls), removable: true },
        prop("maintenance", boolean(), true),
        prop("maintenanceMessage", message, true),
        prop("type", fields::org_type(nulls), true),
        Property { name: "country", value: named("Country", nulls), removable: true },
        prop("configuration", object(vec![("email", schema(email_config))]), true),
        prop(
            "registration",
            object(vec![
                ("allow", schema(boolean())),
                ("invitationRequired", schema(boolean())),
                ("activationRequired", schema(boolean())),
                ("defaultRoles", array(fields::builtin_role_id(), MAX_LIST_ITEMS)),
            ]),
            true,
        ),
        prop("security", security, true),
        prop("support", object(vec![("email", schema(nullable_email())), ("phone", schema(phone))]), true),
        prop(
            "deployment",
            object(vec![
                ("enabled", schema(boolean())),
                ("supportOnly", schema(boolean())),
                ("allowEdits", schema(boolean())),
            ]),
            true,
        ),
        Property { name: "roles", value: array(custom_role(), MAX_ROLES), removable: true },
    ]
}

/// `value` of a `set` without a path: some of the properties at once.
fn some_properties(properties: &[Property]) -> Object {
    let mut builder = ObjectBuilder::new().schema_type(Type::Object).min_properties(Some(1));
    for p in properties {
        builder = builder.property(p.name, p.value.clone());
    }
    builder.additional_properties(Some(AdditionalProperties::FreeForm(false))).build()
}

/// A path to `name`: `name` or `/name`.
fn paths_to(names: &[&str]) -> Object {
    let mut values = Vec::new();
    for name in names {
        values.push(name.to_string());
        values.push(format!("/{}", name.replace('.', "/")));
    }
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values)).build()
}

fn op(name: &[&str], path: Option<Object>, value: Option<RefOr<Schema>>, description: &str) -> RefOr<Schema> {
    let mut builder = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("op", ObjectBuilder::new().schema_type(Type::String).enum_values(Some(name.to_vec())).build())
        .required("op");
    if let Some(path) = path {
        builder = builder.property("path", path).required("path");
    }
    if let Some(value) = value {
        builder = builder.property("value", value).required("value");
    }
    schema(
        builder
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .description(Some(description))
            .build(),
    )
}

/// `configuration` as `Configuration`, `maintenanceMessage` as `MaintenanceMessage`.
fn pascal(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// The ops of an org PATCH, each a component of its own (`SetName`, `UnsetProperties`,
/// `PushLocationBypass`…), so that generated clients name them.
pub fn op_components() -> Vec<(String, RefOr<Schema>)> {
    let properties = properties(false);
    let mut ops = Vec::new();
    for p in &properties {
        let set = op(&["set"], Some(paths_to(&[p.name])), Some(p.value.clone()), &format!("Sets `{}`.", p.name));
        ops.push((format!("Set{}", pascal(p.name)), set));
    }
    let values = some_properties(&self::properties(true));
    let set = op(&["set"], None, Some(schema(values)), "Sets each property of `value` (`null` unsets it).");
    ops.push(("SetProperties".to_owned(), set));
    let removable: Vec<&str> = properties.iter().filter(|p| p.removable).map(|p| p.name).collect();
    let names = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(removable.clone())).build();
    let unset = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(Schema::Object(names)))
        .min_properties(Some(1))
        .description(Some("`{property: 1}` for each property to unset."))
        .build();
    ops.push((
        "UnsetProperties".to_owned(),
        op(&["unset"], None, Some(schema(unset)), "Unsets each property named in `value`."),
    ));
    ops.push((
        "RemoveProperty".to_owned(),
        op(&["remove", "unset"], Some(paths_to(&removable)), None, "Unsets the property at `path`."),
    ));
    let lists: [(&str, &str, Object, &str); 2] = [
        ("configuration.email.locationBypass", "LocationBypass", fields::email(), "an address"),
        ("registration.defaultRoles", "DefaultRole", fields::builtin_role_id(), "a role"),
    ];
    for (list, name, item, what) in lists {
        let many = ArrayBuilder::new().items(item.clone()).build();
        let pushed = OneOfBuilder::new().item(item).item(many);
        ops.push((
            format!("Push{name}"),
            op(
                &["push"],
                Some(paths_to(&[list])),
                Some(RefOr::T(Schema::OneOf(pushed.build()))),
                &format!("Adds {what}, or each of an array, to `{list}`."),
            ),
        ));
        // `remove` with a `null` value (or none) unsets the list, as for any property.
        let null = ObjectBuilder::new().schema_type(Type::Null).build();
        ops.push((
            format!("Remove{name}List"),
            op(&["remove"], Some(paths_to(&[list])), Some(schema(null)), &format!("Unsets `{list}`.")),
        ));
        // Any value but null (a `pull` needs one): none of the list's items may equal it.
        let kinds = [Type::String, Type::Number, Type::Boolean, Type::Object];
        let mut any = OneOfBuilder::new();
        for kind in kinds {
            any = any.item(ObjectBuilder::new().schema_type(kind).build());
        }
        let any = any.item(ArrayBuilder::new().items(ObjectBuilder::new().build()).build()).build();
        ops.push((
            format!("Pull{name}"),
            op(
                &["pull", "remove"],
                Some(paths_to(&[list])),
                Some(RefOr::T(Schema::OneOf(any))),
                &format!("Removes the items of `{list}` equal to `value` (none may be)."),
            ),
        ));
    }
    ops
}

/// One op of an org PATCH.
fn patch_op() -> RefOr<Schema> {
    let mut one = OneOfBuilder::new();
    for (name, _) in op_components() {
        one = one.item(RefOr::Ref(Ref::from_schema_name(name)));
    }
    let one = one.description(Some(
        "An op: `set` a property (`path`, or each property of `value`), `unset` or `remove` one, \
         or `push`/`pull` an item of a list. Paths may also name nested properties \
         (`configuration.email.sender`) and declared custom `c_…` properties.",
    ));
    RefOr::T(Schema::OneOf(one.build()))
}

/// The body of an org PATCH: one op, or an array of 1 to 100 ops applied all or none.
pub struct PatchOrgRequest;

impl utoipa::PartialSchema for PatchOrgRequest {
    fn schema() -> RefOr<Schema> {
        let op = patch_op();
        let many = ArrayBuilder::new().items(op.clone()).min_items(Some(1)).max_items(Some(MAX_OPS)).build();
        let both = OneOfBuilder::new()
            .item(op)
            .item(many)
            .description(Some("One op, or an array of 1 to 100 ops applied all or none."));
        RefOr::T(Schema::OneOf(both.build()))
    }
}

impl utoipa::ToSchema for PatchOrgRequest {}

/// Adds the components `TimeZone` and `Country` that the properties refer to, the
/// ops of an org PATCH ([`op_components`]), and
/// `GET` and `PUT /orgs/{id}/{property}` for each property to the document,
/// the `PUT` with the schema of the property's value: OpenAPI can't tie the body of
/// `PUT /orgs/{id}/{path}` to its path, which stays for nested paths and custom
/// properties.
pub struct PropertyPuts;

impl Modify for PropertyPuts {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.schemas.insert("TimeZone".to_owned(), schema(time_zones()));
            components.schemas.insert("Country".to_owned(), schema(fields::country(false)));
            components.schemas.extend(op_components());
            components.schemas.insert("DeclareValueProperty".to_owned(), schema(declaration(false)));
            components.schemas.insert("DeclareArrayProperty".to_owned(), schema(declaration(true)));
            components.schemas.insert("DeclareAclEntry".to_owned(), schema(acl_entry()));
        }
        let generic = "/{org}/v2/orgs/{id}/{path}";
        let Some(item) = openapi.paths.paths.get(generic) else { return };
        let (Some(get), Some(put)) = (item.get.clone(), item.put.clone()) else { return };
        for p in properties(true) {
            let without_path = |operation: &mut utoipa::openapi::path::Operation| {
                if let Some(parameters) = operation.parameters.as_mut() {
                    parameters.retain(|p| !(p.name == "path" && p.parameter_in == ParameterIn::Path));
                }
            };
            let mut read = get.clone();
            read.operation_id = Some(format!("get_org_{}", snake(p.name)));
            read.summary = Some(format!("Reads `{}`.", p.name));
            without_path(&mut read);
            let mut write = put.clone();
            write.operation_id = Some(format!("put_org_{}", snake(p.name)));
            write.summary = Some(format!("Replaces `{}` and returns the new value.", p.name));
            write.description = None;
            without_path(&mut write);
            let body = RequestBodyBuilder::new()
                .content("application/json", Content::new(Some(p.value.clone())))
                .required(Some(Required::True))
                .build();
            write.request_body = Some(body);
            let mut item = PathItem::new(HttpMethod::Get, read);
            item.put = Some(write);
            openapi.paths.paths.insert(format!("/{{org}}/v2/orgs/{{id}}/{}", p.name), item);
        }
    }
}

/// `maintenanceMessage` as `maintenance_message`.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The body of `POST /schemas/org/properties` (`domain::schema::DeclareProperty`):
/// `maxItems` only for an array.
pub struct DeclarePropertyRequest;

fn level() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
        .minimum(Some(1))
        .maximum(Some(8))
        .description(Some("An access level, 1 to 8."))
        .build()
}

fn declaration(array: bool) -> Object {
    let name = format!("^c_[A-Za-z0-9_]{{1,{}}}$", 64 - 2);
    let kinds = ["string", "number", "boolean", "date", "document"];
    let acl_entry = RefOr::Ref(Ref::from_schema_name("DeclareAclEntry"));
    let mut builder = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("name", ObjectBuilder::new().schema_type(Type::String).pattern(Some(name)).build())
        .required("name")
        .property("type", ObjectBuilder::new().schema_type(Type::String).enum_values(Some(kinds)).build())
        .required("type");
    builder = if array {
        let max_items = ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
            .minimum(Some(1))
            .maximum(Some(u64::from(orgbase_domain::schema::MAX_ITEMS_LIMIT)))
            .build();
        builder
            .property("array", ObjectBuilder::new().schema_type(Type::Boolean).enum_values(Some([true])).build())
            .required("array")
            .property("maxItems", max_items)
    } else {
        builder
            .property("array", ObjectBuilder::new().schema_type(Type::Boolean).enum_values(Some([false])).build())
            .property("maxItems", ObjectBuilder::new().schema_type(Type::Null).build())
    };
    builder
        .property("readAccess", level())
        .property("writeAccess", level())
        .property("acl", ArrayBuilder::new().items(acl_entry).build())
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .description(Some(if array {
            "A custom property holding an array."
        } else {
            "A custom property holding one value."
        }))
        .build()
}

/// An ACL entry of a declaration: holders of a role get a level on the property.
fn acl_entry() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("type", ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["role"])).build())
        .required("type")
        .property("target", fields::role())
        .required("target")
        .property("allow", integer(1, 8))
        .required("allow")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .build()
}

impl utoipa::PartialSchema for DeclarePropertyRequest {
    fn schema() -> RefOr<Schema> {
        let both = OneOfBuilder::new()
            .item(RefOr::Ref(Ref::from_schema_name("DeclareValueProperty")))
            .item(RefOr::Ref(Ref::from_schema_name("DeclareArrayProperty")))
            .description(Some(
                "A custom property: `c_` then letters, digits or `_` (at most 64 in all), its type, whether it holds \
             an array (and how many items at most), the levels to read (default 4) and write it (default 6), \
             and roles granted more. An org declares at most 200.",
            ));
        RefOr::T(Schema::OneOf(both.build()))
    }
}

impl utoipa::ToSchema for DeclarePropertyRequest {}
