//! How the API writes a point in time: RFC 3339, UTC, milliseconds.
//!
//! Only the rendering lives here; reading the clock is `crate::clock`'s.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// Renders a date as the API does: RFC 3339, UTC, milliseconds.
pub fn render_date(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A date serialised as [`render_date`] renders it, written straight into the
/// output (no string per date).
#[derive(Debug, Clone, Copy)]
pub struct Date(pub DateTime<Utc>);

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use chrono::{Datelike, Timelike};
        let t = self.0;
        let year = t.year();
        if !(0..=9999).contains(&year) {
            return serializer.serialize_str(&render_date(t));
        }
        // `YYYY-MM-DDTHH:MM:SS.mmmZ`, as `render_date` writes it for these years.
        let mut out = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut value: u32| {
            for i in (at..at + width).rev() {
                out[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, 4, year.unsigned_abs());
        put(5, 2, t.month());
        put(8, 2, t.day());
        put(11, 2, t.hour());
        put(14, 2, t.minute());
        // A leap second shows as :60 in both.
        put(17, 2, t.second() + t.nanosecond() / 1_000_000_000);
        put(20, 3, t.nanosecond() % 1_000_000_000 / 1_000_000);
        serializer.serialize_str(std::str::from_utf8(&out).map_err(serde::ser::Error::custom)?)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn dates_serialise_as_they_render() {
        for t in [
            Utc.timestamp_millis_opt(0).unwrap(),
            Utc.timestamp_millis_opt(1_764_164_054_569).unwrap(),
            Utc.timestamp_millis_opt(1_764_164_054_000).unwrap(),
            Utc.timestamp_nanos(1_764_164_054_123_456_789),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
        ] {
            assert_eq!(serde_json::to_value(Date(t)).unwrap(), serde_json::json!(render_date(t)));
        }
    }
}
