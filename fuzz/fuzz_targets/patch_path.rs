//! `Path::parse` on arbitrary text: it never panics, and an accepted path keeps
//! its shape and round-trips through its dotted form.

#![no_main]

use libfuzzer_sys::fuzz_target;
use orgbase_domain::patch::{MAX_DEPTH, MAX_SEGMENT, Path};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(p) = Path::parse(s) else { return };
    let segs = p.segments();
    assert!(!segs.is_empty() && segs.len() <= MAX_DEPTH, "{s:?} gave {} segments", segs.len());
    for seg in segs {
        assert!(!seg.is_empty() && seg.len() <= MAX_SEGMENT, "{s:?} gave segment {seg:?}");
        assert!(seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "{s:?} gave segment {seg:?}");
    }
    assert_eq!(p.root(), segs[0]);
    assert_eq!(Path::parse(&p.dotted()), Ok(p.clone()), "{s:?} does not round-trip");
    assert_eq!(Path::parse(&format!("/{}", segs.join("/"))), Ok(p), "{s:?} does not round-trip with slashes");
});
