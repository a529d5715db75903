//! The org as a viewer sees it: every property, filtered by the caller's access
//! ([`Org::view`], serialised straight into the output) or as a JSON map
//! ([`Org::render`]) to narrow to some paths ([`select_paths`]).

use serde::Serialize;
use serde_json::{Map, Value};

use super::Org;
use super::props::{Prop, PropMap};
use crate::access::{Operation, Subject, Target, decide, org_property_read_level};
use crate::app::App;
use crate::level::Level;

impl Org {
    /// Every property of the org, before any access filtering, in key order (as a
    /// JSON object of them sorts). `apps` and `shared` come from other tables.
    fn entries<'a>(&'a self, apps: &'a [App], shared: bool) -> Vec<(&'a str, Prop<'a>)> {
        let mut entries = self.props.entries();
        for (key, prop) in &mut entries {
            if *key == "roles" {
                *prop = Prop::AllRoles(&self.props.roles);
            }
        }
        entries.extend([
            ("_id", Prop::Id(self.id)),
            ("object", Prop::Str("org")),
            ("code", Prop::Str(self.code.as_str())),
            ("state", Prop::Str(self.state.as_str())),
            ("created", Prop::Date(self.created)),
            ("updated", Prop::Date(self.updated)),
            ("updater", Prop::OptId(self.updater)),
            ("shared", Prop::Bool(shared)),
            ("apps", Prop::Apps(apps)),
            ("posts", Prop::List(self.id, "posts")),
            ("connections", Prop::List(self.id, "connections")),
        ]);
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        entries
    }

    /// The org as a viewer sees it, in the seed's shape: built-in properties by the
    /// level table, custom ones by their declared read access and ACL. Serialised
    /// straight into the output; [`Org::render`] gives the same as a JSON object.
    pub fn view<'a>(&'a self, viewer: Viewer<'a>, apps: &'a [App], shared: bool) -> OrgView<'a> {
        let mut entries = self.entries(apps, shared);
        let level = match viewer {
            Viewer::Operator => Level::Script,
            Viewer::Caller(subject) => subject.org_level(),
        };
        if let Viewer::Caller(subject) = viewer {
            entries.retain(|(k, _)| {
                let custom = self.schema.iter().find(|p| p.name == *k);
                if custom.is_none() && org_property_read_level(k).is_none() {
                    return false;
                }
                decide(subject, Target::OrgProperty { name: k, custom }, Operation::Read).allowed
            });
        }
        let at = entries.partition_point(|(k, _)| *k < "access");
        entries.insert(at, ("access", Prop::Level(level)));
        OrgView(PropMap(entries))
    }

    /// [`Org::view`] as a JSON object (to narrow it to some paths).
    pub fn render(&self, viewer: Viewer<'_>, apps: &[App], shared: bool) -> Map<String, Value> {
        let view = self.view(viewer, apps, shared);
        view.0.0.iter().map(|(k, prop)| ((*k).to_owned(), serde_json::to_value(prop).unwrap_or_default())).collect()
    }
}

/// An org as one viewer sees it, serialised without building a JSON tree: built by
/// [`Org::view`].
pub struct OrgView<'a>(PropMap<'a>);

impl Serialize for OrgView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// Who a rendering is for.
#[derive(Debug, Clone, Copy)]
pub enum Viewer<'a> {
    /// A platform operator: every property.
    Operator,
    /// A caller of the org API.
    Caller(&'a Subject),
}

/// Narrows a rendered object to the requested `paths` (`name`, `configuration.email`).
/// `_id`, `object` and `access` are always kept; unknown paths are ignored.
pub fn select_paths(map: &Map<String, Value>, paths: &[String]) -> Map<String, Value> {
    let mut out = Map::new();
    for key in ["_id", "object", "access"] {
        if let Some(v) = map.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    for path in paths {
        let parts: Vec<&str> = path.split(['.', '/']).filter(|p| !p.is_empty()).collect();
        let Some((first, rest)) = parts.split_first() else { continue };
        let Some(mut value) = map.get(*first) else { continue };
        let mut found = true;
        for part in rest {
            match value.get(part) {
                Some(v) => value = v,
                None => {
                    found = false;
                    break;
                }
            }
        }
        if found {
            insert_path(&mut out, &parts, value.clone());
        }
    }
    out
}

fn insert_path(out: &mut Map<String, Value>, parts: &[&str], value: Value) {
    match parts {
        [] => {}
        [last] => {
            out.insert((*last).to_owned(), value);
        }
        [first, rest @ ..] => {
            let entry = out.entry((*first).to_owned()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    use super::*;
    use crate::Id;
    use crate::org::fixtures::{admin, example, populated, provider};
    use crate::time::render_date;

    #[test]
    fn a_public_caller_sees_only_public_properties() {
        let org = example();
        let map = org.render(Viewer::Caller(&Subject::outsider()), &[], false);
        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
        assert_eq!(keys, ["_id", "access", "code", "locale", "maintenance", "name", "object", "schemasETag", "state"]);
        assert_eq!(map["access"], json!(1));
    }

    #[test]
    fn an_administrator_sees_every_property() {
        let org = example();
        let map = org.render(Viewer::Caller(&admin()), &[], false);
        for key in [
            "apps",
            "configuration",
            "security",
            "registration",
            "deployment",
            "updater",
            "connections",
            "roles",
            "posts",
            "created",
            "updated",
            "shared",
            "support",
        ] {
            assert!(map.contains_key(key), "{key}");
        }
        assert_eq!(map["roles"][0]["_id"], json!("000000000000000000000004"));
    }

    /// The rendering as it was built before [`OrgView`]: the stored document as a
    /// JSON object, the server-kept properties added, then filtered.
    fn rendered_as_a_map(org: &Org, viewer: Viewer<'_>, apps: &[App], shared: bool) -> Map<String, Value> {
        let Value::Object(mut map) = org.props.to_value() else { unreachable!() };
        map.insert("_id".into(), json!(org.id));
        map.insert("object".into(), json!("org"));
        map.insert("code".into(), json!(org.code));
        map.insert("state".into(), json!(org.state.as_str()));
        map.insert("created".into(), json!(render_date(org.created)));
        map.insert("updated".into(), json!(render_date(org.updated)));
        map.insert("updater".into(), json!(org.updater));
        map.insert("roles".into(), json!(org.roles()));
        map.insert("shared".into(), json!(shared));
        map.insert("apps".into(), Value::Array(apps.iter().map(App::to_json).collect()));
        let base = format!("/orgs/{}", org.id);
        map.insert("posts".into(), json!({"object": "list", "path": format!("{base}/posts")}));
        map.insert("connections".into(), json!({"object": "list", "path": format!("{base}/connections")}));
        let level = match viewer {
            Viewer::Operator => Level::Script,
            Viewer::Caller(subject) => subject.org_level(),
        };
        map.retain(|k, _| match viewer {
            Viewer::Operator => true,
            Viewer::Caller(subject) => {
                let custom = org.schema.iter().find(|p| p.name == *k);
                (custom.is_some() || org_property_read_level(k).is_some())
                    && decide(subject, Target::OrgProperty { name: k, custom }, Operation::Read).allowed
            }
        });
        map.insert("access".into(), json!(level));
        map
    }

    #[test]
    fn an_org_is_written_straight_as_its_map_renders() {
        let org = populated();
        let created = Utc.timestamp_millis_opt(1_764_164_054_569).unwrap();
        let apps = [App::new(org.id, "web".into(), vec!["https://a.example".into()], created)];
        let nurse = Subject::member(&[Id::from_u96(100)], &org.roles());
        let subjects = [Subject::outsider(), Subject::connected(), admin(), provider(), nurse];
        let mut viewers: Vec<Viewer<'_>> = subjects.iter().map(Viewer::Caller).collect();
        viewers.push(Viewer::Operator);
        for viewer in viewers {
            for shared in [false, true] {
                let expected = rendered_as_a_map(&org, viewer, &apps, shared);
                assert_eq!(org.render(viewer, &apps, shared), expected, "{viewer:?}");
                // Written straight: the same JSON (nested objects keep their
                // fields' declared order).
                let written = serde_json::to_string(&org.view(viewer, &apps, shared)).unwrap();
                let parsed: serde_json::Map<String, Value> = serde_json::from_str(&written).unwrap();
                assert_eq!(parsed, expected, "{viewer:?}");
            }
        }
        let seen = org.render(Viewer::Caller(&provider()), &apps, false);
        assert_eq!(seen["c_4providers"], json!([1, 2]));
        assert!(!org.render(Viewer::Caller(&Subject::outsider()), &apps, false).contains_key("c_note"));
    }

    #[test]
    fn paths_narrow_a_rendered_org() {
        let org = example();
        let map = org.render(Viewer::Caller(&admin()), &[], false);
        let narrowed = select_paths(&map, &["name".into(), "security.sessionTtl".into(), "nope".into()]);
        assert_eq!(narrowed["name"], json!("Example"));
        assert_eq!(narrowed["security"], json!({"sessionTtl": 86400}));
        assert!(!narrowed.contains_key("locale"));
        assert!(narrowed.contains_key("_id"));
    }
}
