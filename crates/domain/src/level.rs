//! The seed platform's access levels, as numbers the API shows.
//!
//! 1 Public, 2 Connected (a pending connection), 3 reserved, 4 Read, 5 Share,
//! 6 Update, 7 Delete, 8 Script. Who gets which level is `crate::access`'s; this
//! module only names them, so that custom property declarations (`crate::schema`)
//! can default to a level without depending on the policy.

use serde::Serialize;

/// A resolved access level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    /// Anyone with a client key.
    Public = 1,
    /// The holder of a pending connection (invitation).
    Connected = 2,
    /// Reserved by the seed platform.
    Reserved = 3,
    /// Any member.
    Read = 4,
    /// Members who may share.
    Share = 5,
    /// Members who may update.
    Update = 6,
    /// Administrators.
    Delete = 7,
    /// Scripts (and platform operators).
    Script = 8,
}

impl Level {
    /// The level as the number the API shows.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

impl Serialize for Level {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.as_u8())
    }
}
