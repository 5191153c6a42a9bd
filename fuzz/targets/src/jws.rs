//! JWS compact parsing and the claims precheck: everything a token goes through before a key is
//! touched, then the claim checks, at clocks and policies chosen to reach the edges (saturating
//! arithmetic at `u64::MAX`).

use palisade_jwt::claims::{self, ClaimPolicy};
use palisade_jwt::verifier;

const NOWS: [u64; 4] = [0, 1_700_000_000, u64::MAX - 1, u64::MAX];

/// The whole input is the token.
pub fn run(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    for max in [token.len(), token.len().saturating_sub(1), 8192] {
        let _ = palisade_jwt::token::parse(token, max);
    }
    let Ok(unverified) = verifier::precheck(token, 16 * 1024, None) else {
        return;
    };
    // What the signature covers is exactly `header.payload` of the token as sent.
    let jws = &unverified.jws;
    assert!(token.starts_with(jws.signing_input));
    assert_eq!(
        token.as_bytes().get(jws.signing_input.len()),
        Some(&b'.'),
        "signing input ends before the last dot"
    );
    assert!(jws.signing_input.ends_with(jws.payload_b64));
    assert!(!jws.signature.is_empty());

    let c = &unverified.claims;
    for issuer in [None, Some(""), Some("https://idp.example")] {
        let _ = claims::check_issuer(c, issuer);
    }
    for policy in policies() {
        for now in NOWS {
            if claims::check_time(&unverified.time, &policy, now).is_ok() {
                if let Some(exp) = unverified.time.exp {
                    assert!(
                        now < exp.saturating_add(policy.clock_skew),
                        "expired token accepted"
                    );
                }
            }
        }
    }
    let auds = claims::audiences(c);
    let allowed: Vec<String> = auds.iter().take(1).map(|a| (*a).to_string()).collect();
    if !allowed.is_empty() {
        assert!(claims::check_audience(c, &allowed).is_ok());
    }
    let _ = claims::check_audience(c, &["api".to_string()]);
    for key in c.keys() {
        assert!(claims::lookup(c, key).is_some());
        let _ = claims::lookup(c, &format!("{key}.{key}"));
    }
    let _ = claims::lookup(c, token);
}

fn policies() -> [ClaimPolicy; 3] {
    [
        ClaimPolicy::default(),
        ClaimPolicy {
            issuer: None,
            require_expiration: false,
            clock_skew: 0,
            max_lifetime: Some(3600),
        },
        ClaimPolicy {
            issuer: Some("https://idp.example".into()),
            require_expiration: true,
            clock_skew: u64::MAX,
            max_lifetime: Some(u64::MAX),
        },
    ]
}
