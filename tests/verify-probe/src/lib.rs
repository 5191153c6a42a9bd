//! Test-only Proxy-Wasm module: the jwt filter's signature backends on raw messages, over HTTP.
//! Wycheproof messages are any bytes, not JWS signing inputs, so the filter itself cannot take
//! them; this module parses the key with the filter's JWKS parser, binds it to one backend as
//! the filter does (`signature_backend: host` or `wasm`), and checks each (message, signature).
//!
//! Request: `POST` with `{"jwk": {...with "alg"...}, "vectors": [["<msg b64url>", "<sig b64url>"], ...]}`.
//! Answer: 200 `{"results": "VI..", "host_checks": n, "wasm_checks": n}` (V valid, I invalid,
//! one letter per vector), 200 `{"key_refused": "why"}` when the key is not loaded, 400 for a
//! request that is not of that shape.
#![forbid(unsafe_code)]

#[cfg(target_arch = "wasm32")]
mod module;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use palisade_core::host::Host;
use palisade_jwt::backend::{bind, HostUse, Signatures};
use palisade_jwt::jwks::{parse_jwks, KeyOrigin};
use serde::Deserialize;
use serde_json::{json, Value};

/// The module's configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `host` or `wasm`, as the filter's field.
    pub signature_backend: String,
}

/// How this module uses the host, from its configuration; `host` needs the filter's probe to pass.
pub fn host_use(host: &dyn Host, config: &[u8]) -> Result<HostUse, String> {
    let config: Config = serde_json::from_slice(config).map_err(|e| format!("config: {e}"))?;
    match config.signature_backend.as_str() {
        "wasm" => Ok(HostUse::Off),
        "host" => palisade_jwt::probe::probe(host)
            .map(|()| HostUse::Required)
            .map_err(|e| format!("host probe failed: {e}")),
        other => Err(format!("signature_backend `{other}`: host or wasm")),
    }
}

/// One batch of vectors for one key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    jwk: Value,
    vectors: Vec<(String, String)>,
}

/// The answer to one request: status and JSON body.
pub fn answer(host: &dyn Host, host_use: HostUse, body: &[u8]) -> (u16, String) {
    let batch: Batch = match serde_json::from_slice(body) {
        Ok(b) => b,
        Err(e) => return (400, json!({ "error": e.to_string() }).to_string()),
    };
    let text = json!({ "keys": [batch.jwk] }).to_string();
    let set = match parse_jwks(&text, KeyOrigin::Local) {
        Ok(set) => set,
        Err(why) => return (200, json!({ "key_refused": why }).to_string()),
    };
    let (set, dropped) = bind(&set, host_use, host);
    let Some(key) = set.keys.first() else {
        let why = dropped.join("; ");
        return (
            200,
            json!({ "key_refused": format!("backend: {why}") }).to_string(),
        );
    };
    let signatures = Signatures::new(Some(host));
    let mut results = String::with_capacity(batch.vectors.len());
    for (msg, sig) in &batch.vectors {
        let (Ok(msg), Ok(sig)) = (URL_SAFE_NO_PAD.decode(msg), URL_SAFE_NO_PAD.decode(sig)) else {
            return (
                400,
                json!({ "error": "vectors: not base64url" }).to_string(),
            );
        };
        let valid = signatures.check_raw(key, &msg, &sig).is_ok();
        results.push(if valid { 'V' } else { 'I' });
    }
    let body = json!({
        "results": results,
        "host_checks": signatures.host_checks.get(),
        "wasm_checks": signatures.wasm_checks.get(),
    });
    (200, body.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;
    use jwt_simple::prelude::*;
    use palisade_core::testing::MockHost;

    fn b64(b: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(b)
    }

    fn run(host_use: HostUse, body: &Value) -> (u16, Value) {
        let (status, text) = answer(&MockHost::new(), host_use, body.to_string().as_bytes());
        (status, serde_json::from_str(&text).unwrap())
    }

    #[test]
    fn each_vector_gets_its_own_decision_in_wasm() {
        // RFC 7515 A.3: its signing input is as good as any bytes here.
        let jwk = json!({"kty":"EC","crv":"P-256","alg":"ES256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
        let msg = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
        let sig = "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
        let raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
        let mut bad = raw.clone();
        bad[0] ^= 1;
        let body = json!({"jwk": jwk, "vectors": [
            [b64(msg.as_bytes()), sig],
            [b64(msg.as_bytes()), b64(&bad)],
            [b64(b"other"), sig],
        ]});
        let (status, v) = run(HostUse::Off, &body);
        assert_eq!(status, 200);
        assert_eq!(v["results"], "VII");
        assert_eq!(
            (v["host_checks"].as_u64(), v["wasm_checks"].as_u64()),
            (Some(0), Some(3))
        );
    }

    #[test]
    fn a_key_the_filter_refuses_is_reported_not_checked() {
        // e = 3: jwt-simple (and so the filter) takes e = 65537 only.
        let pair = RS256KeyPair::generate(2048).unwrap();
        let mut jwk: Value = serde_json::from_str(&pair.public_key().to_jwk()).unwrap();
        jwk["e"] = json!("Aw");
        let (status, v) = run(HostUse::Off, &json!({"jwk": jwk, "vectors": [["", ""]]}));
        assert_eq!(status, 200);
        assert!(
            v["key_refused"].as_str().unwrap().contains("no usable key"),
            "{v}"
        );
    }

    #[test]
    fn a_malformed_request_is_a_400() {
        assert_eq!(run(HostUse::Off, &json!({"jwk": {}})).0, 400);
        let jwk = json!({"kty":"EC","crv":"P-256","alg":"ES256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
        assert_eq!(
            run(HostUse::Off, &json!({"jwk": jwk, "vectors": [["!", "!"]]})).0,
            400
        );
    }

    #[test]
    fn the_configuration_names_the_backend() {
        let host = MockHost::new();
        assert_eq!(
            host_use(&host, br#"{"signature_backend":"wasm"}"#),
            Ok(HostUse::Off)
        );
        // The mock has no verify_signature: `host` must refuse rather than fall back.
        assert!(host_use(&host, br#"{"signature_backend":"host"}"#).is_err());
        assert!(host_use(&host, br#"{"signature_backend":"auto"}"#).is_err());
        assert!(host_use(&host, br#"{"backend":"wasm"}"#).is_err());
    }
}
