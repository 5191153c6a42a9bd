//! The compact JWS form, read strictly, before any key is touched (RFC 7515 §7.1).
//!
//! Nothing read here is trusted: `alg` and `kid` only choose among configured keys, and the
//! key-carrying headers (`jwk`, `jku`, `x5u`, `x5c`) are never used at all.

use crate::alg::Alg;
use crate::error::TokenError;
use crate::json::parse_object;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

/// Header parameters that would let the token choose its own key; always ignored.
pub const KEY_CARRYING_HEADERS: [&str; 4] = ["jwk", "jku", "x5u", "x5c"];

/// The protected header, as far as verification needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The algorithm the token claims.
    pub alg: Alg,
    /// The key id it names, if any.
    pub kid: Option<String>,
    /// Its `typ`, if any (already known to be a JWT type).
    pub typ: Option<String>,
    /// It has a `salt` member, which jwt-simple reads before the signature (such a token stays
    /// with the Rust path, see `backend`).
    pub salt: bool,
    /// The `salt` string as sent (`null` reads as absent, as in jwt-simple), which the Rust
    /// path decodes as jwt-simple does.
    pub salt_b64: Option<String>,
}

/// A compact JWS split and decoded.
#[derive(Debug, Clone)]
pub struct Jws<'a> {
    /// The whole token.
    pub compact: &'a str,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a str,
    /// The payload part as sent (base64url).
    pub payload_b64: &'a str,
    /// The protected header.
    pub header: Header,
    /// The decoded payload.
    pub payload: Vec<u8>,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

fn malformed(why: impl Into<String>) -> TokenError {
    TokenError::Malformed(why.into())
}

/// Decodes unpadded, canonical base64url (RFC 7515 §2); anything else is malformed.
pub fn decode_b64url(part: &str, what: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| malformed(format!("{what} is not base64url: {e}")))
}

/// Splits and decodes a compact JWS; checks every header rule that needs no key.
pub fn parse(token: &str, max_size: usize) -> Result<Jws<'_>, TokenError> {
    if token.len() > max_size {
        return Err(TokenError::TooLarge {
            size: token.len(),
            limit: max_size,
        });
    }
    let mut parts = token.splitn(4, '.');
    let (header_b64, payload_b64, signature_b64) =
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(h), Some(p), Some(s), None) => (h, p, s),
            _ => {
                let count = token.split('.').count();
                return Err(malformed(if count == 5 {
                    "5 parts: JWE is not supported".to_string()
                } else {
                    format!("{count} parts, expected header.payload.signature")
                }));
            }
        };
    if header_b64.is_empty() {
        return Err(malformed("empty header"));
    }
    let header = parse_header(&decode_b64url(header_b64, "header")?)?;
    if signature_b64.is_empty() {
        return Err(TokenError::EmptySignature);
    }
    let signature = decode_b64url(signature_b64, "signature")?;
    let payload = decode_b64url(payload_b64, "payload")?;
    let signing_input = token
        .get(..header_b64.len() + 1 + payload_b64.len())
        .ok_or_else(|| malformed("cannot split signing input"))?;
    Ok(Jws {
        compact: token,
        signing_input,
        payload_b64,
        header,
        payload,
        signature,
    })
}

/// Registered header parameters of the wrong JSON type are refused here, before any backend:
/// jwt-simple (the Rust backend) refuses them while reading the header, the host backend never
/// reads them, and both must decide alike. `null` reads as absent, as in jwt-simple.
fn check_registered_types(header: &Map<String, Value>) -> Result<(), TokenError> {
    if header
        .get("jwk")
        .is_some_and(|v| !v.is_null() && !v.is_string())
    {
        return Err(malformed(
            "header `jwk` (a key inside the token) is not supported",
        ));
    }
    for name in ["cty", "jku", "x5u", "x5t", "x5t#S256", "salt"] {
        if header
            .get(name)
            .is_some_and(|v| !v.is_null() && !v.is_string())
        {
            return Err(malformed(format!("header `{name}` is not a string")));
        }
    }
    let strings = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
    if header
        .get("x5c")
        .is_some_and(|v| !v.is_null() && !strings(v))
    {
        return Err(malformed("header `x5c` is not an array of strings"));
    }
    Ok(())
}

/// Reads the protected header: `alg` decides nothing by itself, it is checked against the key later.
pub fn parse_header(bytes: &[u8]) -> Result<Header, TokenError> {
    let header: Map<String, Value> =
        parse_object(bytes).map_err(|e| malformed(format!("header: {e}")))?;
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => alg,
        Some(_) => return Err(malformed("header `alg` is not a string")),
        None => return Err(malformed("header has no `alg`")),
    };
    if alg.eq_ignore_ascii_case("none") {
        return Err(TokenError::AlgNone);
    }
    let alg = Alg::from_name(alg).ok_or_else(|| TokenError::UnsupportedAlg(alg.clone()))?;
    if header.contains_key("crit") {
        return Err(TokenError::CriticalHeader);
    }
    if let Some(b64) = header.get("b64") {
        if b64 != &Value::Bool(true) {
            return Err(malformed(
                "header `b64` other than true (RFC 7797) is not supported",
            ));
        }
    }
    let typ = match header.get("typ") {
        None => None,
        Some(Value::String(typ)) => {
            // RFC 7519 §5.1 and RFC 8725 §3.11: `JWT` or a `+jwt` media type; anything else is another kind of JWS.
            let upper = typ.to_ascii_uppercase();
            if upper != "JWT" && !upper.ends_with("+JWT") {
                return Err(TokenError::NotJwt(typ.clone()));
            }
            Some(typ.clone())
        }
        Some(_) => return Err(malformed("header `typ` is not a string")),
    };
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(malformed("header `kid` is not a string")),
    };
    check_registered_types(&header)?;
    if KEY_CARRYING_HEADERS.iter().any(|h| header.contains_key(*h)) {
        log::debug!(
            "jwt: token header carries a key reference; ignored, only configured keys are used"
        );
    }
    let salt = header.contains_key("salt");
    let salt_b64 = header
        .get("salt")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(Header {
        alg,
        kid,
        typ,
        salt,
        salt_b64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str, payload: &str, sig: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), sig)
    }

    #[test]
    fn a_well_formed_token_splits() {
        // header {"alg":"ES256","kid":"k1"}, payload {"sub":"a"}
        let t = token(r#"{"alg":"ES256","kid":"k1"}"#, r#"{"sub":"a"}"#, "AAAA");
        let jws = parse(&t, 8192).unwrap();
        assert_eq!(jws.header.alg, Alg::Es256);
        assert_eq!(jws.header.kid.as_deref(), Some("k1"));
        assert_eq!(jws.payload, br#"{"sub":"a"}"#);
        assert_eq!(jws.signature, vec![0, 0, 0]);
        assert_eq!(jws.signing_input, t.rsplit_once('.').unwrap().0);
    }

    #[test]
    fn alg_none_is_refused_in_any_spelling() {
        for none in ["none", "None", "NONE", "nOnE"] {
            let t = token(&format!(r#"{{"alg":"{none}"}}"#), r#"{"sub":"a"}"#, "");
            assert_eq!(parse(&t, 8192).unwrap_err(), TokenError::AlgNone, "{none}");
            let t = token(&format!(r#"{{"alg":"{none}"}}"#), r#"{"sub":"a"}"#, "AAAA");
            assert_eq!(parse(&t, 8192).unwrap_err(), TokenError::AlgNone, "{none}");
        }
    }

    #[test]
    fn empty_signature_is_refused() {
        let t = token(r#"{"alg":"HS256"}"#, r#"{"sub":"a"}"#, "");
        assert_eq!(parse(&t, 8192).unwrap_err(), TokenError::EmptySignature);
    }

    #[test]
    fn shape_errors_are_malformed() {
        for bad in ["", "a", "a.b", "a.b.c.d", "....", ".e30.AAAA"] {
            assert!(
                matches!(parse(bad, 8192), Err(TokenError::Malformed(_))),
                "{bad}"
            );
        }
        let jwe = "a.b.c.d.e";
        assert!(matches!(parse(jwe, 8192), Err(TokenError::Malformed(m)) if m.contains("JWE")));
    }

    #[test]
    fn padding_and_non_base64url_are_refused() {
        let h = b64(r#"{"alg":"HS256"}"#);
        let p = b64(r#"{"sub":"a"}"#);
        for sig in ["AAAA==", "AA+/", "AA AA"] {
            let t = format!("{h}.{p}.{sig}");
            assert!(
                matches!(parse(&t, 8192), Err(TokenError::Malformed(_))),
                "{sig}"
            );
        }
        // Non-canonical trailing bits ("AB" decodes like "AA" in lax decoders).
        let t = format!("{h}.{p}.AB");
        assert!(matches!(parse(&t, 8192), Err(TokenError::Malformed(_))));
    }

    #[test]
    fn size_limit_is_checked_first() {
        let t = "x".repeat(9000);
        assert_eq!(
            parse(&t, 8192).unwrap_err(),
            TokenError::TooLarge {
                size: 9000,
                limit: 8192
            }
        );
    }

    #[test]
    fn header_rules() {
        let p = r#"{"sub":"a"}"#;
        type Expect = fn(&TokenError) -> bool;
        let cases: [(&str, Expect); 8] = [
            (r#"{"alg":"HS256","crit":["exp"]}"#, |e| {
                *e == TokenError::CriticalHeader
            }),
            (r#"{"alg":"RS1"}"#, |e| {
                matches!(e, TokenError::UnsupportedAlg(_))
            }),
            (r#"{"alg":"rs256"}"#, |e| {
                matches!(e, TokenError::UnsupportedAlg(_))
            }),
            (r#"{"kid":"a"}"#, |e| matches!(e, TokenError::Malformed(_))),
            (r#"{"alg":256}"#, |e| matches!(e, TokenError::Malformed(_))),
            (r#"{"alg":"HS256","kid":7}"#, |e| {
                matches!(e, TokenError::Malformed(_))
            }),
            (r#"{"alg":"HS256","alg":"none"}"#, |e| {
                matches!(e, TokenError::Malformed(_))
            }),
            (r#"{"alg":"HS256","typ":"JOSE"}"#, |e| {
                matches!(e, TokenError::NotJwt(_))
            }),
        ];
        for (header, expected) in cases {
            let err = parse(&token(header, p, "AAAA"), 8192).unwrap_err();
            assert!(expected(&err), "{header}: {err:?}");
        }
        for typ in ["JWT", "jwt", "at+jwt", "application/at+JWT"] {
            let h = format!(r#"{{"alg":"HS256","typ":"{typ}"}}"#);
            assert!(parse(&token(&h, p, "AAAA"), 8192).is_ok(), "{typ}");
        }
    }

    #[test]
    fn key_carrying_headers_parse_but_carry_nothing() {
        let h = r#"{"alg":"RS256","jku":"https://evil.example/jwks","x5u":"https://evil.example/x","x5c":["MIIB"]}"#;
        let t = token(h, r#"{"sub":"a"}"#, "AAAA");
        let jws = parse(&t, 8192).unwrap();
        assert_eq!(
            jws.header,
            Header {
                alg: Alg::Rs256,
                kid: None,
                typ: None,
                salt: false,
                salt_b64: None,
            }
        );
    }

    #[test]
    fn registered_headers_of_the_wrong_type_are_malformed() {
        // Found by the jwt_cache fuzz target: jwt-simple refused `"x5c":"..."` while reading the
        // header, the host backend never read it; now both refuse it here.
        let p = r#"{"sub":"a"}"#;
        for h in [
            r#"{"alg":"HS256","x5c":"MIIB"}"#,
            r#"{"alg":"HS256","x5c":[1]}"#,
            r#"{"alg":"RS256","jwk":{"kty":"oct","k":"AAAA"}}"#,
            r#"{"alg":"RS256","cty":1}"#,
            r#"{"alg":"ES256","x5t#S256":{}}"#,
            r#"{"alg":"ES256","salt":[]}"#,
        ] {
            let err = parse(&token(h, p, "AAAA"), 8192).unwrap_err();
            assert!(matches!(err, TokenError::Malformed(_)), "{h}: {err:?}");
        }
        let h = r#"{"alg":"HS256","x5c":null,"cty":"JWT"}"#;
        assert!(parse(&token(h, p, "AAAA"), 8192).is_ok());
    }
}
