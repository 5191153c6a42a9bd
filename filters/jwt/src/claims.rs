//! Registered-claim checks (RFC 7519 §4.1) against the host's clock, and claim lookup by path.

use crate::error::TokenError;
use serde_json::{Map, Value};

/// What a provider requires of a token's claims, besides the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPolicy {
    /// `iss` must equal this, when set.
    pub issuer: Option<String>,
    /// A token without `exp` is refused.
    pub require_expiration: bool,
    /// Seconds of tolerance for `exp`, `nbf` and `iat`.
    pub clock_skew: u64,
    /// `exp - iat` may not exceed this many seconds (both then required).
    pub max_lifetime: Option<u64>,
}

impl Default for ClaimPolicy {
    fn default() -> Self {
        Self {
            issuer: None,
            require_expiration: true,
            clock_skew: 60,
            max_lifetime: None,
        }
    }
}

/// The time claims of a token, in Unix seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeClaims {
    /// `exp`.
    pub exp: Option<u64>,
    /// `nbf`.
    pub nbf: Option<u64>,
    /// `iat`.
    pub iat: Option<u64>,
}

/// A NumericDate: a non-negative number of seconds; fractions are cut (RFC 7519 §2).
fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<u64>, TokenError> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    if let Some(n) = value.as_u64() {
        return Ok(Some(n));
    }
    match value.as_f64() {
        Some(f) if (0.0..1.8e19).contains(&f) => {
            // Cut, never rounded up: a fraction of a second cannot extend a token.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Ok(Some(f.floor() as u64))
        }
        _ => Err(TokenError::BadClaim(name)),
    }
}

/// Reads `exp`, `nbf`, `iat`, and checks that `iss`, `sub` and `aud` have their types.
pub fn read(claims: &Map<String, Value>) -> Result<TimeClaims, TokenError> {
    for name in ["iss", "sub"] {
        if claims.get(name).is_some_and(|v| !v.is_string()) {
            return Err(TokenError::BadClaim(name));
        }
    }
    match claims.get("aud") {
        None | Some(Value::String(_)) => {}
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
        Some(_) => return Err(TokenError::BadClaim("aud")),
    }
    Ok(TimeClaims {
        exp: numeric_date(claims, "exp")?,
        nbf: numeric_date(claims, "nbf")?,
        iat: numeric_date(claims, "iat")?,
    })
}

/// `iss` must be the configured issuer (when one is configured).
pub fn check_issuer(claims: &Map<String, Value>, issuer: Option<&str>) -> Result<(), TokenError> {
    match issuer {
        None => Ok(()),
        Some(expected) => match claims.get("iss").and_then(Value::as_str) {
            Some(iss) if iss == expected => Ok(()),
            _ => Err(TokenError::IssuerMismatch),
        },
    }
}

/// Expiry, not-before, issued-at and lifetime at `now` (Unix seconds).
pub fn check_time(time: &TimeClaims, policy: &ClaimPolicy, now: u64) -> Result<(), TokenError> {
    let skew = policy.clock_skew;
    match time.exp {
        None if policy.require_expiration => return Err(TokenError::NoExpiration),
        // RFC 7519 §4.1.4: the current time must be before `exp`.
        Some(exp) if now >= exp.saturating_add(skew) => return Err(TokenError::Expired),
        _ => {}
    }
    if time.nbf.is_some_and(|nbf| now.saturating_add(skew) < nbf) {
        return Err(TokenError::NotYetValid);
    }
    if time.iat.is_some_and(|iat| now.saturating_add(skew) < iat) {
        return Err(TokenError::IssuedInFuture);
    }
    if let Some(max) = policy.max_lifetime {
        match (time.iat, time.exp) {
            (Some(iat), Some(exp)) if exp.saturating_sub(iat) <= max => {}
            _ => return Err(TokenError::LifetimeTooLong),
        }
    }
    Ok(())
}

/// The token's audiences (`aud` as a string or an array of strings).
pub fn audiences(claims: &Map<String, Value>) -> Vec<&str> {
    match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// At least one audience must be allowed (no check when `allowed` is empty).
pub fn check_audience(claims: &Map<String, Value>, allowed: &[String]) -> Result<(), TokenError> {
    if allowed.is_empty()
        || audiences(claims)
            .iter()
            .any(|a| allowed.iter().any(|x| x == a))
    {
        Ok(())
    } else {
        Err(TokenError::AudienceMismatch)
    }
}

/// A claim by name or by dotted path (`realm_access.roles`). A top-level name containing dots
/// (`https://example.com/roles`) is found first as a whole.
pub fn lookup<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut current = claims.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_700_000_000;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn time(v: Value) -> TimeClaims {
        read(&map(v)).unwrap()
    }

    #[test]
    fn expiry_honours_the_clock_skew() {
        let p = ClaimPolicy::default();
        let t = time(json!({"exp": NOW}));
        assert_eq!(check_time(&t, &p, NOW - 1), Ok(()));
        assert_eq!(check_time(&t, &p, NOW + 59), Ok(()));
        assert_eq!(check_time(&t, &p, NOW + 60), Err(TokenError::Expired));
        let strict = ClaimPolicy { clock_skew: 0, ..p };
        assert_eq!(check_time(&t, &strict, NOW), Err(TokenError::Expired));
    }

    #[test]
    fn exp_is_required_by_default() {
        let t = time(json!({"iat": NOW}));
        assert_eq!(
            check_time(&t, &ClaimPolicy::default(), NOW),
            Err(TokenError::NoExpiration)
        );
        let lax = ClaimPolicy {
            require_expiration: false,
            ..ClaimPolicy::default()
        };
        assert_eq!(check_time(&t, &lax, NOW), Ok(()));
    }

    #[test]
    fn not_before_and_issued_at_in_the_future() {
        let p = ClaimPolicy::default();
        let t = time(json!({"exp": NOW + 600, "nbf": NOW + 61}));
        assert_eq!(check_time(&t, &p, NOW), Err(TokenError::NotYetValid));
        assert_eq!(check_time(&t, &p, NOW + 1), Ok(()));
        let t = time(json!({"exp": NOW + 600, "iat": NOW + 61}));
        assert_eq!(check_time(&t, &p, NOW), Err(TokenError::IssuedInFuture));
        assert_eq!(check_time(&t, &p, NOW + 1), Ok(()));
    }

    #[test]
    fn max_lifetime_needs_iat_and_exp() {
        let p = ClaimPolicy {
            max_lifetime: Some(3600),
            ..ClaimPolicy::default()
        };
        let ok = time(json!({"iat": NOW, "exp": NOW + 3600}));
        assert_eq!(check_time(&ok, &p, NOW), Ok(()));
        let long = time(json!({"iat": NOW, "exp": NOW + 3601}));
        assert_eq!(check_time(&long, &p, NOW), Err(TokenError::LifetimeTooLong));
        let no_iat = time(json!({"exp": NOW + 60}));
        assert_eq!(
            check_time(&no_iat, &p, NOW),
            Err(TokenError::LifetimeTooLong)
        );
    }

    #[test]
    fn numeric_dates_are_non_negative_numbers() {
        assert_eq!(time(json!({"exp": 1.9})).exp, Some(1));
        for bad in [
            json!({"exp": "1"}),
            json!({"exp": -1}),
            json!({"nbf": true}),
            json!({"iat": null}),
        ] {
            assert!(
                matches!(read(&map(bad.clone())), Err(TokenError::BadClaim(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn registered_string_claims_have_their_types() {
        for bad in [
            json!({"iss": 1}),
            json!({"sub": []}),
            json!({"aud": 7}),
            json!({"aud": ["a", 1]}),
        ] {
            assert!(
                matches!(read(&map(bad.clone())), Err(TokenError::BadClaim(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn issuer_and_audience() {
        let c = map(json!({"iss": "https://idp", "aud": ["a", "b"]}));
        assert_eq!(check_issuer(&c, Some("https://idp")), Ok(()));
        assert_eq!(
            check_issuer(&c, Some("https://idp/")),
            Err(TokenError::IssuerMismatch)
        );
        assert_eq!(
            check_issuer(&map(json!({})), Some("x")),
            Err(TokenError::IssuerMismatch)
        );
        assert_eq!(check_issuer(&c, None), Ok(()));
        assert_eq!(check_audience(&c, &["b".into(), "z".into()]), Ok(()));
        assert_eq!(
            check_audience(&c, &["z".into()]),
            Err(TokenError::AudienceMismatch)
        );
        assert_eq!(
            check_audience(&map(json!({})), &["z".into()]),
            Err(TokenError::AudienceMismatch)
        );
        assert_eq!(check_audience(&map(json!({})), &[]), Ok(()));
        assert_eq!(
            check_audience(&map(json!({"aud": "z"})), &["z".into()]),
            Ok(())
        );
    }

    #[test]
    fn lookup_walks_dotted_paths_and_prefers_whole_names() {
        let c = map(json!({
            "realm_access": {"roles": ["a", "b"]},
            "https://example.com/roles": ["x"],
            "a": {"b": {"c": 3}}
        }));
        assert_eq!(lookup(&c, "realm_access.roles"), Some(&json!(["a", "b"])));
        assert_eq!(lookup(&c, "https://example.com/roles"), Some(&json!(["x"])));
        assert_eq!(lookup(&c, "a.b.c"), Some(&json!(3)));
        assert_eq!(lookup(&c, "a.b.c.d"), None);
        assert_eq!(lookup(&c, "missing"), None);
    }
}
