//! Email addresses: the one normalised form that accounts are unique by and that
//! org settings (senders, support, location bypass) are checked against.

use std::fmt;

use serde::Serialize;

use crate::FieldError;

/// A normalised email address: trimmed, lowercase, syntactically valid. Accounts are
/// unique by it, so comparisons are case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Email(String);

impl Email {
    /// Validates and normalises an address.
    pub fn parse(path: &str, s: &str) -> Result<Self, FieldError> {
        let normalised = s.trim().to_lowercase();
        if normalised.len() > 254 || !email_address::EmailAddress::is_valid(&normalised) {
            return Err(FieldError::new(path, format!("'{}' is not an email address.", s.trim())));
        }
        Ok(Self(normalised))
    }

    /// An address read back from the store, which only ever holds parsed ones.
    pub fn from_stored(address: String) -> Self {
        Self(address)
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse("email", "  A@X.Test ").unwrap().as_str(), "a@x.test");
        for bad in ["", "plain", "a@", "@x.test", "a b@x.test"] {
            assert!(Email::parse("email", bad).is_err(), "{bad}");
        }
    }
}
