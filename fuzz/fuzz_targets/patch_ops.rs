//! The PATCH engine on arbitrary bodies: bytes → JSON → `parse_ops` → every op
//! applied to an empty document and to a fresh org's stored document, then
//! `Org::patched` as an administrator (and, on an org with custom properties, as a
//! provider). Nothing may panic, and a patch that `patched` accepts must give
//! properties that survive being stored and reloaded.

#![no_main]

use std::sync::OnceLock;

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use orgbase_domain::access::Subject;
use orgbase_domain::org::{NewOrg, Org, OrgProps};
use orgbase_domain::roles::{ADMINISTRATOR, PROVIDER, builtin_roles};
use orgbase_domain::patch::{Op, apply, parse_ops};
use orgbase_domain::schema::DeclareProperty;
use serde_json::{Map, Value, json};

struct Fixture {
    /// A fresh org, as `Org::create` makes it.
    fresh: Org,
    /// `fresh`'s stored document.
    fresh_doc: Map<String, Value>,
    /// An org with declared custom properties (the seed's `c_4providers` and more).
    custom: Org,
    admin: Subject,
    provider: Subject,
}

fn new_org(code: &str) -> Org {
    let now = Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).single().unwrap_or_default();
    let new = NewOrg { code: code.into(), name: "Example".into(), locale: Some("en_US".into()), tz: None };
    Org::create(new, now).unwrap_or_else(|e| panic!("fixture org: {e:?}"))
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let fresh = new_org("example");
        let Value::Object(fresh_doc) = fresh.props.to_value() else { panic!("an org document is an object") };
        let mut custom = new_org("custom");
        for decl in [
            json!({"name": "c_4providers", "type": "number", "array": true, "maxItems": 20,
                   "acl": [{"type": "role", "target": "provider", "allow": 6}]}),
            json!({"name": "c_doc", "type": "document"}),
            json!({"name": "c_when", "type": "date"}),
            json!({"name": "c_tags", "type": "string", "array": true}),
        ] {
            let decl: DeclareProperty = serde_json::from_value(decl).unwrap_or_else(|e| panic!("fixture: {e}"));
            let prop = decl.validate(&custom.roles(), &custom.schema).unwrap_or_else(|e| panic!("fixture: {e:?}"));
            custom.schema.push(prop);
        }
        Fixture {
            fresh,
            fresh_doc,
            custom,
            admin: Subject::member(&[ADMINISTRATOR], &builtin_roles()),
            provider: Subject::member(&[PROVIDER], &builtin_roles()),
        }
    })
}

/// `Org::patched`; an accepted result must be valid and round-trip through storage.
fn check_patched(org: &Org, ops: &[Op], subject: &Subject) {
    let Ok(props) = org.patched(ops, subject) else { return };
    assert!(props.validate(&org.roles(), &org.schema).is_empty(), "patched returned invalid props: {props:?}");
    let stored = props.to_value();
    match OrgProps::from_value(stored.clone()) {
        Ok(back) => assert_eq!(back, props, "stored document {stored} reloads differently"),
        Err(faults) => panic!("stored document {stored} does not reload: {faults:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else { return };
    let Ok(ops) = parse_ops(body) else { return };
    let fx = fixture();

    let mut empty = Map::new();
    let mut doc = fx.fresh_doc.clone();
    for op in &ops {
        // Op::roots must not panic either; `patched` relies on it.
        let _ = op.roots();
        let _ = apply(&mut empty, op);
        let _ = apply(&mut doc, op);
    }
    // What the ops left, however odd, is refused or accepted without panicking.
    if let Ok(props) = OrgProps::from_value(Value::Object(doc)) {
        let _ = props.validate(&fx.fresh.roles(), &fx.fresh.schema);
        let _ = props.to_value();
    }

    check_patched(&fx.fresh, &ops, &fx.admin);
    check_patched(&fx.custom, &ops, &fx.admin);
    check_patched(&fx.custom, &ops, &fx.provider);
});
