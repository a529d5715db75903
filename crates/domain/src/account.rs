//! Accounts (platform-wide people), members (an account in one org, with roles),
//! and login sessions.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{FieldError, Id};

use crate::email::Email;

/// A person's name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonName {
    /// Given name.
    #[serde(default)]
    pub first: String,
    /// Family name.
    #[serde(default)]
    pub last: String,
}

impl PersonName {
    /// Trims both parts and checks their lengths (at most 100 characters each; the
    /// first name is required).
    pub fn validate(self, path: &str) -> Result<Self, FieldError> {
        let first = self.first.trim().to_owned();
        let last = self.last.trim().to_owned();
        if first.is_empty() || first.chars().count() > 100 || last.chars().count() > 100 {
            return Err(FieldError::new(
                path,
                "A name has a first part of 1-100 characters and a last part of at most 100.",
            ));
        }
        // Names go into mail: no line breaks or other control characters.
        if first.chars().chain(last.chars()).any(char::is_control) {
            return Err(FieldError::new(path, "A name has no control characters."));
        }
        Ok(Self { first, last })
    }

    /// Splits "First Last" (the CLI's form) at the first space.
    pub fn from_full(full: &str) -> Self {
        let full = full.trim();
        match full.split_once(' ') {
            Some((first, last)) => Self { first: first.to_owned(), last: last.trim().to_owned() },
            None => Self { first: full.to_owned(), last: String::new() },
        }
    }
}

/// A platform-wide account.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// The id.
    pub id: Id,
    /// The unique, normalised email.
    pub email: Email,
    /// The name.
    pub name: PersonName,
    /// The argon2id PHC string; `None` until a password is set. Never rendered.
    pub password_hash: Option<String>,
    /// The email is proven to be the account holder's: a mailed link (verification,
    /// invitation or password reset) was used, or an operator made the account.
    /// An unverified account is never linked to an org by email.
    pub verified: bool,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Last update.
    pub updated: DateTime<Utc>,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "<redacted>"))
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

impl Account {
    /// A new, unverified account.
    pub fn new(email: Email, name: PersonName, password_hash: Option<String>, now: DateTime<Utc>) -> Self {
        Self { id: Id::generate(now), email, name, password_hash, verified: false, created: now, updated: now }
    }

    /// The same account marked verified (an operator vouches for it, or a mailed
    /// link proved the email).
    #[must_use]
    pub fn verified(self) -> Self {
        Self { verified: true, ..self }
    }
}

/// A member's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberState {
    /// Acts with its roles.
    Active,
    /// Keeps its roles but acts as a non-member.
    Suspended,
}

impl MemberState {
    /// The state as stored and rendered.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    /// Parses `active` or `suspended`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

/// An account's membership in one org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The id.
    pub id: Id,
    /// The org.
    pub org: Id,
    /// The account.
    pub account: Id,
    /// Role ids (built-in or the org's custom roles).
    pub roles: Vec<Id>,
    /// Active or suspended.
    pub state: MemberState,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Last update.
    pub updated: DateTime<Utc>,
}

impl Member {
    /// A new active member.
    pub fn new(org: Id, account: Id, roles: Vec<Id>, now: DateTime<Utc>) -> Self {
        Self { id: Id::generate(now), org, account, roles, state: MemberState::Active, created: now, updated: now }
    }
}

/// A member with what member lists and reads show of its account: the email and
/// the name, nothing else (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberEntry {
    /// The membership.
    pub member: Member,
    /// The account's email.
    pub email: Email,
    /// The account's name.
    pub name: PersonName,
}

impl MemberEntry {
    /// `member` with the email and name of `account`, its account.
    pub fn new(member: Member, account: &Account) -> Self {
        Self { member, email: account.email.clone(), name: account.name.clone() }
    }
}

/// A login session. The token itself is never stored: only its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSession {
    /// The id.
    pub id: Id,
    /// SHA-256 hex of the token.
    pub token_hash: String,
    /// Who is logged in.
    pub account: Id,
    /// The org where the login happened; the session is valid only there.
    pub org: Id,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Last use (expiry slides from it).
    pub last_seen: DateTime<Utc>,
    /// When it lapses unless used.
    pub expires: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        let n = PersonName { first: " Ada ".into(), last: " Lovelace".into() }.validate("name").unwrap();
        assert_eq!((n.first.as_str(), n.last.as_str()), ("Ada", "Lovelace"));
        assert!(PersonName { first: " ".into(), last: String::new() }.validate("name").is_err());
        assert_eq!(PersonName::from_full("Ada King Lovelace").last, "King Lovelace");
    }
}
