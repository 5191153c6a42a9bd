//! Each filter's configuration compile (the `check_config` every filter crate exports, which is
//! what `on_configure` runs). Property: an error always names a field path that exists in the
//! input (`rules[2].match.prefix`, or `.` for the whole document), or a member missing from an
//! object that exists (`providers` of `{}`: where to add it), and gives a reason.

use crate::input::selector;
use palisade_core::ConfigError;
use serde_json::Value;

type Check = fn(&[u8]) -> Result<(), ConfigError>;

/// The filters, in the order the first input byte selects them.
pub const FILTERS: [(&str, Check); 4] = [
    ("headers", palisade_headers::check_config),
    ("jwt", palisade_jwt::check_config),
    ("schema", palisade_schema::check_config),
    ("ratelimit", palisade_ratelimit::check_config),
];

/// First byte: the filter (modulo 4); the rest: its JSON configuration.
pub fn run(data: &[u8]) {
    let (which, config) = selector(data);
    let Some((name, check)) = FILTERS.get(usize::from(which) % FILTERS.len()) else {
        return;
    };
    let Err(e) = check(config) else {
        return;
    };
    assert!(!e.reason.is_empty(), "{name}: an error without a reason");
    let document: Value = if config.iter().all(u8::is_ascii_whitespace) {
        Value::Object(serde_json::Map::new())
    } else {
        match serde_json::from_slice(config) {
            Ok(v) => v,
            // Not JSON: the error names where parsing stopped, which need not be a whole field.
            Err(_) => return,
        }
    };
    assert!(
        path_exists(&document, &e.path),
        "{name}: error names `{}`, which is not in the input ({})",
        e.path,
        e.reason
    );
}

/// Whether a dotted/indexed path (`a.b[2].c`, `.` for the root) names a value in `v`, or a
/// member absent from an object in `v`. Object keys may themselves hold `.` or `[`, so every key
/// that fits is tried.
pub fn path_exists(v: &Value, path: &str) -> bool {
    path == "." || walk(v, path)
}

fn walk(v: &Value, path: &str) -> bool {
    if path.is_empty() {
        return true;
    }
    if let Some(object) = v.as_object() {
        // The last segment, missing: a required member to add.
        if !path.contains(['.', '[']) && !object.contains_key(path) {
            return true;
        }
    }
    if let Some(rest) = path.strip_prefix('[') {
        let Some((index, rest)) = rest.split_once(']') else {
            return false;
        };
        let Ok(index) = index.parse::<usize>() else {
            return false;
        };
        return v
            .as_array()
            .and_then(|a| a.get(index))
            .is_some_and(|item| walk(item, next(rest)));
    }
    let Some(object) = v.as_object() else {
        return false;
    };
    object.iter().any(|(key, value)| {
        path.strip_prefix(key.as_str()).is_some_and(|rest| {
            (rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
                && walk(value, next(rest))
        })
    })
}

/// The rest of a path after a segment: `.b` → `b`, `[1]` stays.
fn next(rest: &str) -> &str {
    rest.strip_prefix('.').unwrap_or(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_are_found_by_key_and_index() {
        let v = json!({"rules": [{"match": {"prefix": "/"}}], "a.b": {"c": 1}});
        for p in [
            ".",
            "rules",
            "rules[0]",
            "rules[0].match.prefix",
            "a.b.c",
            "a.b",
        ] {
            assert!(path_exists(&v, p), "{p}");
        }
        for p in [
            "rules[1]",
            "rules.match",
            "rules[0].match.regex.x",
            "x.y",
            "a.c",
        ] {
            assert!(!path_exists(&v, p), "{p}");
        }
        for p in ["x", "rules[0].match.regex", "a.b.d"] {
            assert!(
                path_exists(&v, p),
                "a missing member of an object that exists: {p}"
            );
        }
    }
}
