//! Invitations, called *connections* as on the seed platform: an admin invites an
//! email with roles; the holder of the token accepts (becoming a member) or declines.

use chrono::{DateTime, Utc};

use crate::email::Email;
use crate::{Id, secret};

/// A connection's state, with the seed platform's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Waiting for the invitee (0).
    Pending,
    /// Accepted: the invitee is a member (1).
    Accepted,
    /// Declined by the invitee (2).
    Declined,
    /// Revoked by an admin (3).
    Revoked,
}

impl ConnectionState {
    /// The number stored and shown.
    pub const fn as_i16(self) -> i16 {
        match self {
            Self::Pending => 0,
            Self::Accepted => 1,
            Self::Declined => 2,
            Self::Revoked => 3,
        }
    }

    /// Parses the stored number.
    pub fn from_i16(n: i16) -> Option<Self> {
        match n {
            0 => Some(Self::Pending),
            1 => Some(Self::Accepted),
            2 => Some(Self::Declined),
            3 => Some(Self::Revoked),
            _ => None,
        }
    }
}

/// An invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The id.
    pub id: Id,
    /// The org.
    pub org: Id,
    /// The invitee.
    pub email: Email,
    /// An optional display name for the invitee.
    pub name: Option<String>,
    /// Roles the member will hold.
    pub roles: Vec<Id>,
    /// The state.
    pub state: ConnectionState,
    /// SHA-256 of the current token; `None` once used.
    pub token_hash: Option<String>,
    /// When the token lapses.
    pub expires: DateTime<Utc>,
    /// The admin who invited.
    pub creator: Option<Id>,
    /// The account that accepted.
    pub account: Option<Id>,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Last change.
    pub updated: DateTime<Utc>,
}

impl Connection {
    /// A new pending connection and its token (shown only in the mail).
    pub fn new(
        org: Id,
        email: Email,
        name: Option<String>,
        roles: Vec<Id>,
        creator: Option<Id>,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> (Self, String) {
        let token = secret::token();
        let connection = Self {
            id: Id::generate(now),
            org,
            email,
            name,
            roles,
            state: ConnectionState::Pending,
            token_hash: Some(secret::digest(&token)),
            expires,
            creator,
            account: None,
            created: now,
            updated: now,
        };
        (connection, token)
    }
}
