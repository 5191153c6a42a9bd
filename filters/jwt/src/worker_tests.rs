//! Paused requests, shared fetches, rotation and timeouts on the mock host with virtual time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use super::*;
use crate::compile::compile;
use crate::test_keys::*;
use jwt_simple::prelude::ES256KeyPair;
use palisade_core::host::{Body, HeaderMap};
use palisade_core::testing::MockHost;
use serde_json::{json, Value};
use std::time::Duration;

fn config() -> Value {
    json!({
        "providers": {"idp": {
            "issuer": "https://idp",
            "remote_jwks": {
                "http_uri": {"uri": "http://idp.example/jwks", "cluster": "idp", "timeout": "1s"},
                "cache_duration": "60s",
                "unknown_kid_refetch_interval": "5s",
                "retry_policy": {"num_retries": 5, "retry_back_off": {"base_interval": "200ms", "max_interval": "1s"}}
            },
            "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"}]
        }},
        "rules": [{"requires": {"provider_name": "idp"}}],
        "keys_wait_timeout": "6s"
    })
}

fn worker(host: &MockHost) -> Worker {
    Worker::new(
        host,
        Rc::new(compile(config().to_string().as_bytes()).unwrap()),
    )
}

fn request(token: &str) -> Vec<(String, String)> {
    vec![
        (":method".into(), "GET".into()),
        (":path".into(), "/api".into()),
        (":authority".into(), "example.com".into()),
        ("authorization".into(), format!("Bearer {token}")),
    ]
}

fn token(pair: &ES256KeyPair, kid: &str) -> String {
    es256_token(
        pair,
        &json!({"alg":"ES256","kid":kid}),
        &claims("https://idp", "api"),
    )
}

fn cell() -> StateCell {
    Rc::new(Cell::new(RequestState::Init))
}

/// Answers the last dispatched call.
fn answer(host: &MockHost, w: &mut Worker, status: &str, body: &str) -> Vec<Due> {
    host.set_headers(HeaderMap::HttpCallResponse, &[(":status", status)]);
    host.set_body(Body::HttpCallResponse, body.as_bytes());
    let token = host.calls().last().unwrap().token;
    w.on_call_response(host, token, body.len())
}

fn is_allow(v: &Verdict) -> bool {
    matches!(v, Verdict::Allow(_))
}

fn status(v: &Verdict) -> u16 {
    match v {
        Verdict::Deny(d, _) => d.status,
        Verdict::Allow(_) | Verdict::AllowUnverified(_) => 200,
        Verdict::Wait { .. } => 0,
    }
}

#[test]
fn a_request_before_the_first_key_set_waits_then_passes() {
    let host = MockHost::new().at_seconds(NOW);
    let (jwk, pair) = jwk_of_es256("k1");
    let mut a = worker(&host);
    let mut b = worker(&host);
    assert_ne!(a.id(), b.id());
    let state = cell();
    let v = a.decide(&host, 7, &request(&token(&pair, "k1")), &state, None);
    assert!(matches!(v, Verdict::Wait { .. }));
    assert_eq!(state.get(), RequestState::WaitingForKeys);
    assert_eq!(host.metric("palisade_jwt_paused"), Some(1));
    assert!(a.tick(&host).is_empty());
    assert!(b.tick(&host).is_empty());
    assert_eq!(host.calls().len(), 1, "one worker fetches");

    let due = answer(&host, &mut a, "200", &jwks(&[jwk]));
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].context_id, due[0].resume.may_wait), (7, true));
    let v = a.decide(
        &host,
        7,
        &request(&token(&pair, "k1")),
        &due[0].state,
        Some(due[0].resume),
    );
    assert!(is_allow(&v), "{v:?}");
    assert_eq!(host.metric("palisade_jwt_jwks_fetch_success"), Some(1));

    // The other worker reads the published keys on its next tick, without fetching.
    b.tick(&host);
    let v = b.decide(&host, 8, &request(&token(&pair, "k1")), &cell(), None);
    assert!(is_allow(&v), "{v:?}");
    assert_eq!(host.calls().len(), 1);
}

#[test]
fn keys_server_down_at_start_then_up() {
    let host = MockHost::new().at_seconds(NOW);
    let (jwk, pair) = jwk_of_es256("k1");
    let mut w = worker(&host);
    let t = token(&pair, "k1");
    w.decide(&host, 1, &request(&t), &cell(), None);
    w.tick(&host);
    let due = answer(&host, &mut w, "503", "down");
    assert_eq!(due.len(), 1, "a failed fetch ends the wait at once");
    let v = w.decide(&host, 1, &request(&t), &due[0].state, Some(due[0].resume));
    assert_eq!(status(&v), 401);
    assert_eq!(host.metric("palisade_jwt_denied_keys_unavailable"), Some(1));
    assert_eq!(host.metric("palisade_jwt_jwks_fetch_failed"), Some(1));
    // Before the retry is due, requests are answered at once.
    let v = w.decide(&host, 2, &request(&t), &cell(), None);
    assert_eq!(status(&v), 401);
    host.advance(Duration::from_millis(200));
    w.tick(&host);
    assert_eq!(host.calls().len(), 2, "retried after the backoff");
    answer(&host, &mut w, "200", &jwks(&[jwk]));
    let v = w.decide(&host, 3, &request(&t), &cell(), None);
    assert!(is_allow(&v), "{v:?}");
}

#[test]
fn rotation_waits_for_one_refetch_instead_of_refusing() {
    let host = MockHost::new().at_seconds(NOW);
    let (jwk1, pair1) = jwk_of_es256("k1");
    let (jwk2, pair2) = jwk_of_es256("k2");
    let mut w = worker(&host);
    w.tick(&host);
    answer(&host, &mut w, "200", &jwks(std::slice::from_ref(&jwk1)));
    host.advance(Duration::from_secs(3));
    let old = token(&pair1, "k1");
    assert!(is_allow(&w.decide(&host, 1, &request(&old), &cell(), None)));

    // The issuer rotated three seconds after our fetch: new-kid tokens wait for the next refetch
    // the rate limit allows (5s after the last), instead of being refused meanwhile.
    let new = token(&pair2, "k2");
    let v1 = w.decide(&host, 2, &request(&new), &cell(), None);
    assert_eq!(
        v1,
        Verdict::Wait {
            providers: vec![0],
            refetch: vec![0]
        }
    );
    w.tick(&host);
    assert_eq!(host.calls().len(), 1, "rate-limited: no refetch yet");
    host.advance(Duration::from_secs(1));
    let v2 = w.decide(&host, 3, &request(&new), &cell(), None);
    assert!(
        matches!(v2, Verdict::Wait { .. }),
        "the second waits for the same refetch"
    );
    assert!(w.tick(&host).is_empty());
    host.advance(Duration::from_secs(1));
    assert!(w.tick(&host).is_empty());
    assert_eq!(host.calls().len(), 2, "one refetch, once allowed");
    w.tick(&host);
    assert_eq!(host.calls().len(), 2, "no second refetch");
    let due = answer(&host, &mut w, "200", &jwks(&[jwk1, jwk2]));
    assert_eq!(due.len(), 2);
    for d in due {
        assert!(d.resume.fetched && d.resume.may_wait);
        let v = w.decide(
            &host,
            d.context_id,
            &request(&new),
            &d.state,
            Some(d.resume),
        );
        assert!(is_allow(&v), "{v:?}");
    }
    assert_eq!(host.metric("palisade_jwt_denied_invalid"), Some(0));

    // A made-up kid: it waits for the next allowed refetch, then is refused for good.
    let (_, stranger) = jwk_of_es256("k9");
    let made_up = request(&token(&stranger, "k9"));
    host.advance(Duration::from_secs(3));
    assert!(matches!(
        w.decide(&host, 4, &made_up, &cell(), None),
        Verdict::Wait { .. }
    ));
    host.advance(Duration::from_secs(2));
    assert!(w.tick(&host).is_empty());
    assert_eq!(host.calls().len(), 3);
    let due = answer(&host, &mut w, "200", &jwks(&[jwk_of_es256("k2").0]));
    let v = w.decide(&host, 4, &made_up, &due[0].state, Some(due[0].resume));
    assert_eq!(
        status(&v),
        401,
        "a fetch finished during the wait: the kid is unknown for good"
    );
    assert_eq!(w.waiting(), 0);
}

#[test]
fn an_unanswered_wait_times_out_and_is_answered() {
    let host = MockHost::new().at_seconds(NOW);
    let (_, pair) = jwk_of_es256("k1");
    let mut w = worker(&host);
    w.decide(&host, 1, &request(&token(&pair, "k1")), &cell(), None);
    w.tick(&host);
    host.advance(Duration::from_millis(5900));
    assert!(w.tick(&host).is_empty());
    host.advance(Duration::from_millis(100));
    let due = w.tick(&host);
    assert_eq!(due.len(), 1);
    assert!(!due[0].resume.may_wait);
    let v = w.decide(
        &host,
        1,
        &request(&token(&pair, "k1")),
        &due[0].state,
        Some(due[0].resume),
    );
    assert_eq!(status(&v), 401);
    assert_eq!(w.waiting(), 0);
}

#[test]
fn a_request_that_ends_while_waiting_is_forgotten() {
    let host = MockHost::new().at_seconds(NOW);
    let (_, pair) = jwk_of_es256("k1");
    let mut w = worker(&host);
    w.decide(&host, 1, &request(&token(&pair, "k1")), &cell(), None);
    assert_eq!(w.waiting(), 1);
    w.forget(1);
    assert_eq!(w.waiting(), 0);
    host.advance(Duration::from_secs(10));
    assert!(w.tick(&host).is_empty());
}

#[test]
fn keys_are_refreshed_in_the_background_and_kept_when_refresh_fails() {
    let host = MockHost::new().at_seconds(NOW);
    let (jwk, pair) = jwk_of_es256("k1");
    let mut w = worker(&host);
    w.tick(&host);
    answer(&host, &mut w, "200", &jwks(&[jwk]));
    host.advance(Duration::from_secs(59));
    w.tick(&host);
    assert_eq!(host.calls().len(), 1);
    host.advance(Duration::from_secs(1));
    w.tick(&host);
    assert_eq!(
        host.calls().len(),
        2,
        "refresh after cache_duration, no request needed"
    );
    answer(&host, &mut w, "500", "");
    let v = w.decide(&host, 1, &request(&token(&pair, "k1")), &cell(), None);
    assert!(is_allow(&v), "stale keys still serve: {v:?}");
}

#[test]
fn waiting_requests_are_bounded() {
    let host = MockHost::new().at_seconds(NOW);
    let (_, pair) = jwk_of_es256("k1");
    let mut w = worker(&host);
    let t = request(&token(&pair, "k1"));
    for id in 0..u32::try_from(MAX_WAITING).unwrap() {
        assert!(matches!(
            w.decide(&host, id, &t, &cell(), None),
            Verdict::Wait { .. }
        ));
    }
    let v = w.decide(&host, 99_999, &t, &cell(), None);
    assert_eq!(status(&v), 401, "no room to wait: answered at once");
    assert_eq!(w.waiting(), MAX_WAITING);
}

#[test]
fn a_non_canonical_path_is_refused_before_any_rule() {
    let host = MockHost::new();
    let mut w = worker(&host);
    let mut h = request("t");
    h[1].1 = "//api".into();
    let v = w.decide(&host, 1, &h, &cell(), None);
    assert_eq!(status(&v), 400);
    assert!(matches!(v, Verdict::Deny(_, DenyReason::NonCanonicalPath)));
    assert_eq!(
        host.metric("palisade_jwt_denied_non_canonical_path"),
        Some(1)
    );
    assert!(
        host.calls().is_empty(),
        "no key fetch for a refused request"
    );
}
