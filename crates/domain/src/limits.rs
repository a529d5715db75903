//! Limits on what a stored value may be: how deep it nests, how long its strings
//! are, how many items its arrays and objects hold, and how large it is as JSON.
//!
//! Every value a caller can store (custom `c_…` properties, the org's documents) is
//! checked here before it is written. Without them one value could break an org for
//! good: serde_json refuses to read back JSON nested deeper than 128 levels, so a
//! value stored 127 levels deep inside the org's document made every later read of
//! that org fail. The limits sit far below the parser's, and far above what any
//! real property needs.

use std::io;

use serde_json::Value;

use crate::FieldError;

/// The deepest a stored value may nest (an object or array counts one level).
pub const MAX_DEPTH: usize = 32;
/// The longest string in a stored value, in bytes of UTF-8.
pub const MAX_STRING_BYTES: usize = 16 * 1024;
/// The longest key of an object in a stored value, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// The most items of one array in a stored value.
pub const MAX_ARRAY_ITEMS: usize = 10_000;
/// The most keys of one object in a stored value.
pub const MAX_OBJECT_KEYS: usize = 1_000;
/// The largest one property's value may be, as compact JSON.
pub const MAX_VALUE_BYTES: usize = 128 * 1024;
/// The largest the org's whole document of writable properties may be, as compact
/// JSON (it is read on every request and kept in memory).
pub const MAX_DOCUMENT_BYTES: usize = 512 * 1024;
/// The most items of the org's built-in lists (`configuration.email.locationBypass`,
/// `registration.defaultRoles`).
pub const MAX_LIST_ITEMS: usize = 1_000;
/// The most custom roles an org may define.
pub const MAX_ROLES: usize = 100;
/// The most custom properties an org may declare.
pub const MAX_CUSTOM_PROPERTIES: usize = 200;

/// Why a text holding U+0000 is refused.
pub const NUL: &str = "Text may not hold the NUL character (U+0000).";

/// Checks one value against the limits; a fault names `path` and, below it, where
/// the value breaks one (`c_doc.items.3`).
pub fn check_value(path: &str, value: &Value) -> Result<(), FieldError> {
    let mut at = Vec::new();
    walk(value, 1, &mut at).map_err(|why| FieldError::new(join(path, &at), why))?;
    let size = json_size(value, MAX_VALUE_BYTES);
    if size > MAX_VALUE_BYTES {
        return Err(FieldError::new(path, format!("A value is at most {} KiB as JSON.", MAX_VALUE_BYTES / 1024)));
    }
    Ok(())
}

/// The size of `value` as compact JSON, counted up to just past `cap` (it stops
/// writing there, so a huge value costs no more than `cap` bytes of work).
pub fn json_size(value: &impl serde::Serialize, cap: usize) -> usize {
    let mut counter = Counter { bytes: 0, cap };
    // The only error is the counter's own, once past the cap.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.bytes
}

struct Counter {
    bytes: usize,
    cap: usize,
}

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes = self.bytes.saturating_add(buf.len());
        if self.bytes > self.cap {
            return Err(io::Error::other("over the cap"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn join(path: &str, at: &[String]) -> String {
    let mut out = path.to_owned();
    for segment in at {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(segment);
    }
    out
}

/// Walks `value` at `depth`, pushing the segments of where it is on `at`; on a
/// breach, `at` is left pointing at the culprit.
fn walk(value: &Value, depth: usize, at: &mut Vec<String>) -> Result<(), String> {
    match value {
        Value::String(s) if s.len() > MAX_STRING_BYTES => {
            Err(format!("A string is at most {} KiB.", MAX_STRING_BYTES / 1024))
        }
        // PostgreSQL's text and jsonb can't hold U+0000: refused on both backends alike.
        Value::String(s) if s.contains('\0') => Err(NUL.to_owned()),
        Value::Array(items) => {
            nested(depth)?;
            if items.len() > MAX_ARRAY_ITEMS {
                return Err(format!("An array holds at most {MAX_ARRAY_ITEMS} items."));
            }
            for (i, item) in items.iter().enumerate() {
                if item.is_array() || item.is_object() || item.is_string() {
                    at.push(i.to_string());
                    walk(item, depth + 1, at)?;
                    at.pop();
                }
            }
            Ok(())
        }
        Value::Object(map) => {
            nested(depth)?;
            if map.len() > MAX_OBJECT_KEYS {
                return Err(format!("An object holds at most {MAX_OBJECT_KEYS} keys."));
            }
            for (key, item) in map {
                if key.len() > MAX_KEY_BYTES {
                    return Err(format!("A key is at most {MAX_KEY_BYTES} bytes."));
                }
                if key.contains('\0') {
                    return Err(NUL.to_owned());
                }
                if item.is_array() || item.is_object() || item.is_string() {
                    at.push(key.clone());
                    walk(item, depth + 1, at)?;
                    at.pop();
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn nested(depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH { Err(format!("A value nests at most {MAX_DEPTH} levels deep.")) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn nest(levels: usize) -> Value {
        let mut v = json!(1);
        for _ in 0..levels {
            v = json!({ "a": v });
        }
        v
    }

    #[test]
    fn depth_is_limited_at_thirty_two_levels() {
        assert!(check_value("c_doc", &nest(MAX_DEPTH)).is_ok());
        let e = check_value("c_doc", &nest(MAX_DEPTH + 1)).unwrap_err();
        assert!(e.path.starts_with("c_doc.a.a"), "{}", e.path);
        assert!(e.reason.contains("32"));
        // Arrays count as levels too.
        let mut v = json!(1);
        for _ in 0..=MAX_DEPTH {
            v = json!([v]);
        }
        assert!(check_value("c_list", &v).is_err());
    }

    #[test]
    fn strings_arrays_objects_and_sizes_are_limited() {
        let e = check_value("c_doc", &json!({"x": ["ok", "y".repeat(MAX_STRING_BYTES + 1)]})).unwrap_err();
        assert_eq!(e.path, "c_doc.x.1");
        assert!(check_value("c_n", &json!(vec![0; MAX_ARRAY_ITEMS + 1])).is_err());
        let wide: serde_json::Map<String, Value> = (0..=MAX_OBJECT_KEYS).map(|i| (i.to_string(), json!(i))).collect();
        assert!(check_value("c_doc", &Value::Object(wide)).is_err());
        assert!(check_value("c_doc", &json!({ "k".repeat(MAX_KEY_BYTES + 1): 1 })).is_err());
        let big = json!(vec!["z".repeat(1000); 200]);
        let e = check_value("c_big", &big).unwrap_err();
        assert_eq!(e.path, "c_big");
        assert!(check_value("c_ok", &json!({"a": [1, 2, {"b": "c"}], "d": null})).is_ok());
    }

    #[test]
    fn sizes_are_counted_without_writing_past_the_cap() {
        assert_eq!(json_size(&json!({"a": [1, "b"]}), 1000), r#"{"a":[1,"b"]}"#.len());
        assert!(json_size(&json!("x".repeat(10_000)), 100) <= 100 + 10_002);
    }
}
