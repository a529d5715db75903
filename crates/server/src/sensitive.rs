//! [`Sensitive`]: a request field that must never reach a log (a password, a
//! token). It reads as a plain JSON string and shows as `<redacted>` in `Debug`,
//! so deriving `Debug` on a request type holding one is safe.

use std::fmt;

use serde::Deserialize;

/// A secret string from a request body. OpenAPI shows it as a string
/// (`#[schema(value_type = String)]` on the field).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Sensitive(String);

impl Sensitive {
    /// The secret itself, for the code that checks or hashes it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The secret itself, by value.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_as_a_string_and_never_shows() {
        let s: Sensitive = serde_json::from_str("\"hunter2\"").unwrap();
        assert_eq!(s.expose(), "hunter2");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert!(serde_json::from_str::<Sensitive>("42").is_err());
    }
}
