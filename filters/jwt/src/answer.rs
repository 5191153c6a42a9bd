//! The answers: RFC 6750 `WWW-Authenticate` challenges with RFC 9457 problem bodies.

use crate::authz::Refusal;
use crate::error::TokenError;
use palisade_core::headers::quote;
use palisade_core::{Denial, Problem};
use serde_json::Value;

/// Seconds a client is told to wait when keys are unavailable.
pub const KEYS_RETRY_AFTER: u64 = 5;

fn challenge(realm: &str, params: &[(&str, &str)]) -> String {
    let mut out = format!("Bearer realm={}", quote(realm));
    for (name, value) in params {
        out.push_str(&format!(", {name}={}", quote(value)));
    }
    out
}

/// No token where the route needs one: 401 with a bare challenge (RFC 6750 §3.1).
pub fn missing(realm: &str) -> Denial {
    Denial::new(
        Problem::new(401, "jwt-missing", "Unauthorized")
            .with_detail(TokenError::Missing.to_string()),
    )
    .with_header("www-authenticate", challenge(realm, &[]))
}

/// A token that is not valid: 401 `invalid_token`; several tokens: 400 `invalid_request`.
pub fn invalid(realm: &str, error: &TokenError) -> Denial {
    if *error == TokenError::Missing {
        return missing(realm);
    }
    if let TokenError::MultipleTokens(_) = error {
        // RFC 6750 §3.1: more than one method of sending a token is a malformed request.
        let description = error.to_string();
        return Denial::new(
            Problem::new(400, "jwt-multiple-tokens", "Bad Request")
                .with_detail(description.clone()),
        )
        .with_header(
            "www-authenticate",
            challenge(
                realm,
                &[
                    ("error", "invalid_request"),
                    ("error_description", &description),
                ],
            ),
        );
    }
    let description = error.to_string();
    Denial::new(Problem::new(401, "jwt-invalid", "Unauthorized").with_detail(description.clone()))
        .with_header(
            "www-authenticate",
            challenge(
                realm,
                &[
                    ("error", "invalid_token"),
                    ("error_description", &description),
                ],
            ),
        )
}

/// A valid token without what the route requires: 403 `insufficient_scope` (RFC 6750 §3.1).
pub fn forbidden(realm: &str, refusal: &Refusal, required_scopes: &[String]) -> Denial {
    let (slug, description) = match refusal {
        Refusal::NoToken => return missing(realm),
        Refusal::InsufficientScope(missing) => (
            "jwt-insufficient-scope",
            format!("Jwt lacks scope {}", missing.join(" ")),
        ),
        Refusal::ClaimMismatch(claim) => (
            "jwt-claim-mismatch",
            format!("Jwt claim `{claim}` does not meet the route's condition"),
        ),
    };
    let scope = required_scopes.join(" ");
    let mut params = vec![
        ("error", "insufficient_scope"),
        ("error_description", description.as_str()),
    ];
    if !scope.is_empty() {
        params.push(("scope", scope.as_str()));
    }
    let mut problem = Problem::new(403, slug, "Forbidden").with_detail(description.clone());
    if let Refusal::InsufficientScope(missing) = refusal {
        problem = problem.with("missing_scopes", Value::from(missing.clone()));
    }
    Denial::new(problem).with_header("www-authenticate", challenge(realm, &params))
}

/// No key set could be loaded: 503 with `Retry-After`, or 401 if so configured. Not a bad token.
pub fn keys_unavailable(realm: &str, status: u16, why: &str) -> Denial {
    let detail = format!("signing keys are unavailable: {why}");
    if status == 503 {
        return Denial::new(
            Problem::new(503, "jwt-keys-unavailable", "Service Unavailable").with_detail(detail),
        )
        .with_header("retry-after", KEYS_RETRY_AFTER.to_string());
    }
    Denial::new(
        Problem::new(401, "jwt-keys-unavailable", "Unauthorized").with_detail(detail.clone()),
    )
    .with_header(
        "www-authenticate",
        challenge(
            realm,
            &[("error", "invalid_token"), ("error_description", &detail)],
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(d: &'a Denial, name: &str) -> Option<&'a str> {
        d.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn missing_is_a_bare_challenge() {
        let d = missing("api");
        assert_eq!(d.status, 401);
        assert_eq!(
            header(&d, "www-authenticate"),
            Some(r#"Bearer realm="api""#)
        );
        assert_eq!(
            d.problem.type_uri,
            "https://palisade.dev/problems/jwt-missing"
        );
    }

    #[test]
    fn invalid_token_carries_error_and_description() {
        let d = invalid("api", &TokenError::Expired);
        assert_eq!(d.status, 401);
        assert_eq!(
            header(&d, "www-authenticate"),
            Some(
                r#"Bearer realm="api", error="invalid_token", error_description="Jwt is expired""#
            )
        );
        assert_eq!(d.problem.detail.as_deref(), Some("Jwt is expired"));
    }

    #[test]
    fn descriptions_are_quoted_safely() {
        let d = invalid("a\"pi", &TokenError::UnknownKid("k\"\r\nx".into()));
        let h = header(&d, "www-authenticate").unwrap();
        assert!(!h.contains('\r') && !h.contains('\n'), "{h}");
        assert!(h.starts_with(r#"Bearer realm="a\"pi""#), "{h}");
    }

    #[test]
    fn insufficient_scope_is_403_with_the_required_scopes() {
        let d = forbidden(
            "api",
            &Refusal::InsufficientScope(vec!["write".into()]),
            &["read".into(), "write".into()],
        );
        assert_eq!(d.status, 403);
        assert_eq!(
            header(&d, "www-authenticate"),
            Some(
                r#"Bearer realm="api", error="insufficient_scope", error_description="Jwt lacks scope write", scope="read write""#
            )
        );
        assert_eq!(
            d.problem.extensions["missing_scopes"],
            serde_json::json!(["write"])
        );
        assert_eq!(forbidden("api", &Refusal::NoToken, &[]).status, 401);
    }

    #[test]
    fn keys_unavailable_is_its_own_answer() {
        let d = keys_unavailable("api", 503, "fetch failed");
        assert_eq!(d.status, 503);
        assert_eq!(header(&d, "retry-after"), Some("5"));
        assert_eq!(
            d.problem.type_uri,
            "https://palisade.dev/problems/jwt-keys-unavailable"
        );
        let d = keys_unavailable("api", 401, "fetch failed");
        assert_eq!(d.status, 401);
        assert!(header(&d, "www-authenticate")
            .unwrap()
            .contains("invalid_token"));
    }
}
