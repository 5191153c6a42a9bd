//! The known-good probe and the backend choice on the mock host.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use super::*;
use crate::backend::Backend;
use crate::compile::compile;
use crate::hostsig::{VerifySignatureResult, VERIFY_SIGNATURE};
use crate::test_host::host_with_verify;
use crate::test_keys::{jwk_of_es256, jwk_of_rs256_without_alg, jwks};
use palisade_core::testing::MockHost;
use prost::Message;
use serde_json::{json, Value};

fn always(result: bool) -> MockHost {
    MockHost::new().with_foreign_function(VERIFY_SIGNATURE, move |_| {
        Ok(VerifySignatureResult {
            result,
            error: String::new(),
        }
        .encode_to_vec())
    })
}

#[test]
fn the_probe_needs_a_host_that_accepts_good_and_refuses_bad_signatures() {
    let (host, calls) = host_with_verify();
    assert_eq!(probe(&host), Ok(()));
    assert_eq!(calls.get(), 4, "RS256 and ES256, each good and tampered");
    assert!(probe(&MockHost::new()).unwrap_err().contains("NotFound"));
    assert!(probe(&always(true)).unwrap_err().contains("tampered"));
    assert!(probe(&always(false)).unwrap_err().contains("refused"));
}

fn config(backend: &str, keys: &[Value]) -> Compiled {
    let c = json!({
        "providers": {"local": {"local_jwks": {"inline_string": jwks(keys)}}},
        "rules": [{"requires": {"provider_name": "local"}}],
        "signature_backend": backend
    });
    compile(c.to_string().as_bytes()).unwrap()
}

fn backends(c: &Compiled) -> Vec<(String, Backend)> {
    match &c.providers[0].keys {
        KeySource::Local(set) => set
            .keys
            .iter()
            .map(|k| (k.verifier.alg().to_string(), k.backend))
            .collect(),
        KeySource::Remote(_) => panic!("local"),
    }
}

#[test]
fn auto_uses_the_host_for_rs_and_es_and_wasm_for_the_rest() {
    let (rsa, _) = jwk_of_rs256_without_alg("r");
    let (es, _) = jwk_of_es256("e");
    let (host, _) = host_with_verify();
    let mut c = config("auto", &[rsa.clone(), es.clone()]);
    select(&host, &mut c).unwrap();
    assert_eq!(c.host_use, HostUse::Preferred);
    let got = backends(&c);
    for (alg, backend) in &got {
        let expected = if alg.starts_with("PS") {
            Backend::Wasm
        } else {
            Backend::Host
        };
        assert_eq!(*backend, expected, "{alg}");
    }
    assert_eq!(got.len(), 7);

    // A host without the function: everything in Wasm, the configuration still loads.
    let mut c = config("auto", &[rsa, es]);
    select(&MockHost::new(), &mut c).unwrap();
    assert_eq!(c.host_use, HostUse::Off);
    assert!(backends(&c).iter().all(|(_, b)| *b == Backend::Wasm));
}

#[test]
fn wasm_never_asks_the_host() {
    let (es, _) = jwk_of_es256("e");
    let (host, calls) = host_with_verify();
    let mut c = config("wasm", &[es]);
    select(&host, &mut c).unwrap();
    assert_eq!(calls.get(), 0);
    assert_eq!(backends(&c), vec![("ES256".to_string(), Backend::Wasm)]);
}

#[test]
fn host_refuses_what_the_host_cannot_serve() {
    let (es, _) = jwk_of_es256("e");
    let mut c = config("host", std::slice::from_ref(&es));
    let e = select(&MockHost::new(), &mut c).unwrap_err();
    assert_eq!(e.path, "signature_backend");
    assert!(e.reason.contains("verify_signature"), "{e}");

    // An Ed25519 key in a local set: the host cannot check it.
    let ed = json!({"kty": "OKP", "crv": "Ed25519", "kid": "ed",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
    let (host, _) = host_with_verify();
    let mut c = config("host", &[es.clone(), ed]);
    let e = select(&host, &mut c).unwrap_err();
    assert_eq!(e.path, "providers.local.local_jwks");
    assert!(e.reason.contains("key `ed` (EdDSA)"), "{e}");

    // An RSA key without `alg` serves RS* only with `host`.
    let (rsa, _) = jwk_of_rs256_without_alg("r");
    let mut c = config("host", &[rsa, es]);
    select(&host, &mut c).unwrap();
    let got: Vec<String> = backends(&c).into_iter().map(|(a, _)| a).collect();
    assert_eq!(got, ["RS256", "RS384", "RS512", "ES256"]);
    assert!(backends(&c).iter().all(|(_, b)| *b == Backend::Host));
}
