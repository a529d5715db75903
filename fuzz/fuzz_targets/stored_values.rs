//! The values a caller may store, on arbitrary JSON: bytes → `serde_json::from_slice`
//! → the value written into an org's custom properties through `Org::patched` as an
//! administrator (`set` of a `document` property, `push` onto a `document` array,
//! and the bytes as a PATCH body of their own). Whatever `patched` accepts must be
//! storable: the org's document, written out as JSON text and read back the way the
//! stores read it (`serde_json::from_str`, then `OrgProps::from_value`), gives the
//! same properties. A value that can be written but not read back breaks every later
//! read of its org (issue 17, point 2: serde_json reads at most 128 levels). The
//! limits of `domain::limits` are checked on their own as well.

#![no_main]

use std::sync::OnceLock;

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use orgbase_domain::access::Subject;
use orgbase_domain::org::{NewOrg, Org, OrgProps};
use orgbase_domain::roles::{ADMINISTRATOR, builtin_roles};
use orgbase_domain::patch::{Op, parse_ops};
use orgbase_domain::schema::DeclareProperty;
use serde_json::{Value, json};

struct Fixture {
    /// A fresh org with a `document` property `c_doc` and a `document` array
    /// `c_docs` declared.
    org: Org,
    admin: Subject,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let now = Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).single().unwrap_or_default();
        let new = NewOrg { code: "values".into(), name: "Values".into(), locale: Some("en_US".into()), tz: None };
        let mut org = Org::create(new, now).unwrap_or_else(|e| panic!("fixture org: {e:?}"));
        for decl in [
            json!({"name": "c_doc", "type": "document"}),
            json!({"name": "c_docs", "type": "document", "array": true}),
        ] {
            let decl: DeclareProperty = serde_json::from_value(decl).unwrap_or_else(|e| panic!("fixture: {e}"));
            let prop = decl.validate(&org.roles(), &org.schema).unwrap_or_else(|e| panic!("fixture: {e:?}"));
            org.schema.push(prop);
        }
        Fixture { org, admin: Subject::member(&[ADMINISTRATOR], &builtin_roles()) }
    })
}

/// Ops built from a body the way the PATCH route builds them.
fn ops(body: Value) -> Option<Vec<Op>> {
    parse_ops(body).ok()
}

/// `Org::patched`; an accepted result must survive being stored as JSON text.
fn check_storable(org: &Org, ops: &[Op], subject: &Subject) {
    let Ok(props) = org.patched(ops, subject) else { return };
    let text = serde_json::to_string(&props.to_value()).unwrap_or_else(|e| panic!("an accepted value does not serialise: {e}"));
    let read: Value = match serde_json::from_str(&text) {
        Ok(read) => read,
        Err(e) => panic!("an accepted value is stored as JSON that cannot be read back ({e}); {} bytes", text.len()),
    };
    match OrgProps::from_value(read) {
        Ok(back) => assert_eq!(back, props, "the stored document reloads differently"),
        Err(faults) => panic!("the stored document does not reload: {faults:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else { return };
    // The limits themselves (domain::limits): whatever they accept reads back from
    // its JSON text, nested inside the org's document as it is stored.
    if orgbase_domain::limits::check_value("c_doc", &value).is_ok() {
        let text = serde_json::to_string(&json!({"props": {"c_doc": value.clone()}})).unwrap_or_default();
        if let Err(e) = serde_json::from_str::<Value>(&text) {
            panic!("a value within the limits cannot be read back ({e})");
        }
    }
    let fx = fixture();
    if let Some(ops) = ops(json!({"op": "set", "path": "c_doc", "value": value.clone()})) {
        check_storable(&fx.org, &ops, &fx.admin);
    }
    if let Some(ops) = ops(json!({"op": "push", "path": "c_docs", "value": value.clone()})) {
        check_storable(&fx.org, &ops, &fx.admin);
    }
    if let Some(ops) = ops(value) {
        check_storable(&fx.org, &ops, &fx.admin);
    }
});
