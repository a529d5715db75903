//! Whole numbers in JSON as JSON Schema reads them: `6` and `6.0` are the same
//! integer, so a field that takes an integer takes either spelling (serde's integer
//! types alone refuse `6.0`). A fraction, or a number out of the type's range, is
//! still refused.

use serde::Deserialize;
use serde::de::{Deserializer, Error};

/// A JSON number that must be a whole number.
#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Unsigned(u64),
    /// Any other number: a negative or fractional one, or one past `u64`.
    Float(f64),
}

fn whole<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<T, D::Error> {
    let n = match Number::deserialize(d).map_err(|_| D::Error::custom("expected a whole number"))? {
        Number::Unsigned(n) => Some(n),
        // Exactly representable up to 2^53; anything past that is out of every range here.
        Number::Float(f) if f.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&f) => Some(f as u64),
        Number::Float(_) => None,
    };
    n.and_then(|n| T::try_from(n).ok()).ok_or_else(|| D::Error::custom("expected a whole number in range"))
}

/// For `#[serde(deserialize_with = "crate::whole::number")]` on an unsigned integer field.
pub fn number<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<T, D::Error> {
    whole(d)
}

/// For `#[serde(default, deserialize_with = "crate::whole::optional")]` on an
/// `Option` of an unsigned integer: `null` is `None`.
pub fn optional<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<Option<T>, D::Error> {
    #[derive(Deserialize)]
    struct Whole(#[serde(deserialize_with = "whole_u64")] u64);
    fn whole_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        whole(d)
    }
    match Option::<Whole>::deserialize(d)? {
        None => Ok(None),
        Some(Whole(n)) => T::try_from(n).map(Some).map_err(|_| D::Error::custom("expected a whole number in range")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Fields {
        #[serde(deserialize_with = "number")]
        level: u8,
        #[serde(default, deserialize_with = "optional")]
        max: Option<u32>,
    }

    #[test]
    fn whole_numbers_in_either_spelling_are_read_and_others_refused() {
        let read = |v| serde_json::from_value::<Fields>(v);
        assert_eq!(read(json!({"level": 6})).unwrap(), Fields { level: 6, max: None });
        assert_eq!(read(json!({"level": 6.0, "max": 20.0})).unwrap(), Fields { level: 6, max: Some(20) });
        assert_eq!(read(json!({"level": 1, "max": null})).unwrap(), Fields { level: 1, max: None });
        for bad in [
            json!({"level": 6.5}),
            json!({"level": 256}),
            json!({"level": -1}),
            json!({"level": "6"}),
            json!({"level": 1, "max": 1e12}),
            json!({"level": -0.5}),
        ] {
            assert!(read(bad.clone()).is_err(), "{bad}");
        }
    }
}
