//! The PATCH engine: the seed platform's ops (`set`, `push`, `remove`, `pull`,
//! `unset`) on a JSON document, and the path parser (`/a/b` or `a.b`).
//!
//! Ops only move JSON; what the result may contain is judged afterwards by the
//! org's schemas, and who may touch which property by `access::decide`.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::FieldError;

/// The most segments a path may have.
pub const MAX_DEPTH: usize = 16;
/// The longest segment.
pub const MAX_SEGMENT: usize = 64;
/// The most ops in one request.
pub const MAX_OPS: usize = 100;

/// A parsed property path: at least one segment of ASCII letters, digits or `_`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path(Vec<String>);

impl Path {
    /// Parses `/configuration/email/locationBypass` or `configuration.email.locationBypass`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let trimmed = s.strip_prefix('/').unwrap_or(s);
        if trimmed.is_empty() {
            return Err("A path names a property.".into());
        }
        let mut segments = Vec::new();
        for seg in trimmed.split(['/', '.']) {
            if seg.is_empty() {
                return Err(format!("'{s}' has an empty segment."));
            }
            if seg.len() > MAX_SEGMENT || !seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!("'{s}' is not a property path (letters, digits, _ and / or . between them)."));
            }
            segments.push(seg.to_owned());
        }
        if segments.len() > MAX_DEPTH {
            return Err(format!("A path has at most {MAX_DEPTH} segments."));
        }
        Ok(Self(segments))
    }

    /// The top-level property.
    pub fn root(&self) -> &str {
        self.0.first().map_or("", String::as_str)
    }

    /// The segments.
    pub fn segments(&self) -> &[String] {
        &self.0
    }

    /// The dotted form, as faults show it.
    pub fn dotted(&self) -> String {
        self.0.join(".")
    }
}

/// The kind of an op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// Sets a value at a path, or (no path) each property of an object.
    Set,
    /// Appends a value, or each value of an array, creating the array.
    Push,
    /// Removes array elements equal to the value, or (no value) the property.
    Remove,
    /// Like `remove`, but a value is required.
    Pull,
    /// Removes each property named in `{path: 1}`.
    Unset,
}

/// One validated op.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `set` with a path.
    SetAt(Path, Value),
    /// `set` without a path: each (top-level) property of the object.
    SetMany(Vec<(Path, Value)>),
    /// `push`.
    Push(Path, Value),
    /// `remove`/`pull` with a value.
    Pull(Path, Value),
    /// `remove` without a value, and `unset`.
    Unset(Vec<Path>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOp {
    op: OpKind,
    path: Option<String>,
    value: Option<Value>,
}

fn at(i: usize, field: &str) -> String {
    format!("ops.{i}.{field}")
}

impl Op {
    /// The top-level properties this op touches.
    pub fn roots(&self) -> Vec<&str> {
        match self {
            Self::SetAt(p, _) | Self::Push(p, _) | Self::Pull(p, _) => vec![p.root()],
            Self::SetMany(pairs) => pairs.iter().map(|(p, _)| p.root()).collect(),
            Self::Unset(paths) => paths.iter().map(Path::root).collect(),
        }
    }
}

/// Parses a PATCH body: one op or an array of ops. An empty list, an unknown op, a
/// missing value or a bad path is a field error naming the op.
pub fn parse_ops(body: Value) -> Result<Vec<Op>, Vec<FieldError>> {
    let raw: Vec<Value> = match body {
        Value::Array(items) => items,
        one @ Value::Object(_) => vec![one],
        _ => return Err(vec![FieldError::new("", "A PATCH body is an op or an array of ops.")]),
    };
    if raw.is_empty() {
        return Err(vec![FieldError::new("", "A PATCH needs at least one op.")]);
    }
    if raw.len() > MAX_OPS {
        return Err(vec![FieldError::new("", format!("A PATCH has at most {MAX_OPS} ops."))]);
    }
    let mut ops = Vec::new();
    let mut faults = Vec::new();
    for (i, item) in raw.into_iter().enumerate() {
        match parse_op(i, item) {
            Ok(op) => ops.push(op),
            Err(e) => faults.push(e),
        }
    }
    if faults.is_empty() { Ok(ops) } else { Err(faults) }
}

fn parse_op(i: usize, item: Value) -> Result<Op, FieldError> {
    let raw: RawOp = serde_json::from_value(item).map_err(|e| FieldError::new(format!("ops.{i}"), e.to_string()))?;
    let path = raw.path.as_deref().map(Path::parse).transpose().map_err(|e| FieldError::new(at(i, "path"), e))?;
    let need_value = || FieldError::new(at(i, "value"), "This op needs a value.");
    let need_path = || FieldError::new(at(i, "path"), "This op needs a path.");
    Ok(match (raw.op, path, raw.value) {
        (OpKind::Set, Some(path), Some(value)) => Op::SetAt(path, value),
        (OpKind::Set, None, Some(Value::Object(map))) => {
            if map.is_empty() {
                return Err(FieldError::new(at(i, "value"), "set without a path takes an object of properties."));
            }
            let mut pairs = Vec::new();
            for (k, v) in map {
                let path = Path::parse(&k).map_err(|e| FieldError::new(at(i, "value"), e))?;
                pairs.push((path, v));
            }
            Op::SetMany(pairs)
        }
        (OpKind::Set, None, Some(_)) => {
            return Err(FieldError::new(at(i, "value"), "set without a path takes an object of properties."));
        }
        (OpKind::Push, Some(path), Some(value)) => Op::Push(path, value),
        (OpKind::Pull | OpKind::Remove, Some(path), Some(value)) => Op::Pull(path, value),
        (OpKind::Remove, Some(path), None) => Op::Unset(vec![path]),
        (OpKind::Unset, None, Some(Value::Object(map))) if !map.is_empty() => {
            let mut paths = Vec::new();
            for k in map.keys() {
                paths.push(Path::parse(k).map_err(|e| FieldError::new(at(i, "value"), e))?);
            }
            Op::Unset(paths)
        }
        (OpKind::Unset, Some(path), None) => Op::Unset(vec![path]),
        (OpKind::Unset, _, _) => return Err(FieldError::new(at(i, "value"), "unset takes {\"path\": 1, ...}.")),
        (OpKind::Set | OpKind::Push | OpKind::Pull, _, None) => return Err(need_value()),
        (OpKind::Push | OpKind::Pull | OpKind::Remove, None, _) => return Err(need_path()),
    })
}

/// Walks to the parent of the last segment, creating objects on the way.
fn parent_mut<'a>(doc: &'a mut Map<String, Value>, path: &Path) -> Result<(&'a mut Value, String), FieldError> {
    let fail = |why: &str| FieldError::new(path.dotted(), why.to_owned());
    let (last, init) = path.segments().split_last().ok_or_else(|| fail("empty path"))?;
    let (first, middle) = match init.split_first() {
        Some(split) => split,
        None => return Err(fail("")),
    };
    let mut cur = doc.entry(first.clone()).or_insert_with(|| Value::Object(Map::new()));
    for seg in middle {
        if cur.is_null() {
            *cur = Value::Object(Map::new());
        }
        cur = match cur {
            Value::Object(map) => map.entry(seg.clone()).or_insert_with(|| Value::Object(Map::new())),
            Value::Array(items) => {
                let i: usize = seg.parse().map_err(|_| fail("An array is indexed by number."))?;
                items.get_mut(i).ok_or_else(|| fail("No array item at this index."))?
            }
            _ => return Err(fail("This path goes through a value that is not an object.")),
        };
    }
    if cur.is_null() {
        *cur = Value::Object(Map::new());
    }
    Ok((cur, last.clone()))
}

/// The value at a path, for ops that read before they write.
fn slot<'a>(doc: &'a mut Map<String, Value>, path: &Path) -> Result<&'a mut Value, FieldError> {
    if let [only] = path.segments() {
        return Ok(doc.entry(only.clone()).or_insert(Value::Null));
    }
    let fail = |why: &str| FieldError::new(path.dotted(), why.to_owned());
    let (parent, last) = parent_mut(doc, path)?;
    match parent {
        Value::Object(map) => Ok(map.entry(last).or_insert(Value::Null)),
        Value::Array(items) => {
            let i: usize = last.parse().map_err(|_| fail("An array is indexed by number."))?;
            items.get_mut(i).ok_or_else(|| fail("No array item at this index."))
        }
        _ => Err(fail("This path goes through a value that is not an object.")),
    }
}

fn remove_at(doc: &mut Map<String, Value>, path: &Path) -> Result<(), FieldError> {
    if let [only] = path.segments() {
        doc.remove(only);
        return Ok(());
    }
    let (parent, last) = parent_mut(doc, path)?;
    match parent {
        Value::Object(map) => {
            map.remove(&last);
        }
        Value::Array(items) => {
            if let Ok(i) = last.parse::<usize>()
                && i < items.len()
            {
                items.remove(i);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Removes from `items` every element equal to one of `gone`, in time linear in
/// the sizes of both (not their product): the values to remove are bucketed by a
/// hash that, like `Value`'s equality, ignores the order of object keys, and each
/// item is compared only with the values in its bucket.
fn pull_all(items: &mut Vec<Value>, gone: &[Value]) {
    use std::collections::HashMap;
    let mut buckets: HashMap<u64, Vec<&Value>> = HashMap::with_capacity(gone.len());
    for value in gone {
        buckets.entry(value_hash(value)).or_default().push(value);
    }
    items.retain(|item| !buckets.get(&value_hash(item)).is_some_and(|bucket| bucket.contains(&item)));
}

/// A hash of a JSON value consistent with `Value`'s equality: equal values hash
/// alike whatever the order of their objects' keys (entries are combined by a sum).
fn value_hash(value: &Value) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    match value {
        Value::Null => 0u8.hash(&mut h),
        Value::Bool(b) => (1u8, b).hash(&mut h),
        // Numbers compare by their serde_json representation (1 and 1.0 differ).
        Value::Number(n) => (2u8, n.to_string()).hash(&mut h),
        Value::String(s) => (3u8, s).hash(&mut h),
        Value::Array(items) => {
            4u8.hash(&mut h);
            for item in items {
                value_hash(item).hash(&mut h);
            }
        }
        Value::Object(map) => {
            let mut sum = 0u64;
            for (k, v) in map {
                let mut entry = DefaultHasher::new();
                (k, value_hash(v)).hash(&mut entry);
                sum = sum.wrapping_add(entry.finish());
            }
            (5u8, map.len(), sum).hash(&mut h);
        }
    }
    h.finish()
}

/// Applies one op to a document.
pub fn apply(doc: &mut Map<String, Value>, op: &Op) -> Result<(), FieldError> {
    match op {
        Op::SetAt(path, value) => *slot(doc, path)? = value.clone(),
        Op::SetMany(pairs) => {
            for (path, value) in pairs {
                *slot(doc, path)? = value.clone();
            }
        }
        Op::Push(path, value) => {
            let target = slot(doc, path)?;
            if target.is_null() {
                *target = Value::Array(Vec::new());
            }
            let Value::Array(items) = target else {
                return Err(FieldError::new(path.dotted(), "push needs an array."));
            };
            match value {
                Value::Array(values) => items.extend(values.iter().cloned()),
                one => items.push(one.clone()),
            }
        }
        Op::Pull(path, value) => {
            let target = slot(doc, path)?;
            match target {
                Value::Array(items) => {
                    let gone: &[Value] = match value {
                        Value::Array(values) => values,
                        one => std::slice::from_ref(one),
                    };
                    pull_all(items, gone);
                }
                Value::Null => remove_at(doc, path)?,
                _ => return Err(FieldError::new(path.dotted(), "remove with a value needs an array.")),
            }
        }
        Op::Unset(paths) => {
            for path in paths {
                remove_at(doc, path)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn run(doc: Value, body: Value) -> Value {
        let mut map = doc.as_object().unwrap().clone();
        for op in parse_ops(body).unwrap() {
            apply(&mut map, &op).unwrap();
        }
        Value::Object(map)
    }

    #[test]
    fn paths_take_slashes_or_dots() {
        let a = Path::parse("/configuration/email/locationBypass").unwrap();
        let b = Path::parse("configuration.email.locationBypass").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.root(), "configuration");
        assert_eq!(a.dotted(), "configuration.email.locationBypass");
        for bad in ["", "/", "a//b", "a..b", "a/b/", "a b", "a/$where", "ä"] {
            assert!(Path::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_seeds_push_appends_and_creates_the_array() {
        let doc = run(
            json!({}),
            json!({"op": "push", "path": "/configuration/email/locationBypass", "value": "john@medable.com"}),
        );
        assert_eq!(doc, json!({"configuration": {"email": {"locationBypass": ["john@medable.com"]}}}));
        let doc = run(
            doc,
            json!([{"op": "push", "path": "configuration.email.locationBypass", "value": ["a@x.test", "b@x.test"]}]),
        );
        assert_eq!(
            doc["configuration"]["email"]["locationBypass"],
            json!(["john@medable.com", "a@x.test", "b@x.test"])
        );
    }

    #[test]
    fn set_remove_pull_and_unset_follow_the_seed_platform() {
        let doc = run(
            json!({"name": "A", "c_n": [1, 2, 2, 3]}),
            json!([
                {"op": "set", "value": {"name": "B", "website": "https://x.test"}},
                {"op": "set", "path": "support/email", "value": "help@x.test"},
                {"op": "remove", "path": "c_n", "value": 2},
                {"op": "pull", "path": "c_n", "value": [3]},
            ]),
        );
        assert_eq!(
            doc,
            json!({"name": "B", "website": "https://x.test", "support": {"email": "help@x.test"}, "c_n": [1]})
        );
        let doc = run(
            doc,
            json!([{"op": "remove", "path": "website"}, {"op": "unset", "value": {"support.email": 1, "c_n": 1}}]),
        );
        assert_eq!(doc, json!({"name": "B", "support": {}}));
    }

    #[test]
    fn pull_matches_objects_whatever_their_key_order_and_keeps_the_rest() {
        let mut items = vec![json!({"a": 1, "b": [2]}), json!(1), json!(1.0), json!("x"), json!({"a": 1})];
        let gone: Value = serde_json::from_str(r#"[{"b": [2], "a": 1}, 1.0, "y"]"#).unwrap();
        pull_all(&mut items, gone.as_array().unwrap());
        assert_eq!(items, vec![json!(1), json!("x"), json!({"a": 1})]);
    }

    #[test]
    fn pull_handles_ten_thousand_items_against_ten_thousand_values() {
        // As a product of the two this was 10^8 comparisons of JSON values.
        let mut items: Vec<Value> = (0..10_000).map(|i| json!({"n": i, "s": "x"})).collect();
        let gone: Vec<Value> = (0..10_000).filter(|i| i % 2 == 0).map(|i| json!({"s": "x", "n": i})).collect();
        pull_all(&mut items, &gone);
        assert_eq!(items.len(), 5_000);
        assert!(items.iter().all(|v| v["n"].as_i64().unwrap() % 2 == 1));
    }

    #[test]
    fn malformed_ops_are_refused_with_their_index() {
        let cases = [
            (json!([]), ""),
            (json!("set"), ""),
            (json!({"op": "merge", "path": "a", "value": 1}), "ops.0"),
            (json!([{"op": "set", "path": "a", "value": 1}, {"op": "push", "path": "b"}]), "ops.1.value"),
            (json!({"op": "pull", "value": 1}), "ops.0.path"),
            (json!({"op": "set", "value": 5}), "ops.0.value"),
            (json!({"op": "unset", "value": {}}), "ops.0.value"),
            (json!({"op": "set", "path": "a", "value": 1, "extra": true}), "ops.0"),
        ];
        for (body, path) in cases {
            let faults = parse_ops(body.clone()).unwrap_err();
            assert_eq!(faults[0].path, path, "{body}");
        }
    }

    #[test]
    fn pushing_onto_a_non_array_is_an_error() {
        let mut map = json!({"name": "A"}).as_object().unwrap().clone();
        let ops = parse_ops(json!({"op": "push", "path": "name", "value": 1})).unwrap();
        assert_eq!(apply(&mut map, &ops[0]).unwrap_err().path, "name");
    }

    proptest! {
        #[test]
        fn the_path_parser_never_panics(s in ".{0,200}") {
            let _ = Path::parse(&s);
        }

        #[test]
        fn valid_paths_round_trip_in_either_separator(segs in proptest::collection::vec("[A-Za-z0-9_]{1,10}", 1..8), dots in any::<bool>()) {
            let joined = if dots { segs.join(".") } else { format!("/{}", segs.join("/")) };
            let path = Path::parse(&joined).unwrap();
            prop_assert_eq!(path.segments(), segs.as_slice());
            prop_assert_eq!(Path::parse(&path.dotted()).unwrap(), path);
        }

        #[test]
        fn applying_arbitrary_ops_never_panics(body in arbitrary_json(3)) {
            if let Ok(ops) = parse_ops(body) {
                let mut map = Map::new();
                for op in &ops {
                    let _ = apply(&mut map, op);
                }
            }
        }
    }

    fn arbitrary_json(depth: u32) -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            prop_oneof![
                Just("set"),
                Just("push"),
                Just("pull"),
                Just("remove"),
                Just("unset"),
                Just("a/b"),
                Just("c_x.0")
            ]
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(depth, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("op".to_owned()),
                        Just("path".to_owned()),
                        Just("value".to_owned()),
                        "[a-z_/.]{1,6}"
                    ],
                    inner,
                    0..4
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
