//! The schemas of request fields, saying what the server checks (the parsing in
//! `orgbase_domain`): ids, names, emails, passwords and taxonomy codes. A request
//! that one of these schemas calls valid is accepted as far as the field goes; what
//! no schema can say (an id of nothing, a taken name, the org's own settings) is
//! answered 403, 404 or 409 as the operations document.
//!
//! Patterns are ECMA-262 regular expressions (JSON Schema's), written with `\x`
//! and `\u` escapes only, so that every common engine reads them alike.

use orgbase_domain::password::MAX_PASSWORD_LEN;
use orgbase_domain::roles::builtin_roles;
use orgbase_domain::taxonomy::Term;
use serde_json::Value;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{KnownFormat, Object};

/// The characters Rust's `str::trim` removes (Unicode `White_Space`).
const WHITE_SPACE: &str = r"\t\n\x0b\x0c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// The control characters (`char::is_control`, Unicode `Cc`).
const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";
/// Neither white space nor a control character.
const VISIBLE: &str = r"[^\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";

/// `^[0-9a-fA-F]{24}$`: what `Id::parse` reads (either case).
pub const ID_PATTERN: &str = "^[0-9a-fA-F]{24}$";

/// Text of `min`..=`max` characters once trimmed (`min` 0 or 1), with no control
/// character inside (white space around it is trimmed, controls among it too).
fn trimmed_text_pattern(min: usize, max: usize) -> String {
    let inner = format!("[^{CONTROL}]");
    let core = format!("{VISIBLE}(?:{inner}{{0,{}}}{VISIBLE})?", max - 2);
    let core = if min == 0 { format!("(?:{core})?") } else { core };
    format!("^[{WHITE_SPACE}]*{core}[{WHITE_SPACE}]*$")
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// The type `string`, or `null` too when `nullable`.
fn string_or_null(nullable: bool) -> ObjectBuilder {
    if nullable {
        ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null]))
    } else {
        string()
    }
}

/// An object id (`Id::parse`).
pub fn id() -> Object {
    string().pattern(Some(ID_PATTERN)).description(Some("An _id: 24 hexadecimal characters.")).build()
}

/// An object id, or `null`.
pub fn nullable_id() -> Object {
    string_or_null(true).pattern(Some(ID_PATTERN)).build()
}

/// A name as `domain::text::parse_name` reads it: 1–100 characters once trimmed,
/// no control characters.
pub fn name() -> Object {
    string().pattern(Some(trimmed_text_pattern(1, 100))).build()
}

/// Whom an app's signed requests may act as, in a write (`ActAs::from_api`):
/// `"all"`, `"none"`, or an array of at most 1,000 account ids; `null` for "no
/// change".
pub fn act_as() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    let named = string().enum_values(Some(["all", "none"])).build();
    let ids = ArrayBuilder::new().items(id()).max_items(Some(orgbase_domain::app::MAX_ACT_AS)).build();
    let null = ObjectBuilder::new().schema_type(Type::Null).build();
    let one_of = utoipa::openapi::schema::OneOfBuilder::new().item(named).item(ids).item(null).build();
    utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::OneOf(one_of))
}

/// A name, or `null` for "no change".
pub fn nullable_name() -> Object {
    string_or_null(true).pattern(Some(trimmed_text_pattern(1, 100))).build()
}

/// The family name of a person (`PersonName::validate`): at most 100 characters
/// once trimmed, no control characters.
pub fn last_name() -> Object {
    string().pattern(Some(trimmed_text_pattern(0, 100))).build()
}

/// An email address (`domain::email::Email::parse`, at most 254 characters).
pub fn email() -> Object {
    email_or_null(false)
}

/// An email address, or `null` too when `nullable`.
pub fn email_or_null(nullable: bool) -> Object {
    string_or_null(nullable).format(Some(SchemaFormat::KnownFormat(KnownFormat::Email))).max_length(Some(254)).build()
}

/// A new password: at least the org's `security.passwordMinLength` characters
/// (8 to 128; 12 unless the org changed it), at most 1024 bytes of UTF-8.
pub fn new_password() -> Object {
    string()
        .min_length(Some(8))
        .max_length(Some(MAX_PASSWORD_LEN))
        .description(Some(
            "At least the org's `security.passwordMinLength` characters (8 to 128; 12 unless changed), \
             at most 1024 bytes of UTF-8.",
        ))
        .build()
}

/// Text without U+0000, which no stored text holds.
pub fn text_without_nul() -> Object {
    string().pattern(Some(r"^[^\x00]*$")).build()
}

/// One of the codes of a taxonomy list.
fn codes(terms: impl IntoIterator<Item = Term>, nullable: bool) -> Object {
    let mut values: Vec<Value> = terms.into_iter().map(|t| Value::from(t.code)).collect();
    if nullable {
        values.push(Value::Null);
    }
    string_or_null(nullable).enum_values(Some(values)).build()
}

/// A `/taxonomy/session/types` code.
pub fn session_type() -> Object {
    codes(orgbase_domain::taxonomy::SESSION_TYPES.iter().copied(), false)
}

/// A `/taxonomy/user/specialities` code, or `null`.
pub fn nullable_speciality() -> Object {
    codes(orgbase_domain::taxonomy::SPECIALITIES.iter().copied(), true)
}

/// A `/taxonomy/session/durations` code, or `null`.
pub fn nullable_duration() -> Object {
    codes(orgbase_domain::taxonomy::SESSION_DURATIONS.iter().copied(), true)
}

/// A `/taxonomy/org/types` code, or `null` too when `nullable`.
pub fn org_type(nullable: bool) -> Object {
    codes(orgbase_domain::taxonomy::ORG_TYPES.iter().copied(), nullable)
}

/// A `/taxonomy/countries` code (ISO 3166-1 alpha-3), or `null` too when `nullable`.
pub fn country(nullable: bool) -> Object {
    codes(orgbase_domain::taxonomy::countries(), nullable)
}

/// One of `values` (strings), or `null` too when `nullable`.
pub fn one_of(values: &[&str], nullable: bool) -> Object {
    let mut all: Vec<Value> = values.iter().map(|v| Value::from(*v)).collect();
    if nullable {
        all.push(Value::Null);
    }
    string_or_null(nullable).enum_values(Some(all)).build()
}

/// The built-in roles by id and code: every org has them. Their names are their
/// codes capitalised, and codes and names are compared without case, so a name is
/// accepted too, as is a custom role of the org (`roles`).
fn role_names() -> Vec<String> {
    let mut out = Vec::new();
    for role in builtin_roles() {
        out.push(role.id.to_string());
        out.push(role.code.clone());
    }
    out
}

const ROLE_DESCRIPTION: &str = "A role of the org by _id, code or name (in any case): the built-in ones are listed \
     by _id and code; the org's custom roles (`roles`) are accepted too.";

/// A role of the org, by id, code or name.
pub fn role() -> Object {
    string().enum_values(Some(role_names())).description(Some(ROLE_DESCRIPTION)).build()
}

/// A list of roles of the org, by id, code or name.
pub fn roles(nullable: bool) -> utoipa::openapi::schema::Array {
    let builder = ArrayBuilder::new().items(role()).description(Some(ROLE_DESCRIPTION));
    let builder =
        if nullable { builder.schema_type(SchemaType::from_iter([Type::Array, Type::Null])) } else { builder };
    builder.build()
}

/// The id of a built-in role.
pub fn builtin_role_id() -> Object {
    let ids: Vec<String> = builtin_roles().iter().map(|r| r.id.to_string()).collect();
    string().enum_values(Some(ids)).description(Some("A built-in role's _id.")).build()
}

/// An RFC 3339 date-time (`domain::live_session::parse_date`).
pub fn date_time(nullable: bool) -> Object {
    string_or_null(nullable).format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))).build()
}

/// The body of a post (`domain::post::Post::new`): 1 to 10,000 characters once
/// trimmed, without U+0000.
pub fn post_body() -> Object {
    let solid = format!("[^\\x00{WHITE_SPACE}]");
    let pattern = format!(
        "^[{WHITE_SPACE}]*{solid}(?:[^\\x00]{{0,{}}}{solid})?[{WHITE_SPACE}]*$",
        orgbase_domain::post::MAX_BODY - 2
    );
    string().pattern(Some(pattern)).build()
}
