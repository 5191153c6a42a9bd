//! Header helpers shared by the filters.

/// Whether a header value is free of control characters (HTAB allowed), per RFC 9110 §5.5.
pub fn is_valid_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// Whether a header name is an RFC 9110 token (pseudo-headers like `:path` allowed).
pub fn is_valid_name(name: &str) -> bool {
    let name = name.strip_prefix(':').unwrap_or(name);
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether a header name matches a pattern: exact (case-insensitive), or a prefix ending in `*`.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix)),
        None => pattern.eq_ignore_ascii_case(name),
    }
}

/// Quotes a string for a structured-field or `WWW-Authenticate` parameter (`"` and `\` escaped,
/// control characters dropped).
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[test]
    #[wasm_bindgen_test]
    fn control_characters_are_invalid() {
        assert!(is_valid_value("text/html; charset=utf-8\tx"));
        assert!(!is_valid_value("a\r\nb"));
        assert!(!is_valid_value("a\0"));
        assert!(!is_valid_value("a\x7f"));
    }

    #[test]
    #[wasm_bindgen_test]
    fn names_are_tokens() {
        assert!(is_valid_name("x-request-id"));
        assert!(is_valid_name(":path"));
        assert!(!is_valid_name("bad name"));
        assert!(!is_valid_name(""));
    }

    #[test]
    #[wasm_bindgen_test]
    fn patterns_match_prefixes_case_insensitively() {
        assert!(name_matches("x-envoy-*", "X-Envoy-Original-Path"));
        assert!(name_matches("server", "Server"));
        assert!(!name_matches("x-envoy-*", "x-env"));
        assert!(!name_matches("server", "servers"));
    }

    #[test]
    #[wasm_bindgen_test]
    fn quoting_escapes_quotes_and_drops_controls() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quote("a\r\nb"), r#""ab""#);
    }
}
