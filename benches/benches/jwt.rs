//! The jwt filter's token check per algorithm (parse, claims, key lookup by `kid`, signature,
//! time claims), the library's own check beside it, and a worker's whole decision with the
//! verified-token cache off and hit. The keys sit in one JWKS, as an identity provider
//! publishes them.
// Benchmark set-up: a broken fixture should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use jwt_simple::prelude::*;
use palisade_benches::{api_request_headers, RS256_TEST_KEY_PEM};
use palisade_core::driver::{Flow, Pipeline};
use palisade_core::host::{HeaderMap, HostError};
use palisade_core::testing::MockHost;
use palisade_jwt::claims::ClaimPolicy;
use palisade_jwt::compile::compile;
use palisade_jwt::hostsig::{VerifySignatureArguments, VerifySignatureResult, VERIFY_SIGNATURE};
use palisade_jwt::jwks::{parse_jwks, KeyOrigin};
use palisade_jwt::request::Verdict;
use palisade_jwt::verifier::verify;
use palisade_jwt::worker::{RequestState, StateCell, Worker};
use prost::Message;
use serde_json::{json, Value};
use std::cell::Cell;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hint::black_box;
use std::rc::Rc;

const ISSUER: &str = "https://issuer.bench.palisade";

fn claims() -> JWTClaims<NoCustomClaims> {
    Claims::create(Duration::from_hours(1))
        .with_issuer(ISSUER)
        .with_audience("palisade-bench")
        .with_subject("bench-user")
}

fn jwk(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// One token per algorithm, and the JWKS holding every public key.
fn tokens_and_jwks() -> (Vec<(&'static str, String)>, String) {
    let es256 = ES256KeyPair::generate().with_key_id("es256");
    let es384 = ES384KeyPair::generate().with_key_id("es384");
    let rs256 = RS256KeyPair::from_pem(RS256_TEST_KEY_PEM)
        .unwrap()
        .with_key_id("rs256");
    let ps256 = PS256KeyPair::from_pem(RS256_TEST_KEY_PEM)
        .unwrap()
        .with_key_id("ps256");
    let ed = Ed25519KeyPair::generate().with_key_id("eddsa");
    let hs_secret = [7u8; 32];
    let hs256 = HS256Key::from_bytes(&hs_secret).with_key_id("hs256");
    let tokens = vec![
        ("ES256", es256.sign(claims()).unwrap()),
        ("ES384", es384.sign(claims()).unwrap()),
        ("RS256", rs256.sign(claims()).unwrap()),
        ("PS256", ps256.sign(claims()).unwrap()),
        ("EdDSA", ed.sign(claims()).unwrap()),
        ("HS256", hs256.authenticate(claims()).unwrap()),
    ];
    let keys = json!({"keys": [
        jwk(&es256.public_key().to_jwk()),
        jwk(&es384.public_key().to_jwk()),
        jwk(&rs256.public_key().to_jwk()),
        jwk(&ps256.public_key().to_jwk()),
        jwk(&ed.public_key().to_jwk()),
        {"kty": "oct", "alg": "HS256", "kid": "hs256", "k": URL_SAFE_NO_PAD.encode(hs_secret)},
    ]});
    (tokens, keys.to_string())
}

fn verification(c: &mut Criterion) {
    let (tokens, jwks) = tokens_and_jwks();
    let keys = parse_jwks(&jwks, KeyOrigin::Local).unwrap();
    let policy = ClaimPolicy {
        issuer: Some(ISSUER.into()),
        ..ClaimPolicy::default()
    };
    let now = Clock::now_since_epoch().as_secs();
    for (alg, token) in &tokens {
        // A token that does not verify would measure the error path.
        verify(token, 8192, &keys, &policy, now).unwrap();
        c.bench_function(&format!("jwt/verify {alg}"), |b| {
            b.iter(|| verify(black_box(token), 8192, &keys, &policy, now).is_ok());
        });
    }
}

/// jwt-simple's own check of the same ES256 and HS256 tokens: what the filter's signature step
/// calls, so the rest of `verify` is the difference.
fn library_baseline(c: &mut Criterion) {
    let es256 = ES256KeyPair::generate();
    let es_token = es256.sign(claims()).unwrap();
    let es_public = es256.public_key();
    c.bench_function("jwt/jwt-simple verify_token ES256 (library alone)", |b| {
        b.iter(|| {
            es_public
                .verify_token::<NoCustomClaims>(black_box(&es_token), None)
                .is_ok()
        });
    });
    let hs256 = HS256Key::from_bytes(&[7u8; 32]);
    let hs_token = hs256.authenticate(claims()).unwrap();
    c.bench_function("jwt/jwt-simple verify_token HS256 (library alone)", |b| {
        b.iter(|| {
            hs256
                .verify_token::<NoCustomClaims>(black_box(&hs_token), None)
                .is_ok()
        });
    });
}

/// The config `cargo xtask bench` runs: one provider, keys inline, `sub` forwarded.
fn filter_config(jwks: &str, cache_size: usize) -> String {
    json!({
        "providers": {"bench": {
            "issuer": ISSUER,
            "audiences": ["palisade-bench"],
            "local_jwks": {"inline_string": jwks},
            "claim_to_headers": [{"header_name": "x-jwt-claim-sub", "claim_name": "sub"}],
            "jwt_cache_config": {"jwt_cache_size": cache_size}
        }},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "bench"}}]
    })
    .to_string()
}

/// A worker's whole decision on a request with a bearer token: extraction, rule, cache lookup,
/// check (on a miss), claim headers. With the cache on, every request after the first is a hit.
fn decision(c: &mut Criterion) {
    let (tokens, jwks) = tokens_and_jwks();
    let now = Clock::now_since_epoch().as_secs();
    for (alg, token) in tokens
        .iter()
        .filter(|(a, _)| ["ES256", "RS256"].contains(a))
    {
        for (cache, size) in [("cache off", 0), ("cache hit", 100)] {
            let host = MockHost::new().at_seconds(now);
            let compiled = Rc::new(compile(filter_config(&jwks, size).as_bytes()).unwrap());
            let mut worker = Worker::new(&host, compiled);
            let headers = api_request_headers(Some(token));
            let state: StateCell = Rc::new(Cell::new(RequestState::Init));
            let verdict = worker.decide(&host, 1, &headers, &state, None);
            assert!(matches!(verdict, Verdict::Allow(_)), "{alg}: {verdict:?}");
            c.bench_function(&format!("jwt/request decision {alg}, {cache}"), |b| {
                b.iter(|| worker.decide(&host, 1, black_box(&headers), &state, None));
            });
        }
    }
}

/// Bounded work: a request carrying many copies of a token whose signature does not verify
/// (the attacker's cheapest way to buy signature checks) against the normal one-token request.
/// Each copy used to cost one signature check; now the request is refused before any
/// (`multiple_tokens: reject`) or only the first copy is checked (`first`).
fn many_tokens(c: &mut Criterion) {
    const COPIES: usize = 64;
    let (tokens, jwks) = tokens_and_jwks();
    let now = Clock::now_since_epoch().as_secs();
    let Some((_, token)) = tokens.iter().find(|(a, _)| *a == "ES256") else {
        return;
    };
    // Same header and payload, another signature: parses, then fails the signature check.
    let (signed, _) = token.rsplit_once('.').unwrap();
    let forged = format!("{signed}.{}", URL_SAFE_NO_PAD.encode([7u8; 64]));
    let query: Vec<String> = (0..COPIES)
        .map(|_| format!("access_token={forged}"))
        .collect();
    for (mode, policy) in [("reject", "reject"), ("first", "first")] {
        let config = json!({
            "providers": {"bench": {
                "issuer": ISSUER,
                "audiences": ["palisade-bench"],
                "local_jwks": {"inline_string": jwks},
                "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}],
                "from_params": ["access_token"],
                "multiple_tokens": policy,
                "jwt_cache_config": {"jwt_cache_size": 0}
            }},
            "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "bench"}}]
        })
        .to_string();
        let host = MockHost::new().at_seconds(now);
        let mut worker = Worker::new(&host, Rc::new(compile(config.as_bytes()).unwrap()));
        let state: StateCell = Rc::new(Cell::new(RequestState::Init));
        let normal = api_request_headers(Some(token));
        let verdict = worker.decide(&host, 1, &normal, &state, None);
        assert!(matches!(verdict, Verdict::Allow(_)), "{verdict:?}");
        let mut worst = api_request_headers(None);
        if let Some((_, path)) = worst.iter_mut().find(|(n, _)| n == ":path") {
            *path = format!("/api/orders?{}", query.join("&"));
        }
        let verdict = worker.decide(&host, 1, &worst, &state, None);
        assert!(matches!(verdict, Verdict::Deny(..)), "{verdict:?}");
        c.bench_function(&format!("jwt/bounded {mode}: normal, 1 valid token"), |b| {
            b.iter(|| worker.decide(&host, 1, black_box(&normal), &state, None));
        });
        c.bench_function(
            &format!("jwt/bounded {mode}: worst, {COPIES} forged tokens"),
            |b| b.iter(|| worker.decide(&host, 1, black_box(&worst), &state, None)),
        );
    }
}

/// Envoy's `verify_signature` as a cost model, not a verifier: it decodes the arguments and
/// answers as the host would, trusting the first signature it sees for a text (the probe's good
/// signature comes before its tampered one, the bench token's before any other). What the
/// filter does around the host's check is measured; the check itself is not (Envoy's BoringSSL
/// takes its own ~25 µs for RS256 and ~40 µs for ES256 there).
fn trusting_host(now: u64) -> MockHost {
    let seen: RefCell<HashMap<Vec<u8>, Vec<u8>>> = RefCell::default();
    MockHost::new().at_seconds(now).with_foreign_function(
        VERIFY_SIGNATURE,
        move |bytes: &[u8]| {
            let args =
                VerifySignatureArguments::decode(bytes).map_err(|_| HostError::BadArgument)?;
            let mut seen = seen.borrow_mut();
            let first = seen
                .entry(args.text)
                .or_insert_with(|| args.signature.clone());
            let result = *first == args.signature;
            Ok(VerifySignatureResult {
                result,
                error: if result {
                    String::new()
                } else {
                    "Failed to verify digest.".into()
                },
            }
            .encode_to_vec())
        },
    )
}

/// The single jwt module's whole request on the host backend (`verify_signature` answered by
/// [`trusting_host`]): header phase through the core's pipeline driver (header copy, canonical
/// view, token, cache or check, claim header, identity), then the log phase. The headers are
/// put back before each request (not timed): the filter removes the token header.
fn host_backend(c: &mut Criterion) {
    let (tokens, jwks) = tokens_and_jwks();
    let now = Clock::now_since_epoch().as_secs();
    for (alg, token) in tokens
        .iter()
        .filter(|(a, _)| ["ES256", "RS256"].contains(a))
    {
        for (cache, size) in [("cache off", 0), ("cache hit", 100)] {
            let host = trusting_host(now);
            let module = Rc::new(
                palisade_jwt::stage::module(&host, filter_config(&jwks, size).as_bytes()).unwrap(),
            );
            let headers = api_request_headers(Some(token));
            let pairs: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let run = |context_id: u32| {
                let mut pipeline = Pipeline::new(Rc::clone(&module), context_id);
                let flow = pipeline.on_request_headers(&host, true);
                pipeline.on_log(&host);
                flow
            };
            host.set_headers(HeaderMap::Request, &pairs);
            assert_eq!(run(2), Flow::Continue, "{alg}: {:?}", host.sent());
            assert!(host.sent().is_empty(), "{alg}: {:?}", host.sent());
            assert_eq!(host.metric("palisade_jwt_signature_host"), Some(1), "{alg}");
            c.bench_function(&format!("jwt/host backend request {alg}, {cache}"), |b| {
                b.iter_batched(
                    || host.set_headers(HeaderMap::Request, &pairs),
                    |()| run(3),
                    BatchSize::PerIteration,
                );
            });
        }
    }
}

/// The steps of an uncached check that need no key, one by one: split and decode, the whole
/// precheck (header, claims, time claims, issuer).
fn steps(c: &mut Criterion) {
    let (tokens, _) = tokens_and_jwks();
    for (alg, token) in tokens
        .iter()
        .filter(|(a, _)| ["ES256", "RS256"].contains(a))
    {
        c.bench_function(&format!("jwt/step token::parse {alg}"), |b| {
            b.iter(|| palisade_jwt::token::parse(black_box(token), 8192).is_ok());
        });
        c.bench_function(&format!("jwt/step precheck {alg}"), |b| {
            b.iter(|| {
                palisade_jwt::verifier::precheck(black_box(token), 8192, Some(ISSUER)).is_ok()
            });
        });
    }
}

criterion_group!(
    benches,
    verification,
    library_baseline,
    decision,
    host_backend,
    steps,
    many_tokens
);
criterion_main!(benches);
