//! Object ids: 24 lowercase hex characters, as on the seed platform.
//!
//! New ids are time-ordered (4 bytes of seconds, 5 random bytes, a 3-byte counter,
//! the layout of a MongoDB ObjectId), so keyset paging on `_id` follows creation order.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 12-byte object id rendered as 24 hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id([u8; 12]);

/// Five random bytes per process and a counter that starts at a random value, as in
/// MongoDB: ids made by one process sort in creation order, even within a second.
static PROCESS: OnceLock<([u8; 5], AtomicU32)> = OnceLock::new();

impl Id {
    /// A new id for an object created at `now`.
    pub fn generate(now: DateTime<Utc>) -> Self {
        let mut bytes = [0u8; 12];
        let secs = u32::try_from(now.timestamp().max(0)).unwrap_or(u32::MAX);
        bytes[..4].copy_from_slice(&secs.to_be_bytes());
        let (random, counter) = PROCESS.get_or_init(|| (rand::random(), AtomicU32::new(rand::random::<u32>() >> 8)));
        bytes[4..9].copy_from_slice(random);
        let count = counter.fetch_add(1, Ordering::Relaxed);
        bytes[9..].copy_from_slice(&count.to_be_bytes()[1..]);
        Self(bytes)
    }

    /// A fixed id, for the built-in roles (`000000000000000000000004`…).
    pub const fn from_u96(low: u32) -> Self {
        let b = low.to_be_bytes();
        Self([0, 0, 0, 0, 0, 0, 0, 0, b[0], b[1], b[2], b[3]])
    }

    /// Parses 24 hex characters (either case). Anything else is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() != 24 {
            return None;
        }
        let mut bytes = [0u8; 12];
        hex::decode_to_slice(s, &mut bytes).ok()?;
        Some(Self(bytes))
    }
}

impl Id {
    /// Appends the 24 hex characters to `out`, without the formatting machinery.
    pub fn push_hex(&self, out: &mut String) {
        out.push_str(std::str::from_utf8(&self.hex()).unwrap_or_default());
    }

    /// The 24 hex characters, on the stack.
    fn hex(&self) -> [u8; 24] {
        let mut out = [0u8; 24];
        // 12 bytes always fit 24 characters.
        let _ = hex::encode_to_slice(self.0, &mut out);
        out
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.hex();
        f.write_str(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({self})")
    }
}

impl FromStr for Id {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or(InvalidId)
    }
}

/// The error of [`Id::from_str`].
#[derive(Debug, thiserror::Error)]
#[error("an id is 24 hexadecimal characters")]
pub struct InvalidId;

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let hex = self.hex();
        s.serialize_str(std::str::from_utf8(&hex).map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom(InvalidId))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_round_trip_and_sort_by_creation() {
        let now = crate::Clock::now(&crate::SystemClock);
        let a = Id::generate(now);
        let b = Id::generate(now + chrono::Duration::seconds(1));
        let c = Id::generate(now + chrono::Duration::seconds(1));
        assert_eq!(Id::parse(&a.to_string()), Some(a));
        assert!(b < c, "same second, same process: creation order");
        assert_eq!(a.to_string().len(), 24);
        assert!(a < b);
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in ["", "xyz", "5516ee1b34d8d934281699e", "5516ee1b34d8d934281699e3a", "5516ee1b34d8d934281699zz"] {
            assert_eq!(Id::parse(bad), None, "{bad}");
        }
        assert_eq!(Id::from_u96(4).to_string(), "000000000000000000000004");
    }
}
