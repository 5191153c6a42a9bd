//! Path canonicalization (the core's one view of `:path`). Properties: the canonical form is a
//! fixed point (canonicalizing it again gives it back, borrowed); it starts with `/` and has no
//! `//`, no `.`/`..` segment and, unless kept as data, no encoded slash or backslash; and an
//! upstream that percent-decodes it once more still sees no dot segment, empty segment, control
//! character or escape to decode again, so it resolves to the same segments the rules matched:
//! the path never escapes the prefix a rule saw.

use crate::input::selector;
use palisade_core::path::{canonicalize, EncodedSlashes, PathOptions, PathParameters};
use std::borrow::Cow;

/// First byte: the options (bit 0: keep `;` parameters, bit 1: keep encoded slashes); the rest: the path.
pub fn run(data: &[u8]) {
    let (knobs, rest) = selector(data);
    let Ok(path) = std::str::from_utf8(rest) else {
        return;
    };
    let options = PathOptions {
        path_parameters: if knobs & 1 == 1 {
            PathParameters::Keep
        } else {
            PathParameters::Strip
        },
        encoded_slashes: if knobs & 2 == 2 {
            EncodedSlashes::Keep
        } else {
            EncodedSlashes::Reject
        },
    };
    let Ok(canonical) = canonicalize(path, options) else {
        return;
    };
    if let Cow::Borrowed(b) = &canonical {
        assert_eq!(*b, path, "borrowed means unchanged");
    }
    let c: &str = &canonical;
    match canonicalize(c, options) {
        Ok(Cow::Borrowed(again)) => assert_eq!(again, c),
        other => panic!("not a fixed point: `{path}` -> `{c}` -> {other:?}"),
    }
    if c == "*" {
        return;
    }
    assert!(c.starts_with('/'), "`{c}` does not start with /");
    assert!(!c.contains("//"), "`{c}` has //");
    assert!(!c.contains(['\\', '#', '?']), "`{c}`");
    assert!(
        c.bytes().all(|b| b.is_ascii_graphic()),
        "`{c}` has raw non-printable or non-ASCII bytes"
    );
    let segments: Vec<&str> = c.split('/').skip(1).collect();
    for (i, s) in segments.iter().enumerate() {
        assert!(*s != "." && *s != "..", "`{c}` has a dot segment");
        assert!(
            !s.is_empty() || i + 1 == segments.len(),
            "`{c}` has an empty segment"
        );
    }
    let upper = c.to_ascii_uppercase();
    if options.encoded_slashes == EncodedSlashes::Reject {
        assert!(
            !upper.contains("%2F") && !upper.contains("%5C"),
            "`{c}` has an encoded slash"
        );
        // What an upstream that decodes once more sees: the same segments, nothing to resolve.
        let decoded = percent_decode(c);
        let decoded = String::from_utf8(decoded).expect("the canonical escapes are UTF-8");
        let upstream: Vec<&str> = decoded.split('/').skip(1).collect();
        assert_eq!(
            upstream.len(),
            segments.len(),
            "`{c}` decodes into other segments"
        );
        for s in &upstream {
            assert!(*s != "." && *s != "..", "`{c}` decodes to a dot segment");
        }
        assert!(
            !decoded.chars().any(char::is_control),
            "`{c}` decodes to a control character"
        );
        assert!(!decoded.contains('\\'));
    }
    // An escape that decodes to another escape would be resolved by a double-decoding upstream.
    let bytes = c.as_bytes();
    for (i, _) in c.match_indices("%25") {
        let next = bytes.get(i + 3..i + 5).unwrap_or_default();
        assert!(
            !(next.len() == 2 && next.iter().all(u8::is_ascii_hexdigit)),
            "`{c}` is double-encoded"
        );
    }
}

/// `%XX` to the byte, everything else as it is (an upstream's one decoding pass).
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (c, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}
