//! Shared parsing of free-text values that several aggregates hold: names, locales
//! and time zones.
//!
//! Values with a type of their own (an email, an org code) have their own modules;
//! this one only checks text and hands it back.

use std::str::FromStr;

use crate::FieldError;

/// Validates a name: 1–100 characters after trimming.
pub fn parse_name(path: &str, s: &str) -> Result<String, FieldError> {
    let trimmed = s.trim();
    let chars = trimmed.chars().count();
    if chars == 0 || chars > 100 {
        return Err(FieldError::new(path, "A name is 1-100 characters."));
    }
    // Names go into mail subjects and bodies: no line breaks or other controls.
    if trimmed.chars().any(char::is_control) {
        return Err(FieldError::new(path, "A name has no control characters."));
    }
    Ok(trimmed.to_owned())
}

/// Validates a BCP 47 / ICU locale (`en_US`, `fr-CA`) and returns it as given.
pub fn parse_locale(path: &str, s: &str) -> Result<String, FieldError> {
    icu_locale_core::Locale::try_from_str(&s.replace('_', "-"))
        .map(|_| s.to_owned())
        .map_err(|_| FieldError::new(path, format!("'{s}' is not a BCP 47 locale such as en_US.")))
}

/// Validates an IANA time zone name (`US/Pacific`, `Europe/London`).
pub fn parse_tz(path: &str, s: &str) -> Result<String, FieldError> {
    chrono_tz::Tz::from_str(s)
        .map(|_| s.to_owned())
        .map_err(|_| FieldError::new(path, format!("'{s}' is not an IANA time zone such as US/Pacific.")))
}

/// Every IANA time zone name that [`parse_tz`] accepts.
pub fn time_zones() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_and_zones_are_checked_by_their_crates() {
        assert!(parse_locale("locale", "en_US").is_ok());
        assert!(parse_locale("locale", "fr-CA").is_ok());
        assert!(parse_locale("locale", "not a locale").is_err());
        assert!(parse_tz("tz", "US/Pacific").is_ok());
        assert!(parse_tz("tz", "Europe/London").is_ok());
        assert!(parse_tz("tz", "Mars/Olympus").is_err());
        assert!(time_zones().all(|tz| parse_tz("tz", tz).is_ok()));
    }
}
