//! Path canonicalization: the one form of a request path that every rule, key and log line sees.
//!
//! RFC 3986 §6.2.2 (syntax-based normalization) and §5.2.4 (remove dot segments), plus what
//! common upstreams do beyond the RFC (merge `//`, strip Tomcat/Spring `;` parameters). Paths
//! whose meaning differs between upstreams are refused ([`PathFault`]), never guessed.
//!
//! | Input | Outcome |
//! |---|---|
//! | `%61`, `%2e`, `%7E` (unreserved: `A-Z a-z 0-9 - . _ ~`) | decoded: `a`, `.`, `~` |
//! | `%c3%a9`, `%3f` (any other escape) | kept, hex upper-cased: `%C3%A9`, `%3F` |
//! | `.` / `..` segments, also as `%2e` / `%2e%2e` | removed per §5.2.4 (never above `/`) |
//! | `//`, empty segments | merged into one `/` (a trailing `/` is kept) |
//! | `;params` in a segment (`/admin;x/y`) | removed, as Tomcat/Spring do ([`PathParameters::Strip`]), or kept |
//! | raw space, `"`, `<`, `>`, `^`, `` ` ``, `{`, `|`, `}`, `[`, `]`, non-ASCII | percent-encoded (UTF-8) |
//! | `%2F`, `%5C` (encoded `/`, `\`) | refused ([`PathFault::EncodedSlash`]), or kept as data ([`EncodedSlashes::Keep`]) |
//! | raw `\` | refused: some upstreams read it as `/` |
//! | `%25` followed by two hex digits (`%252e`) | refused: a double-decoding upstream sees `.` |
//! | NUL and control characters, raw or encoded | refused |
//! | `%` not followed by two hex digits, escapes that are not UTF-8 (`%C0%AE`), U+FFFD | refused |
//! | `#fragment` | refused: never part of a request target (RFC 9112 §3.2) |
//! | not starting with `/` (except `*`) | refused |
//!
//! The query (after the first `?`) is not part of the path: it is kept as received.
//! The canonical form is a fixed point: canonicalizing it again changes nothing.

use std::borrow::Cow;

/// What `;` parameters in a path segment are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PathParameters {
    /// Removed from each segment (`/admin;jsessionid=1/x` is `/admin/x`), as Tomcat and Spring
    /// do before they route: rules then see the path such an upstream serves.
    #[default]
    Strip,
    /// Ordinary characters of the segment: only for upstreams that never strip them.
    Keep,
}

/// What an encoded `/` or `\` (`%2F`, `%5C`) is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EncodedSlashes {
    /// Refused: upstreams disagree on whether it separates segments.
    #[default]
    Reject,
    /// Data inside a segment (`/repos/a%2Fb`): only for upstreams that never decode it before routing.
    Keep,
}

/// How paths are canonicalized.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PathOptions {
    /// `;` parameters.
    pub path_parameters: PathParameters,
    /// `%2F` and `%5C`.
    pub encoded_slashes: EncodedSlashes,
}

/// Why a path cannot be canonicalized safely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathFault {
    /// It does not start with `/` (and is not `*`).
    NotOriginForm,
    /// It carries a `#fragment`.
    Fragment,
    /// A `%` not followed by two hex digits.
    InvalidEscape,
    /// `%2F` or `%5C`.
    EncodedSlash,
    /// A raw `\`.
    Backslash,
    /// `%25` followed by two hex digits: an encoded escape.
    DoubleEncoding,
    /// NUL or another control character, raw or encoded.
    ControlCharacter,
    /// Escapes that do not decode to UTF-8 (overlong forms included), or U+FFFD (a byte the
    /// host could not read as UTF-8).
    InvalidUtf8,
}

impl PathFault {
    /// What is wrong, for a problem's `detail` and log lines.
    pub fn describe(self) -> &'static str {
        match self {
            PathFault::NotOriginForm => "the path does not start with `/`",
            PathFault::Fragment => "the request target carries a `#` fragment",
            PathFault::InvalidEscape => "a `%` is not followed by two hex digits",
            PathFault::EncodedSlash => "the path has an encoded slash or backslash (`%2F`, `%5C`)",
            PathFault::Backslash => "the path has a backslash",
            PathFault::DoubleEncoding => "the path is double-encoded (`%25` before hex digits)",
            PathFault::ControlCharacter => "the path has a NUL or control character",
            PathFault::InvalidUtf8 => "the path's escapes are not UTF-8",
        }
    }
}

/// The canonical form of `path` (no query): `Cow::Borrowed` exactly when `path` already is canonical.
pub fn canonicalize(path: &str, options: PathOptions) -> Result<Cow<'_, str>, PathFault> {
    if path == "*" {
        return Ok(Cow::Borrowed(path));
    }
    if path.contains('#') {
        return Err(PathFault::Fragment);
    }
    if !path.starts_with('/') {
        return Err(PathFault::NotOriginForm);
    }
    if is_plainly_canonical(path, options) {
        return Ok(Cow::Borrowed(path));
    }
    let out = rebuild(path, options)?;
    Ok(if out == path {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(out)
    })
}

/// The common case, without allocating: only pchars, no `%`, no empty or dot segments.
fn is_plainly_canonical(path: &str, options: PathOptions) -> bool {
    let mut segments = path.split('/').skip(1).peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        if (segment.is_empty() && !last) || segment == "." || segment == ".." {
            return false;
        }
        let plain = segment.bytes().all(|b| {
            is_pchar(b) && !(b == b';' && options.path_parameters == PathParameters::Strip)
        });
        if !plain {
            return false;
        }
    }
    true
}

/// Segment by segment: parameters, escapes, then dot segments and empty ones.
fn rebuild(path: &str, options: PathOptions) -> Result<String, PathFault> {
    let mut out = String::with_capacity(path.len());
    let mut starts: Vec<usize> = Vec::new();
    let mut segment = String::new();
    let mut trailing_slash = false;
    for raw in path.split('/').skip(1) {
        let raw = match options.path_parameters {
            PathParameters::Strip => raw.split(';').next().unwrap_or(raw),
            PathParameters::Keep => raw,
        };
        segment.clear();
        canonical_segment(raw, options, &mut segment)?;
        match segment.as_str() {
            "" | "." => trailing_slash = true,
            ".." => {
                if let Some(start) = starts.pop() {
                    out.truncate(start);
                }
                trailing_slash = true;
            }
            s => {
                starts.push(out.len());
                out.push('/');
                out.push_str(s);
                trailing_slash = false;
            }
        }
    }
    if out.is_empty() || trailing_slash {
        out.push('/');
    }
    if has_encoded_escape(&out) {
        return Err(PathFault::DoubleEncoding);
    }
    Ok(out)
}

/// Appends the canonical form of one segment (no `/` in `raw`).
fn canonical_segment(raw: &str, options: PathOptions, out: &mut String) -> Result<(), PathFault> {
    let bytes = raw.as_bytes();
    // Consecutive escaped bytes >= 0x80 must decode to UTF-8 together.
    let mut high: Vec<u8> = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let value = match (bytes.get(i + 1), bytes.get(i + 2)) {
                (Some(&h), Some(&l)) => match (hex(h), hex(l)) {
                    (Some(h), Some(l)) => h * 16 + l,
                    _ => return Err(PathFault::InvalidEscape),
                },
                _ => return Err(PathFault::InvalidEscape),
            };
            i += 3;
            if value >= 0x80 {
                high.push(value);
                push_escape(out, value);
                continue;
            }
            check_utf8(&mut high)?;
            match value {
                v if is_unreserved(v) => out.push(char::from(v)),
                b'/' | b'\\' if options.encoded_slashes == EncodedSlashes::Reject => {
                    return Err(PathFault::EncodedSlash)
                }
                0..=0x1f | 0x7f => return Err(PathFault::ControlCharacter),
                v => push_escape(out, v),
            }
        } else if b < 0x80 {
            check_utf8(&mut high)?;
            i += 1;
            match b {
                b'\\' => return Err(PathFault::Backslash),
                0..=0x1f | 0x7f => return Err(PathFault::ControlCharacter),
                b if is_pchar(b) => out.push(char::from(b)),
                b => push_escape(out, b),
            }
        } else {
            check_utf8(&mut high)?;
            let Some(c) = raw.get(i..).and_then(|rest| rest.chars().next()) else {
                return Err(PathFault::InvalidUtf8);
            };
            if c == char::REPLACEMENT_CHARACTER {
                return Err(PathFault::InvalidUtf8);
            }
            if c.is_control() {
                return Err(PathFault::ControlCharacter);
            }
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                push_escape(out, byte);
            }
            i += c.len_utf8();
        }
    }
    check_utf8(&mut high)
}

/// Checks and clears a run of escaped high bytes.
fn check_utf8(high: &mut Vec<u8>) -> Result<(), PathFault> {
    if high.is_empty() {
        return Ok(());
    }
    let decoded = std::str::from_utf8(high).map(|s| {
        (
            s.contains(char::REPLACEMENT_CHARACTER),
            s.chars().any(char::is_control),
        )
    });
    high.clear();
    match decoded {
        Ok((false, false)) => Ok(()),
        // C1 controls (U+0080..U+009F) are control characters too (found by the canonicalize fuzz target).
        Ok((false, true)) => Err(PathFault::ControlCharacter),
        _ => Err(PathFault::InvalidUtf8),
    }
}

/// `%25` followed by two hex digits in a canonical path (checked after decoding, so `%25%32e` counts).
fn has_encoded_escape(canonical: &str) -> bool {
    canonical.match_indices("%25").any(|(at, _)| {
        let mut next = canonical.bytes().skip(at + 3);
        matches!(
            (next.next().and_then(hex), next.next().and_then(hex)),
            (Some(_), Some(_))
        )
    })
}

fn push_escape(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    for nibble in [byte >> 4, byte & 0x0f] {
        if let Some(&h) = HEX.get(usize::from(nibble)) {
            out.push(char::from(h));
        }
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// RFC 3986 §2.3.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 §3.3 `pchar` without `%` (escapes are handled apart).
fn is_pchar(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
        )
}

#[cfg(test)]
#[path = "path_tests.rs"]
mod tests;
