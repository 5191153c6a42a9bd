//! What goes upstream: claims as headers, the payload as a header, and the token itself only
//! when the provider says `forward`.

use crate::claims::lookup;
use crate::config::ArrayFormat;
use crate::extractor::{cookie_without, path_without_params, Extracted, Location};
use crate::verifier::{Identity, VerifiedToken};
use palisade_core::headers::is_valid_value;
use palisade_core::json_text::value_to_string;
use palisade_core::route::RequestInfo;
use serde_json::Value;
use std::rc::Rc;

/// `claim_to_headers` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimHeader {
    /// Header to set (lower-case).
    pub header: String,
    /// Claim name or dotted path.
    pub claim: String,
    /// Joins array elements.
    pub separator: String,
    /// Joined, or a JSON array.
    pub array_format: ArrayFormat,
}

/// Changes to the request before it goes upstream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mutations {
    /// Headers to set (each replaces any value).
    pub set: Vec<(String, String)>,
    /// Headers to remove.
    pub remove: Vec<String>,
    /// A new `:path` (query parameters holding tokens removed).
    pub path: Option<String>,
    /// A new `cookie` header: `Some(None)` removes it.
    pub cookie: Option<Option<String>>,
    /// The verified identity for later stages (in-process) or filters (filter state).
    pub identity: Option<Rc<Identity>>,
}

/// A claim as a header value: strings as they are, arrays joined (string elements bare, others
/// as JSON) or as a JSON array, objects, numbers and booleans as compact JSON. `None` when the
/// result is not a valid header value (a control character in a string claim), or when a joined
/// element contains the separator: an upstream splitting on it would read other elements.
pub fn header_value(value: &Value, separator: &str, format: ArrayFormat) -> Option<String> {
    let text = match (value, format) {
        (Value::Array(_), ArrayFormat::Json) => value_to_string(value),
        (Value::Array(items), ArrayFormat::Joined) => {
            let elements: Vec<String> = items
                .iter()
                .map(|i| match i {
                    Value::String(s) => s.clone(),
                    other => value_to_string(other),
                })
                .collect();
            if elements.iter().any(|e| e.contains(separator)) {
                return None;
            }
            elements.join(separator)
        }
        (Value::String(s), _) => s.clone(),
        (Value::Null, _) => return None,
        (other, _) => value_to_string(other),
    };
    is_valid_value(&text).then_some(text)
}

/// Headers from one verified token's claims.
pub fn claim_headers(token: &VerifiedToken, rules: &[ClaimHeader], out: &mut Mutations) {
    for rule in rules {
        let value = lookup(&token.claims, &rule.claim)
            .and_then(|v| header_value(v, &rule.separator, rule.array_format));
        match value {
            Some(value) => out.set.push((rule.header.clone(), value)),
            None => log::debug!(
                "jwt: claim `{}` absent, ambiguous when joined, or not a header value; `{}` not set",
                rule.claim,
                rule.header
            ),
        }
    }
}

/// The payload for `forward_payload_header`: base64url as sent, padded on request.
pub fn payload_header(token: &VerifiedToken, pad: bool) -> String {
    let mut value = token.payload_b64.clone();
    if pad {
        while value.len() % 4 != 0 {
            value.push('=');
        }
    }
    value
}

/// Removes the provider's tokens from where they were found (`forward: false`).
pub fn strip_tokens(
    locations: &[Location],
    found: &[Extracted],
    req: &RequestInfo<'_>,
    out: &mut Mutations,
) {
    let mut params: Vec<&str> = Vec::new();
    let mut cookies: Vec<&str> = Vec::new();
    for e in found {
        match locations.get(e.location) {
            Some(Location::Header { name, .. }) if !out.remove.contains(name) => {
                out.remove.push(name.clone());
            }
            Some(Location::Param(name)) => params.push(name),
            Some(Location::Cookie(name)) => cookies.push(name),
            Some(Location::Header { .. }) | None => {}
        }
    }
    if !params.is_empty() {
        let current = out.path.clone().unwrap_or_else(|| req.path.to_string());
        out.path = Some(path_without_params(&current, &params));
    }
    if !cookies.is_empty() {
        let current = match &out.cookie {
            Some(c) => c.clone(),
            None => {
                let all: Vec<&str> = req
                    .headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
                    .map(|(_, v)| v.as_str())
                    .collect();
                (!all.is_empty()).then(|| all.join("; "))
            }
        };
        out.cookie = Some(current.and_then(|c| cookie_without(&c, &cookies)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn token(claims: Value) -> VerifiedToken {
        VerifiedToken::new(
            claims.as_object().unwrap().clone(),
            "eyJzdWIiOiJhIn0".into(),
            Default::default(),
        )
    }

    fn rule(header: &str, claim: &str, separator: &str) -> ClaimHeader {
        ClaimHeader {
            header: header.into(),
            claim: claim.into(),
            separator: separator.into(),
            array_format: ArrayFormat::Joined,
        }
    }

    #[test]
    fn claims_become_header_values() {
        // payload {"sub":"u1","roles":["a","b"],"org":{"id":7},"n":3,"admin":true,"nested":{"x":{"y":"z"}},"mixed":["a",1]}
        let t = token(json!({
            "sub": "u1", "roles": ["a", "b"], "org": {"id": 7}, "n": 3, "admin": true,
            "nested": {"x": {"y": "z"}}, "mixed": ["a", 1], "evil": "a\r\nx-injected: 1"
        }));
        let mut m = Mutations::default();
        claim_headers(
            &t,
            &[
                rule("x-sub", "sub", ","),
                rule("x-roles", "roles", ","),
                rule("x-roles-space", "roles", " "),
                rule("x-org", "org", ","),
                rule("x-n", "n", ","),
                rule("x-admin", "admin", ","),
                rule("x-y", "nested.x.y", ","),
                rule("x-mixed", "mixed", ";"),
                rule("x-missing", "nope", ","),
                rule("x-evil", "evil", ","),
            ],
            &mut m,
        );
        let expected: Vec<(String, String)> = [
            ("x-sub", "u1"),
            ("x-roles", "a,b"),
            ("x-roles-space", "a b"),
            ("x-org", r#"{"id":7}"#),
            ("x-n", "3"),
            ("x-admin", "true"),
            ("x-y", "z"),
            ("x-mixed", "a;1"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(m.set, expected);
    }

    #[test]
    fn arrays_are_never_forwarded_ambiguously() {
        // payload {"groups":["a,admin","b"],"plain":["a","b"],"objs":[{"x":1,"y":2}]}
        let t = token(
            json!({"groups": ["a,admin", "b"], "plain": ["a", "b"], "objs": [{"x": 1, "y": 2}]}),
        );
        let json_rule = |header: &str, claim: &str| ClaimHeader {
            array_format: ArrayFormat::Json,
            ..rule(header, claim, ",")
        };
        let mut m = Mutations::default();
        claim_headers(
            &t,
            &[
                rule("x-groups", "groups", ","),
                rule("x-groups-space", "groups", " "),
                rule("x-plain", "plain", ","),
                rule("x-objs", "objs", ","),
                json_rule("x-groups-json", "groups"),
            ],
            &mut m,
        );
        let expected: Vec<(String, String)> = [
            ("x-groups-space", "a,admin b"),
            ("x-plain", "a,b"),
            ("x-groups-json", r#"["a,admin","b"]"#),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(m.set, expected, "ambiguous joins are not set");
    }

    #[test]
    fn payload_header_as_sent_or_padded() {
        let t = token(json!({}));
        assert_eq!(payload_header(&t, false), "eyJzdWIiOiJhIn0");
        assert_eq!(payload_header(&t, true), "eyJzdWIiOiJhIn0=");
    }

    #[test]
    fn tokens_are_stripped_from_header_param_and_cookie() {
        let locations = vec![
            Location::bearer(),
            Location::Param("access_token".into()),
            Location::Cookie("jwt".into()),
        ];
        let headers: Vec<(String, String)> = [
            (":path", "/a?access_token=t2&keep=1"),
            ("authorization", "Bearer t1"),
            ("cookie", "jwt=t3; theme=dark"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let req = RequestInfo::from_headers(&headers);
        let found = crate::extractor::extract(&locations, &req);
        let mut m = Mutations::default();
        strip_tokens(&locations, &found, &req, &mut m);
        assert_eq!(m.remove, vec!["authorization".to_string()]);
        assert_eq!(m.path.as_deref(), Some("/a?keep=1"));
        assert_eq!(m.cookie, Some(Some("theme=dark".into())));
    }
}
