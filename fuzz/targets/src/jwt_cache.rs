//! Property: a token that verifies still verifies after a round trip through the verified-token
//! cache (the cache key is the token's SHA-256), and a correctly signed token verifies exactly
//! when its claims pass the precheck and the time checks.
//!
//! The input is the payload (and, after a 0xFF byte, the protected header) of a token this target
//! signs with HS256 under a fixed key, so the fuzzer explores claims, not signatures.

use crate::input::FIELD;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use palisade_jwt::cache::TokenCache;
use palisade_jwt::claims::{self, ClaimPolicy};
use palisade_jwt::jwks::{parse_jwks, KeyOrigin, KeySet};
use palisade_jwt::verifier;
use std::rc::Rc;

const SECRET: &[u8; 32] = b"palisade-fuzz-hs256-secret-32-by";
const NOW: u64 = 1_700_000_000;
const MAX_SIZE: usize = 16 * 1024;
const DEFAULT_HEADER: &str = r#"{"alg":"HS256","typ":"JWT","kid":"k"}"#;

fn keys() -> KeySet {
    let jwks = format!(
        r#"{{"keys":[{{"kty":"oct","kid":"k","alg":"HS256","k":"{}"}}]}}"#,
        URL_SAFE_NO_PAD.encode(SECRET)
    );
    parse_jwks(&jwks, KeyOrigin::Local).expect("the fixed key set parses")
}

/// `header.payload.signature`, signed with the fixed secret.
pub fn sign(header: &[u8], payload: &[u8]) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mac = hmac_sha256::HMAC::mac(signing_input.as_bytes(), SECRET);
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac))
}

/// Payload, then optionally 0xFF and the header.
pub fn run(data: &[u8]) {
    let mut parts = data.splitn(2, |b| *b == FIELD);
    let payload = parts.next().unwrap_or_default();
    let header = parts.next().unwrap_or(DEFAULT_HEADER.as_bytes());
    let token = sign(header, payload);
    let keys = keys();
    let policy = ClaimPolicy {
        require_expiration: false,
        ..ClaimPolicy::default()
    };

    let expected = verifier::precheck(&token, MAX_SIZE, None)
        .and_then(|u| claims::check_time(&u.time, &policy, NOW).map(|()| u));
    let verified = verifier::verify(&token, MAX_SIZE, &keys, &policy, NOW);
    let our_key = expected.as_ref().is_ok_and(|u| {
        u.jws.header.alg == palisade_jwt::alg::Alg::Hs256
            && u.jws.header.kid.as_deref().is_none_or(|k| k == "k")
    });
    let Ok(verified) = verified else {
        assert!(
            !our_key,
            "a correctly signed token whose claims pass was refused: {token}"
        );
        return;
    };
    assert!(expected.is_ok(), "verified although the precheck fails");

    let mut cache = TokenCache::new(4);
    let verified = Rc::new(verified);
    cache.insert(&token, Rc::clone(&verified), 1, policy.clock_skew, NOW);
    let cached = cache.get(&token, 1, NOW);
    let again = verifier::verify(&token, MAX_SIZE, &keys, &policy, NOW)
        .expect("a token that verified verifies again");
    // It verified at NOW, so it is not past `exp + skew`: the cache must serve it.
    let hit = cached.expect("a token verified now is served from the cache now");
    assert_eq!(*hit, *verified, "the cache gives back what was verified");
    assert_eq!(
        *hit, again,
        "the cached token is the one verification gives"
    );
    assert!(
        cache.get(&token, 2, NOW).is_none(),
        "a new key set invalidates"
    );
    // A different token (one signature byte changed) never hits the cached entry.
    let mut other = token.clone().into_bytes();
    if let Some(last) = other.last_mut() {
        *last = if *last == b'A' { b'B' } else { b'A' };
    }
    let other = String::from_utf8(other).expect("ASCII");
    cache.insert(&token, Rc::clone(&verified), 1, policy.clock_skew, NOW);
    assert!(cache.get(&other, 1, NOW).is_none());
    assert!(verifier::verify(&other, MAX_SIZE, &keys, &policy, NOW).is_err());
}
