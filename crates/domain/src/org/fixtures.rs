//! Orgs and callers that the org's unit tests share.

use serde_json::{Value, json};

use super::{NewOrg, Org};
use crate::Clock;
use crate::Id;
use crate::access::Subject;
use crate::patch::Op;
use crate::roles::{ADMINISTRATOR, PROVIDER, Role, builtin_roles};

pub(super) fn example() -> Org {
    Org::create(
        NewOrg { code: "example".into(), name: "Example".into(), locale: Some("en_US".into()), tz: None },
        crate::SystemClock.now(),
    )
    .unwrap()
}

pub(super) fn admin() -> Subject {
    Subject::member(&[ADMINISTRATOR], &builtin_roles())
}

pub(super) fn provider() -> Subject {
    Subject::member(&[PROVIDER], &builtin_roles())
}

pub(super) fn with_c_4providers() -> Org {
    let mut org = example();
    let def: crate::schema::DeclareProperty = serde_json::from_value(json!({"name": "c_4providers", "type": "number",
        "array": true, "acl": [{"type": "role", "target": "provider", "allow": 6}]}))
    .unwrap();
    org.schema.push(def.validate(&org.roles(), &[]).unwrap());
    org
}

pub(super) fn ops(body: Value) -> Vec<Op> {
    crate::patch::parse_ops(body).unwrap()
}

/// An org with every optional property set, custom properties (one readable
/// by Provider only, through its ACL), a custom role and a pending invitation.
pub(super) fn populated() -> Org {
    let mut org = with_c_4providers();
    let def: crate::schema::DeclareProperty =
        serde_json::from_value(json!({"name": "c_note", "type": "string"})).unwrap();
    org.schema.push(def.validate(&org.roles(), &org.schema).unwrap());
    let p = &mut org.props;
    p.tz = Some("Europe/London".into());
    p.website = Some("https://example.com".into());
    p.maintenance_message = Some("Back soon".into());
    p.org_type = Some("HOSPITAL".into());
    p.country = Some("GBR".into());
    p.logo = Some(json!({"path": "logo.png"}));
    p.favicon = Some(json!({"path": "favicon.ico"}));
    p.configuration.email.sender = Some("noreply@example.com".into());
    p.support.email = Some("help@example.com".into());
    p.roles.push(Role { id: Id::from_u96(100), name: "Nurse".into(), code: "nurse".into(), include: vec![PROVIDER] });
    p.custom.insert("c_4providers".into(), json!([1, 2]));
    p.custom.insert("c_note".into(), json!("hello"));
    org.updater = Some(Id::from_u96(42));
    org
}
