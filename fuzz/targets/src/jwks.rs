//! JWKS documents into a key set (local and remote origins), OIDC discovery documents into a
//! `jwks_uri`, and a shared-data key record into a worker's keys; then every parsed key checks a
//! signature, so a key the parser accepted but the crypto cannot use is found too.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use palisade_core::host::Host;
use palisade_core::testing::MockHost;
use palisade_jwt::alg::{Alg, HMAC_ALGS};
use palisade_jwt::jwks::{parse_jwks, KeyOrigin, KeySet};
use palisade_jwt::keystore::{Availability, KeyRecord, Keys, RemoteKeys};
use palisade_jwt::remote::{Backoff, RemoteSpec, Target};
use palisade_jwt::{token, verifier};
use std::time::Duration;

const ALGS: [&str; 13] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
    "HS256", "HS384", "HS512",
];

/// The whole input is the document.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Signatures are checked once, with the local set (a superset of the remote one).
    if let Ok(set) = parse_jwks(text, KeyOrigin::Local) {
        check_signatures(&set);
    }
    if let Ok(set) = parse_jwks(text, KeyOrigin::Remote) {
        assert!(
            set.keys
                .iter()
                .all(|k| !HMAC_ALGS.contains(&k.verifier.alg())),
            "a fetched key set yielded a symmetric key"
        );
    }
    discovery(text);
    shared_record(data, text);
}

/// A token of every algorithm, with signatures of the lengths the algorithms use, against `set`.
fn check_signatures(set: &KeySet) {
    let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"fuzz"}"#);
    for alg in ALGS {
        for kid in [None, set.keys.first().and_then(|k| k.kid.as_deref())] {
            let header = match kid {
                Some(kid) => serde_json::json!({"alg": alg, "kid": kid}),
                None => serde_json::json!({"alg": alg}),
            };
            let header = URL_SAFE_NO_PAD.encode(header.to_string());
            // Lengths of HMAC/Ed25519/ES256, ES384, ES512 and RSA-2048 signatures, and one too short.
            for len in [1usize, 64, 96, 132, 256] {
                let signature = URL_SAFE_NO_PAD.encode(vec![0x5a; len]);
                let compact = format!("{header}.{payload}.{signature}");
                let jws = token::parse(&compact, 16 * 1024).expect("a well-formed token");
                assert!(
                    verifier::check_signature(&jws, set).is_err(),
                    "a made-up signature verified ({alg}, {len} bytes)"
                );
            }
        }
    }
    assert_eq!(Alg::from_name("none"), None);
}

/// The document as an OIDC discovery document, with and without an expected issuer.
fn discovery(text: &str) {
    for issuer in [None, Some("https://idp.example")] {
        if let Ok(target) = palisade_jwt::fuzzing::discovery_jwks_uri(text, issuer) {
            assert!(target.scheme == "http" || target.scheme == "https");
            assert!(!target.authority.is_empty());
            assert!(target.path.starts_with('/'));
        }
    }
    if let Ok(target) = Target::parse(text) {
        assert!(target.path.starts_with('/'));
        assert!(!target.path.contains(['#', ' ', '\r', '\n']));
    }
    let _ = Target::discovery(text);
}

fn spec() -> RemoteSpec {
    RemoteSpec {
        cluster: "idp".into(),
        target: Target {
            scheme: "https".into(),
            authority: "idp".into(),
            path: "/jwks".into(),
        },
        discovery: false,
        issuer: None,
        timeout: Duration::from_secs(1),
        cache_duration: Duration::from_secs(60),
        backoff: Backoff {
            num_retries: 1,
            base: Duration::from_secs(1),
            max: Duration::from_secs(2),
            failed_refetch: Duration::from_secs(1),
        },
        kid_refetch_interval: Duration::from_secs(5),
    }
}

/// The input as a worker reads it from shared data: raw bytes as the record (another worker's
/// write, possibly of another version), and the text as the record's JWKS.
fn shared_record(data: &[u8], text: &str) {
    let host = MockHost::new();
    let mut remote = RemoteKeys::new(Keys::new("fuzz", "p"), spec());
    host.set_shared_data(&remote.names.record, data, None)
        .expect("set");
    host.set_shared_data(&remote.names.lease, data, None)
        .expect("set");
    remote.sync(&host);
    for now in [0, u64::MAX] {
        let _ = remote.availability(now);
        let _ = remote.due(now, true);
    }
    let record = KeyRecord {
        version: 1,
        attempts: 1,
        jwks: Some(text.to_string()),
        ..KeyRecord::default()
    };
    host.set_shared_data(
        &remote.names.record,
        &serde_json::to_vec(&record).expect("serialise"),
        None,
    )
    .expect("set");
    let mut remote = RemoteKeys::new(Keys::new("fuzz", "p"), spec());
    let changed = remote.sync(&host);
    let parsed = parse_jwks(text, KeyOrigin::Remote).is_ok();
    assert_eq!(
        changed, parsed,
        "the worker's keys change exactly when the JWKS parses"
    );
    if let Availability::Ready { keys, .. } = remote.availability(1) {
        check_signatures(keys);
    }
}
