//! Why a token was refused, and which answer and counter each reason leads to.

use std::fmt;

/// Why a token (or its absence) does not let a request through.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// No token in any of the provider's locations.
    Missing,
    /// The token is longer than `max_token_size`.
    TooLarge {
        /// Its length.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not `header.payload.signature` in base64url, or a header or payload that is not a JSON object.
    Malformed(String),
    /// `alg: none` in any spelling: an unsecured token.
    AlgNone,
    /// An `alg` this filter does not verify.
    UnsupportedAlg(String),
    /// A `crit` header parameter: an extension this filter does not implement.
    CriticalHeader,
    /// A `typ` that says the token is not a JWT.
    NotJwt(String),
    /// The signature part is empty.
    EmptySignature,
    /// The token names a `kid` no key of the set has.
    UnknownKid(String),
    /// Keys match the token's `kid` but none is for its `alg`.
    AlgMismatch(String),
    /// No signature check passed.
    BadSignature,
    /// The signature checked out but the payload is not a JWT claim set.
    NotAClaimSet(String),
    /// A registered claim has the wrong type (`exp` a string, `aud` a number, ...).
    BadClaim(&'static str),
    /// `exp` is in the past (beyond the clock skew).
    Expired,
    /// `nbf` is in the future (beyond the clock skew).
    NotYetValid,
    /// `iat` is in the future (beyond the clock skew).
    IssuedInFuture,
    /// No `exp` while `require_expiration` is on.
    NoExpiration,
    /// `exp - iat` exceeds `max_lifetime` (or one of them is missing).
    LifetimeTooLong,
    /// `iss` is not the provider's issuer.
    IssuerMismatch,
    /// No `aud` is among the allowed audiences.
    AudienceMismatch,
}

/// The counter a refusal is counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// No token.
    Missing,
    /// Malformed, unsigned, wrongly signed, unknown key.
    Invalid,
    /// Expired, not yet valid, issued in the future, too long-lived.
    Expired,
    /// Wrong issuer or audience.
    Claims,
    /// Valid token without the scopes or claims the route requires.
    Forbidden,
    /// No key set could be loaded.
    KeysUnavailable,
    /// The path is not canonical, or never safe (`path_normalization`).
    NonCanonicalPath,
}

impl TokenError {
    /// Which counter and answer it leads to.
    pub fn reason(&self) -> DenyReason {
        match self {
            TokenError::Missing => DenyReason::Missing,
            TokenError::Expired
            | TokenError::NotYetValid
            | TokenError::IssuedInFuture
            | TokenError::NoExpiration
            | TokenError::LifetimeTooLong => DenyReason::Expired,
            TokenError::IssuerMismatch | TokenError::AudienceMismatch => DenyReason::Claims,
            _ => DenyReason::Invalid,
        }
    }
}

impl fmt::Display for TokenError {
    /// The `error_description` sent to the client (no key material, no token content beyond `kid`/`alg`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Missing => write!(f, "Jwt is missing"),
            TokenError::TooLarge { size, limit } => {
                write!(f, "Jwt is too large ({size} bytes, limit {limit})")
            }
            TokenError::Malformed(why) => write!(f, "Jwt is malformed: {why}"),
            TokenError::AlgNone => write!(f, "Jwt is not signed (alg none)"),
            TokenError::UnsupportedAlg(alg) => write!(f, "Jwt alg `{alg}` is not supported"),
            TokenError::CriticalHeader => {
                write!(
                    f,
                    "Jwt has a crit header extension this verifier does not implement"
                )
            }
            TokenError::NotJwt(typ) => write!(f, "Jwt typ `{typ}` is not a JWT"),
            TokenError::EmptySignature => write!(f, "Jwt signature is empty"),
            TokenError::UnknownKid(kid) => write!(f, "Jwks has no key with kid `{kid}`"),
            TokenError::AlgMismatch(alg) => write!(f, "Jwks has no key for alg `{alg}`"),
            TokenError::BadSignature => write!(f, "Jwt verification fails"),
            TokenError::NotAClaimSet(why) => write!(f, "Jwt payload is not a claim set: {why}"),
            TokenError::BadClaim(name) => write!(f, "Jwt claim `{name}` has the wrong type"),
            TokenError::Expired => write!(f, "Jwt is expired"),
            TokenError::NotYetValid => write!(f, "Jwt not yet valid"),
            TokenError::IssuedInFuture => write!(f, "Jwt is issued in the future"),
            TokenError::NoExpiration => write!(f, "Jwt has no exp claim"),
            TokenError::LifetimeTooLong => write!(f, "Jwt lifetime exceeds max_lifetime"),
            TokenError::IssuerMismatch => write!(f, "Jwt issuer is not configured"),
            TokenError::AudienceMismatch => write!(f, "Audiences in Jwt are not allowed"),
        }
    }
}

impl std::error::Error for TokenError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_group_errors_for_counters() {
        assert_eq!(TokenError::Missing.reason(), DenyReason::Missing);
        assert_eq!(TokenError::Expired.reason(), DenyReason::Expired);
        assert_eq!(TokenError::AudienceMismatch.reason(), DenyReason::Claims);
        assert_eq!(TokenError::BadSignature.reason(), DenyReason::Invalid);
        assert_eq!(TokenError::AlgNone.reason(), DenyReason::Invalid);
    }

    #[test]
    fn descriptions_never_carry_quotes_or_newlines_of_their_own() {
        let all = [
            TokenError::Missing,
            TokenError::AlgNone,
            TokenError::BadSignature,
            TokenError::Expired,
            TokenError::AudienceMismatch,
        ];
        for e in all {
            let text = e.to_string();
            assert!(!text.contains('"') && !text.contains('\n'), "{text}");
        }
    }
}
