//! Fetch tests on the mock host: one fetcher per lease, results shared, failures back off.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;
use crate::keystore::{Availability, Keys};
use crate::remote::Backoff;
use crate::test_keys::{jwk_of_es256, jwks};
use palisade_core::testing::MockHost;

const S: u64 = 1_000_000_000;

fn spec(discovery: bool) -> RemoteSpec {
    RemoteSpec {
        cluster: "idp".into(),
        target: if discovery {
            Target::discovery("http://idp.example").unwrap()
        } else {
            Target::parse("http://idp.example/jwks").unwrap()
        },
        discovery,
        issuer: Some("http://idp.example".into()),
        timeout: Duration::from_secs(2),
        cache_duration: Duration::from_secs(60),
        backoff: Backoff {
            num_retries: 2,
            base: Duration::from_secs(1),
            max: Duration::from_secs(10),
            failed_refetch: Duration::from_secs(30),
        },
        kid_refetch_interval: Duration::from_secs(5),
    }
}

fn remotes(discovery: bool) -> Vec<Option<RemoteKeys>> {
    vec![Some(RemoteKeys::new(
        Keys::new("fp", "idp"),
        spec(discovery),
    ))]
}

fn respond(host: &MockHost, status: &str, body: &str) -> usize {
    host.set_headers(HeaderMap::HttpCallResponse, &[(":status", status)]);
    host.set_body(Body::HttpCallResponse, body.as_bytes());
    body.len()
}

fn path_of(call: &palisade_core::testing::DispatchedCall) -> String {
    call.headers
        .iter()
        .find(|(n, _)| n == ":path")
        .unwrap()
        .1
        .clone()
}

#[test]
fn one_worker_fetches_and_every_worker_gets_the_keys() {
    let host = MockHost::new();
    let mut a = Fetcher::new("a".into());
    let mut b = Fetcher::new("b".into());
    let mut ra = remotes(false);
    let mut rb = remotes(false);
    assert_eq!(a.start(&host, 0, ra[0].as_mut().unwrap(), S), None);
    assert_eq!(host.calls().len(), 1);
    assert_eq!(path_of(&host.calls()[0]), "/jwks");
    assert_eq!(host.calls()[0].cluster, "idp");
    rb[0].as_mut().unwrap().sync(&host);
    assert!(rb[0].as_ref().unwrap().busy(S));
    assert_eq!(b.start(&host, 0, rb[0].as_mut().unwrap(), S), None);
    assert_eq!(host.calls().len(), 1, "b lost the lease: no second call");

    let (jwk, _) = jwk_of_es256("k1");
    let size = respond(&host, "200", &jwks(&[jwk]));
    let token = host.calls()[0].token;
    assert_eq!(
        a.on_response(&host, token, size, &mut ra, 2 * S),
        Some((0, Fetched::Keys))
    );
    assert_eq!(
        a.on_response(&host, token, size, &mut ra, 2 * S),
        None,
        "a late duplicate is ignored"
    );
    let rb0 = rb[0].as_mut().unwrap();
    assert!(rb0.sync(&host));
    assert!(!rb0.busy(2 * S), "lease released");
    assert!(matches!(
        rb0.availability(2 * S),
        Availability::Ready { version: 1, .. }
    ));
    assert!(!rb0.due(2 * S, false));
    assert!(rb0.due(62 * S, false), "refresh after cache_duration");
}

#[test]
fn failures_back_off_and_keep_the_old_keys() {
    let host = MockHost::new();
    let mut f = Fetcher::new("a".into());
    let mut r = remotes(false);
    let (jwk, _) = jwk_of_es256("k1");
    f.start(&host, 0, r[0].as_mut().unwrap(), S);
    let size = respond(&host, "200", &jwks(&[jwk]));
    f.on_response(&host, 1, size, &mut r, S);

    let mut now = 100 * S;
    let mut waits = Vec::new();
    for (i, (status, body)) in [
        ("500", "oops"),
        ("200", r#"{"keys":[]}"#),
        ("200", "not json"),
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(f.start(&host, 0, r[0].as_mut().unwrap(), now), None);
        let size = respond(&host, status, body);
        let token = host.calls()[i + 1].token;
        let (_, outcome) = f.on_response(&host, token, size, &mut r, now).unwrap();
        assert!(matches!(outcome, Fetched::Failed(_)), "{outcome:?}");
        let record = r[0].as_ref().unwrap().record.clone().unwrap();
        waits.push((record.next_due - now) / S);
        assert!(
            matches!(
                r[0].as_ref().unwrap().availability(now),
                Availability::Ready { version: 1, .. }
            ),
            "old keys kept"
        );
        now = record.next_due;
    }
    assert_eq!(
        waits,
        vec![1, 2, 30],
        "exponential for num_retries, then failed_refetch_duration"
    );
}

#[test]
fn a_missing_cluster_fails_at_once() {
    let host = MockHost::new().failing_calls();
    let mut f = Fetcher::new("a".into());
    let mut r = remotes(false);
    let outcome = f.start(&host, 0, r[0].as_mut().unwrap(), S);
    assert!(matches!(outcome, Some(Fetched::Failed(e)) if e.contains("idp")));
    assert!(matches!(
        r[0].as_ref().unwrap().availability(S),
        Availability::Unavailable(_)
    ));
    assert!(!r[0].as_ref().unwrap().busy(S), "lease released");
}

#[test]
fn a_timed_out_call_has_no_status() {
    let host = MockHost::new();
    let mut f = Fetcher::new("a".into());
    let mut r = remotes(false);
    f.start(&host, 0, r[0].as_mut().unwrap(), S);
    host.set_headers(HeaderMap::HttpCallResponse, &[]);
    let (_, outcome) = f.on_response(&host, 1, 0, &mut r, 3 * S).unwrap();
    assert!(matches!(outcome, Fetched::Failed(e) if e.contains("no response")));
}

#[test]
fn oidc_discovery_then_jwks() {
    let host = MockHost::new();
    let mut f = Fetcher::new("a".into());
    let mut r = remotes(true);
    f.start(&host, 0, r[0].as_mut().unwrap(), S);
    assert_eq!(
        path_of(&host.calls()[0]),
        "/.well-known/openid-configuration"
    );
    let doc = r#"{"issuer":"http://idp.example","jwks_uri":"http://idp.example/certs?v=2"}"#;
    let size = respond(&host, "200", doc);
    assert_eq!(
        f.on_response(&host, 1, size, &mut r, S),
        Some((0, Fetched::Continued))
    );
    assert_eq!(path_of(&host.calls()[1]), "/certs?v=2");
    assert!(f.fetching(0));
    let (jwk, _) = jwk_of_es256("k1");
    let size = respond(&host, "200", &jwks(&[jwk]));
    assert_eq!(
        f.on_response(&host, 2, size, &mut r, S),
        Some((0, Fetched::Keys))
    );
}

#[test]
fn discovery_must_name_the_configured_issuer() {
    let host = MockHost::new();
    let mut f = Fetcher::new("a".into());
    let mut r = remotes(true);
    f.start(&host, 0, r[0].as_mut().unwrap(), S);
    let doc = r#"{"issuer":"http://evil.example","jwks_uri":"http://evil.example/certs"}"#;
    let size = respond(&host, "200", doc);
    let (_, outcome) = f.on_response(&host, 1, size, &mut r, S).unwrap();
    assert!(matches!(outcome, Fetched::Failed(e) if e.contains("evil")));
    assert_eq!(
        host.calls().len(),
        1,
        "jwks_uri of a foreign issuer is never called"
    );
}

#[test]
fn an_expired_lease_of_a_dead_worker_is_taken_over() {
    let host = MockHost::new();
    let mut dead = Fetcher::new("dead".into());
    let mut live = Fetcher::new("live".into());
    let mut r = remotes(false);
    dead.start(&host, 0, r[0].as_mut().unwrap(), S);
    // Held for 2 × timeout + 1s = 5s.
    assert_eq!(live.start(&host, 0, r[0].as_mut().unwrap(), 5 * S), None);
    assert_eq!(host.calls().len(), 1);
    live.start(&host, 0, r[0].as_mut().unwrap(), 6 * S);
    assert_eq!(host.calls().len(), 2);
}
