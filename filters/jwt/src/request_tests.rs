//! The request flow with virtual time: rules, requirements, answers, forwarding, waiting, cache.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use super::*;
use crate::compile::compile;
use crate::jwks::{parse_jwks, KeyOrigin, KeySet};
use crate::test_keys::*;
use jwt_simple::prelude::ES256KeyPair;
use serde_json::{json, Value};

const NOW_NS: u64 = NOW * 1_000_000_000;

enum Avail {
    Ready(KeySet, u64, bool),
    Loading,
    Unavailable(&'static str),
}

/// Local providers use their configured keys; remote ones what the test says.
struct View<'a> {
    compiled: &'a Compiled,
    remote: Vec<Avail>,
}

impl KeyView for View<'_> {
    fn availability(&self, provider: usize, _now: u64) -> Availability<'_> {
        if let Some(KeySource::Local(set)) = self.compiled.providers.get(provider).map(|p| &p.keys)
        {
            return Availability::Ready {
                keys: set,
                version: 0,
                can_refetch: false,
            };
        }
        match self.remote.get(provider) {
            Some(Avail::Ready(set, v, r)) => Availability::Ready {
                keys: set,
                version: *v,
                can_refetch: *r,
            },
            Some(Avail::Unavailable(m)) => Availability::Unavailable((*m).to_string()),
            _ => Availability::Loading,
        }
    }
}

struct Fixture {
    compiled: Compiled,
    caches: Vec<TokenCache>,
    pair: ES256KeyPair,
    jwk: Value,
}

/// Provider `a` (local keys, kid "a1", issuer https://a, audience api, claims forwarded) and
/// provider `b` (remote, issuer https://b). Rules: /public open, /optional allow_missing,
/// /admin needs scope admin + tenant acme, /either a or b, the rest needs a.
fn fixture(extra: impl FnOnce(&mut Value)) -> Fixture {
    let (jwk, pair) = jwk_of_es256("a1");
    let mut config = json!({
        "providers": {
            "a": {
                "issuer": "https://a",
                "audiences": ["api"],
                "local_jwks": {"inline_string": jwks(std::slice::from_ref(&jwk))},
                "claim_to_headers": [
                    {"header_name": "x-sub", "claim_name": "sub"},
                    {"header_name": "x-groups", "claim_name": "groups", "separator": ";"}
                ],
                "forward_payload_header": "x-jwt-payload"
            },
            "b": {
                "issuer": "https://b",
                "remote_jwks": {"http_uri": {"uri": "http://b/jwks", "cluster": "b"}},
                "claim_to_headers": [{"header_name": "x-b-sub", "claim_name": "sub"}]
            }
        },
        "rules": [
            {"match": {"prefix": "/public"}},
            {"match": {"prefix": "/optional"}, "requires": {"allow_missing": {}}},
            {"match": {"prefix": "/admin"}, "requires": {"provider_name": "a"},
             "authorization": {"scopes": ["admin"], "claims": [{"claim": "tenant", "equals": "acme"}]}},
            {"match": {"prefix": "/either"}, "requires": {"requires_any": {"requirements": [
                {"provider_name": "a"}, {"provider_name": "b"}]}}},
            {"match": {"prefix": "/b"}, "requires": {"provider_name": "b"}},
            {"requires": {"provider_name": "a"}}
        ],
        "realm": "api"
    });
    extra(&mut config);
    let compiled = compile(config.to_string().as_bytes()).unwrap();
    let caches = compiled
        .providers
        .iter()
        .map(|p| TokenCache::new(p.cache_size))
        .collect();
    Fixture {
        compiled,
        caches,
        pair,
        jwk,
    }
}

fn headers(path: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut h = vec![
        (":method".to_string(), "GET".to_string()),
        (":path".to_string(), path.to_string()),
        (":authority".to_string(), "example.com".to_string()),
    ];
    h.extend(
        extra
            .iter()
            .map(|(n, v)| ((*n).to_string(), (*v).to_string())),
    );
    h
}

impl Fixture {
    fn run_with(
        &mut self,
        path: &str,
        extra: &[(&str, &str)],
        remote: Vec<Avail>,
        may_wait: bool,
    ) -> (Verdict, Stats) {
        let h = headers(path, extra);
        let view = View {
            compiled: &self.compiled,
            remote,
        };
        let mut stats = Stats::default();
        let info = RequestInfo::read(&h, &self.compiled.paths).unwrap();
        let req = Request {
            info: &info,
            now_ns: NOW_NS,
            may_wait,
            kid_wait: may_wait,
        };
        (
            authenticate(&self.compiled, &view, &mut self.caches, req, &mut stats),
            stats,
        )
    }

    fn run(&mut self, path: &str, extra: &[(&str, &str)]) -> Verdict {
        self.run_with(path, extra, vec![], true).0
    }

    /// A token of provider a: payload {"iss":"https://a","aud":"api","sub":"user-1","iat":NOW,"exp":NOW+3600,...extra}.
    fn token_a(&self, extra: Value) -> String {
        let mut payload = claims("https://a", "api");
        for (k, v) in extra.as_object().unwrap() {
            payload[k] = v.clone();
        }
        es256_token(&self.pair, &json!({"alg":"ES256","kid":"a1"}), &payload)
    }
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

fn denial(v: Verdict) -> (Denial, DenyReason) {
    match v {
        Verdict::Deny(d, r) => (d, r),
        other => panic!("expected a denial, got {other:?}"),
    }
}

fn challenge(d: &Denial) -> &str {
    &d.headers
        .iter()
        .find(|(n, _)| n == "www-authenticate")
        .unwrap()
        .1
}

fn allowed(v: Verdict) -> Mutations {
    match v {
        Verdict::Allow(m) => m,
        other => panic!("expected allow, got {other:?}"),
    }
}

#[test]
fn routes_without_requirements_pass_untouched() {
    let mut f = fixture(|_| {});
    assert_eq!(
        f.run("/public/x", &[]),
        Verdict::Allow(Mutations::default())
    );
    assert_eq!(
        f.run("/optional", &[]),
        Verdict::Allow(Mutations::default())
    );
}

#[test]
fn a_valid_token_goes_upstream_as_claims_not_as_itself() {
    let mut f = fixture(|_| {});
    let t = f.token_a(json!({"groups": ["dev", "ops"]}));
    let m = allowed(f.run("/api", &[("authorization", &bearer(&t))]));
    let payload_b64 = t.split('.').nth(1).unwrap().to_string();
    assert_eq!(
        m.set,
        vec![
            ("x-sub".to_string(), "user-1".to_string()),
            ("x-groups".to_string(), "dev;ops".to_string()),
            ("x-jwt-payload".to_string(), payload_b64),
        ]
    );
    assert_eq!(
        m.remove,
        vec!["authorization".to_string()],
        "forward: false strips the token"
    );
}

#[test]
fn forward_true_keeps_the_token() {
    let mut f = fixture(|c| c["providers"]["a"]["forward"] = json!(true));
    let t = f.token_a(json!({}));
    let m = allowed(f.run("/api", &[("authorization", &bearer(&t))]));
    assert!(m.remove.is_empty());
}

#[test]
fn missing_invalid_expired_and_wrong_audience_answers() {
    let mut f = fixture(|_| {});
    let (d, reason) = denial(f.run("/api", &[]));
    assert_eq!((d.status, reason), (401, DenyReason::Missing));
    assert_eq!(challenge(&d), r#"Bearer realm="api""#);

    let t = f.token_a(json!({}));
    let forged = format!("{}x", &t[..t.len() - 1]);
    let v = f.run("/api", &[("authorization", &bearer(&forged))]);
    let (d, reason) = denial(v);
    assert_eq!((d.status, reason), (401, DenyReason::Invalid));
    assert!(
        challenge(&d).contains(r#"error="invalid_token""#),
        "{}",
        challenge(&d)
    );

    let t = f.token_a(json!({"exp": NOW - 61}));
    let (d, reason) = denial(f.run("/api", &[("authorization", &bearer(&t))]));
    assert_eq!((d.status, reason), (401, DenyReason::Expired));
    assert!(challenge(&d).contains("Jwt is expired"));

    let t = f.token_a(json!({"aud": "other"}));
    let (d, reason) = denial(f.run("/api", &[("authorization", &bearer(&t))]));
    assert_eq!((d.status, reason), (401, DenyReason::Claims));

    let (d, _) = denial(f.run("/api", &[("authorization", "Bearer not-a-jwt")]));
    assert_eq!(d.status, 401);
}

#[test]
fn default_realm_is_the_request_url() {
    let mut f = fixture(|c| {
        c.as_object_mut().unwrap().remove("realm");
    });
    let (d, _) = denial(f.run("/api/x?secret=1", &[]));
    assert_eq!(challenge(&d), r#"Bearer realm="http://example.com/api/x""#);
}

#[test]
fn authorization_scopes_and_claims() {
    let mut f = fixture(|_| {});
    let ok = f.token_a(json!({"scope": "read admin", "tenant": "acme"}));
    allowed(f.run("/admin", &[("authorization", &bearer(&ok))]));
    let no_scope = f.token_a(json!({"scope": "read", "tenant": "acme"}));
    let (d, reason) = denial(f.run("/admin", &[("authorization", &bearer(&no_scope))]));
    assert_eq!((d.status, reason), (403, DenyReason::Forbidden));
    assert!(challenge(&d).contains(r#"error="insufficient_scope""#));
    let wrong_tenant = f.token_a(json!({"scope": "admin", "tenant": "other"}));
    let (d, _) = denial(f.run("/admin", &[("authorization", &bearer(&wrong_tenant))]));
    assert_eq!(d.status, 403);
}

#[test]
fn allow_missing_passes_without_token_but_not_with_a_bad_one() {
    let mut f = fixture(|_| {});
    let t = f.token_a(json!({}));
    let m = allowed(f.run("/optional", &[("authorization", &bearer(&t))]));
    assert_eq!(m.set[0], ("x-sub".to_string(), "user-1".to_string()));
    let bad = f.token_a(json!({"exp": NOW - 3600}));
    // b sees a foreign issuer without needing its (still loading) keys; a sees an expired token.
    let (d, reason) = denial(f.run("/optional", &[("authorization", &bearer(&bad))]));
    assert_eq!((d.status, reason), (401, DenyReason::Expired));
    let foreign = es256_token(
        &f.pair,
        &json!({"alg":"ES256","kid":"a1"}),
        &claims("https://nobody", "api"),
    );
    let (d, _) = denial(f.run("/optional", &[("authorization", &bearer(&foreign))]));
    assert!(challenge(&d).contains("Jwt issuer is not configured"));
}

#[test]
fn a_token_is_routed_to_its_issuer() {
    let mut f = fixture(|_| {});
    // Provider b (index 0: providers are in name order "a","b" -> a=0, b=1).
    let b_keys = parse_jwks(&jwks(&[f.jwk.clone()]), KeyOrigin::Remote).unwrap();
    let remote = || vec![Avail::Loading, Avail::Ready(b_keys.clone(), 1, false)];
    let tb = es256_token(
        &f.pair,
        &json!({"alg":"ES256","kid":"a1"}),
        &claims("https://b", "x"),
    );
    let (v, _) = f.run_with(
        "/either",
        &[("authorization", &bearer(&tb))],
        remote(),
        true,
    );
    let m = allowed(v);
    assert_eq!(m.set, vec![("x-b-sub".to_string(), "user-1".to_string())]);
    // The same token on a route for a only: a sees a foreign issuer.
    let (v, _) = f.run_with("/api", &[("authorization", &bearer(&tb))], remote(), true);
    let (d, _) = denial(v);
    assert!(challenge(&d).contains("Jwt issuer is not configured"));
}

#[test]
fn waiting_for_keys_then_unavailable() {
    let mut f = fixture(|_| {});
    let tb = es256_token(
        &f.pair,
        &json!({"alg":"ES256","kid":"a1"}),
        &claims("https://b", "x"),
    );
    let auth = bearer(&tb);
    let (v, _) = f.run_with("/b", &[("authorization", &auth)], vec![], true);
    assert_eq!(
        v,
        Verdict::Wait {
            providers: vec![1],
            refetch: vec![]
        }
    );
    let (v, _) = f.run_with("/b", &[("authorization", &auth)], vec![], false);
    let (d, reason) = denial(v);
    assert_eq!((d.status, reason), (401, DenyReason::KeysUnavailable));
    let down = || vec![Avail::Loading, Avail::Unavailable("HTTP 500")];
    let (v, _) = f.run_with("/b", &[("authorization", &auth)], down(), true);
    assert!(denial(v)
        .0
        .problem
        .detail
        .as_deref()
        .unwrap()
        .contains("HTTP 500"));
    // No token needs no keys.
    let (v, _) = f.run_with("/b", &[], down(), true);
    assert_eq!(denial(v).1, DenyReason::Missing);

    let mut f = fixture(|c| c["keys_unavailable"] = json!({"status": 503}));
    let (v, _) = f.run_with("/b", &[("authorization", &auth)], down(), true);
    assert_eq!(denial(v).0.status, 503);

    let mut f =
        fixture(|c| c["keys_unavailable"] = json!({"action": "allow", "header": "x-unverified"}));
    let (v, _) = f.run_with("/b", &[("authorization", &auth)], down(), true);
    let Verdict::AllowUnverified(m) = v else {
        panic!("{v:?}")
    };
    assert_eq!(
        m.set,
        vec![("x-unverified".to_string(), "keys-unavailable".to_string())]
    );
    assert_eq!(m.remove, vec!["authorization".to_string()]);
}

#[test]
fn an_unknown_kid_waits_for_a_refetch_once() {
    let mut f = fixture(|_| {});
    let old_keys = parse_jwks(&jwks(&[f.jwk.clone()]), KeyOrigin::Remote).unwrap();
    let (_, rotated) = jwk_of_es256("b2");
    let tb = es256_token(
        &rotated,
        &json!({"alg":"ES256","kid":"b2"}),
        &claims("https://b", "x"),
    );
    let auth = bearer(&tb);
    let remote = |can: bool| vec![Avail::Loading, Avail::Ready(old_keys.clone(), 1, can)];
    let (v, _) = f.run_with("/b", &[("authorization", &auth)], remote(true), true);
    assert_eq!(
        v,
        Verdict::Wait {
            providers: vec![1],
            refetch: vec![1]
        }
    );
    let (v, _) = f.run_with("/b", &[("authorization", &auth)], remote(false), true);
    assert_eq!(
        denial(v).0.status,
        401,
        "refetch rate-limited: answered at once"
    );
    let (v, _) = f.run_with("/b", &[("authorization", &auth)], remote(true), false);
    assert!(challenge(&denial(v).0).contains("no key with kid"));
}

#[test]
fn verified_tokens_are_cached_per_key_version() {
    let mut f = fixture(|_| {});
    let t = f.token_a(json!({}));
    let auth = bearer(&t);
    let (_, s) = f.run_with("/api", &[("authorization", &auth)], vec![], true);
    assert_eq!(
        s,
        Stats {
            cache_hits: 0,
            cache_misses: 1
        }
    );
    let (v, s) = f.run_with("/api", &[("authorization", &auth)], vec![], true);
    assert_eq!(
        s,
        Stats {
            cache_hits: 1,
            cache_misses: 0
        }
    );
    allowed(v);
    // A remote provider's cache entry dies with its key version.
    let b_keys = parse_jwks(&jwks(&[f.jwk.clone()]), KeyOrigin::Remote).unwrap();
    let tb = es256_token(
        &f.pair,
        &json!({"alg":"ES256","kid":"a1"}),
        &claims("https://b", "x"),
    );
    let authb = bearer(&tb);
    let at = |v| vec![Avail::Loading, Avail::Ready(b_keys.clone(), v, false)];
    assert_eq!(
        f.run_with("/b", &[("authorization", &authb)], at(1), true)
            .1
            .cache_misses,
        1
    );
    assert_eq!(
        f.run_with("/b", &[("authorization", &authb)], at(1), true)
            .1
            .cache_hits,
        1
    );
    assert_eq!(
        f.run_with("/b", &[("authorization", &authb)], at(2), true)
            .1
            .cache_misses,
        1
    );
}

#[test]
fn cors_preflight_bypass() {
    let preflight = [
        ("origin", "https://app"),
        ("access-control-request-method", "POST"),
    ];
    let mut f = fixture(|c| c["bypass_cors_preflight"] = json!(true));
    let h = headers("/api", &preflight);
    let mut h2 = h.clone();
    h2[0].1 = "OPTIONS".into();
    let view = View {
        compiled: &f.compiled,
        remote: vec![],
    };
    let info2 = RequestInfo::from_headers(&h2);
    let req = Request {
        info: &info2,
        now_ns: NOW_NS,
        may_wait: true,
        kid_wait: true,
    };
    let v = authenticate(
        &f.compiled,
        &view,
        &mut f.caches,
        req,
        &mut Stats::default(),
    );
    assert_eq!(v, Verdict::Allow(Mutations::default()));
    let info = RequestInfo::from_headers(&h);
    let req = Request {
        info: &info,
        now_ns: NOW_NS,
        may_wait: true,
        kid_wait: true,
    };
    let v = authenticate(
        &f.compiled,
        &view,
        &mut f.caches,
        req,
        &mut Stats::default(),
    );
    assert_eq!(
        denial(v).1,
        DenyReason::Missing,
        "only OPTIONS is a preflight"
    );
}

#[test]
fn token_from_a_query_parameter_is_stripped_from_the_path() {
    let mut f = fixture(|c| c["providers"]["a"]["from_params"] = json!(["access_token"]));
    let t = f.token_a(json!({}));
    let path = format!("/api?x=1&access_token={t}");
    let m = allowed(f.run(&path, &[]));
    assert_eq!(m.path.as_deref(), Some("/api?x=1"));
}

#[test]
fn rules_see_the_canonical_path_and_a_rewrite_keeps_it() {
    let mut f = fixture(|c| {
        c["path_normalization"] = json!({"action": "rewrite"});
        c["providers"]["a"]["from_params"] = json!(["access_token"]);
    });
    let no_scope = f.token_a(json!({"scope": "read", "tenant": "acme"}));
    for path in [
        "//admin",
        "/%61dmin",
        "/x/../admin",
        "/admin;x",
        "/./admin/",
    ] {
        let (_, reason) = denial(f.run(&format!("{path}?access_token={no_scope}"), &[]));
        assert_eq!(reason, DenyReason::Forbidden, "{path}");
    }
    let ok = f.token_a(json!({"scope": "admin", "tenant": "acme"}));
    let m = allowed(f.run(&format!("/x/../%61dmin?access_token={ok}&keep=1"), &[]));
    assert_eq!(
        m.path.as_deref(),
        Some("/admin?keep=1"),
        "the token is stripped from the canonical path"
    );
}

#[test]
fn the_verified_claims_are_handed_to_later_filters() {
    let mut f = fixture(|_| {});
    let t = f.token_a(json!({"tenant": "acme"}));
    let m = allowed(f.run("/api", &[("authorization", &bearer(&t))]));
    let id = m.identity.unwrap();
    assert_eq!(id.provider, "a");
    assert_eq!(id.claim_text("sub").as_deref(), Some("user-1"));
    assert_eq!(id.claim_text("tenant").as_deref(), Some("acme"));
    // No verified token, no identity.
    let m = allowed(f.run("/optional", &[]));
    assert_eq!(m.identity, None);
}

#[test]
fn several_tokens_are_refused_before_any_signature_check() {
    let mut f = fixture(|c| {
        c["providers"]["a"]["from_headers"] =
            json!([{"name": "authorization", "value_prefix": "Bearer "}]);
        c["providers"]["a"]["from_params"] = json!(["access_token"]);
        c["providers"]["a"]["from_cookies"] = json!(["jwt"]);
    });
    let t = f.token_a(json!({}));
    let two_headers = [("authorization", bearer(&t)), ("authorization", bearer(&t))];
    let cases: Vec<(String, Vec<(&str, String)>)> = vec![
        ("/api".into(), two_headers.to_vec()),
        (
            format!("/api?access_token={t}"),
            vec![("authorization", bearer(&t))],
        ),
        (format!("/api?access_token={t}&access%5Ftoken={t}"), vec![]),
        ("/api".into(), vec![("cookie", format!("jwt={t}; jwt={t}"))]),
    ];
    for (path, extra) in cases {
        let extra: Vec<(&str, &str)> = extra.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let (v, stats) = f.run_with(&path, &extra, vec![], true);
        let (d, _) = denial(v);
        assert_eq!(d.status, 400, "{path}");
        assert!(challenge(&d).contains(r#"error="invalid_request""#));
        assert_eq!(
            stats.cache_misses + stats.cache_hits,
            0,
            "{path}: nothing verified"
        );
    }
}

#[test]
fn several_tokens_by_option_verify_the_first_and_strip_every_copy() {
    let mut f = fixture(|c| {
        c["providers"]["a"]["from_headers"] =
            json!([{"name": "authorization", "value_prefix": "Bearer "}]);
        c["providers"]["a"]["from_params"] = json!(["access_token"]);
        c["providers"]["a"]["multiple_tokens"] = json!("first");
    });
    let t = f.token_a(json!({}));
    let path = format!("/api?access_token={t}&keep=1&access%5Ftoken=x.y.z");
    let (v, stats) = f.run_with(&path, &[("authorization", &bearer(&t))], vec![], true);
    let m = allowed(v);
    assert_eq!(stats.cache_misses, 1, "one token verified");
    assert_eq!(m.remove, vec!["authorization".to_string()]);
    assert_eq!(
        m.path.as_deref(),
        Some("/api?keep=1"),
        "every copy stripped"
    );
    // The first is the one that counts: a bad first token fails even with a good second.
    let path = format!("/api?access_token={t}");
    let (d, _) = denial(f.run(&path, &[("authorization", "Bearer x.y.z")]));
    assert_eq!(d.status, 401);
}

#[test]
fn a_typ_policy_keeps_id_tokens_out() {
    let mut f = fixture(|c| c["providers"]["a"]["allowed_types"] = json!(["at+jwt"]));
    let payload = claims("https://a", "api");
    let signed = |typ: Option<&str>| {
        let mut header = json!({"alg": "ES256", "kid": "a1"});
        if let Some(typ) = typ {
            header["typ"] = json!(typ);
        }
        es256_token(&f.pair, &header, &payload)
    };
    let good: Vec<String> = ["at+jwt", "AT+JWT", "application/at+jwt"]
        .iter()
        .map(|t| signed(Some(t)))
        .collect();
    let bad: Vec<String> = [Some("JWT"), None, Some("logout+jwt")]
        .iter()
        .map(|t| signed(*t))
        .collect();
    for t in &good {
        let v = f.run("/api", &[("authorization", &bearer(t))]);
        assert!(matches!(v, Verdict::Allow(_)), "{v:?}");
    }
    for t in &bad {
        let (d, reason) = denial(f.run("/api", &[("authorization", &bearer(t))]));
        assert_eq!((d.status, reason), (401, DenyReason::Invalid));
        assert!(challenge(&d).contains("typ"), "{}", challenge(&d));
    }
    assert_eq!(check_type(None, &[]), Ok(()));
}
