//! `cargo xtask demo`: Envoy on 127.0.0.1:8080 with every built filter in front of the echo
//! upstream, each filter with its config from `envoy/demo/<filter>.json`. Ctrl-C stops everything.

use crate::build::{build, wasm_dir, FILTERS};
use crate::tools::{envoy_binary, setup};
use crate::util::{root, step, Result};
use jwt_simple::prelude::{Claims, Duration, ECDSAP256KeyPairLike, ES256KeyPair};
use palisade_e2e::{Envoy, Filter, Upstream};
use serde_json::{json, Value};

const PORT: u16 = 8080;
const ADMIN_PORT: u16 = 9901;

fn demo_config(filter: &str) -> Result<Option<Value>> {
    let path = root().join(format!("envoy/demo/{filter}.json"));
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(_) => Ok(None),
    }
}

/// Builds, starts the demo, prints what to try, and waits for Ctrl-C.
pub fn demo() -> Result {
    setup()?;
    build()?;
    step("start the demo");
    std::env::set_var("PALISADE_WASM_DIR", wasm_dir());
    std::env::set_var(
        "PALISADE_ENVOY",
        envoy_binary().ok_or("Envoy missing after setup")?,
    );
    let upstream = Upstream::start();
    let mut builder = Envoy::builder();
    let mut loaded = Vec::new();
    let mut tokens = None;
    for filter in FILTERS {
        if let Some(mut config) = demo_config(filter)? {
            if filter == "jwt" {
                tokens = Some(DemoTokens::mint(&mut config)?);
            }
            builder = builder.filter(Filter::wasm(filter, config));
            loaded.push(filter);
        }
    }
    let builder = builder.patch(|b| {
        for (pointer, port) in [
            (
                "/static_resources/listeners/0/address/socket_address/port_value",
                PORT,
            ),
            ("/admin/address/socket_address/port_value", ADMIN_PORT),
        ] {
            if let Some(slot) = b.pointer_mut(pointer) {
                *slot = json!(port);
            }
        }
        // As in envoy/gateway.yaml: the client address is the connection's, and a buffering
        // filter may hold a whole body up to its limit.
        if let Some(listener) = b.pointer_mut("/static_resources/listeners/0") {
            listener["per_connection_buffer_limit_bytes"] = json!(2 * 1024 * 1024);
        }
        if let Some(hcm) =
            b.pointer_mut("/static_resources/listeners/0/filter_chains/0/filters/0/typed_config")
        {
            hcm["use_remote_address"] = json!(true);
            // Defence in depth: Envoy canonicalizes paths too (Palisade refuses non-canonical ones without it).
            hcm["normalize_path"] = json!(true);
            hcm["merge_slashes"] = json!(true);
            hcm["path_with_escaped_slashes_action"] = json!("REJECT_REQUEST");
        }
    });
    let envoy = builder
        .start(&upstream)
        .map_err(|e| format!("Envoy did not start:\n{}", e.log))?;
    println!(
        "Envoy is listening on http://127.0.0.1:{} (admin http://127.0.0.1:{}), filters: {}",
        envoy.port(),
        envoy.admin_port(),
        loaded.join(" → ")
    );
    println!("\nTry:");
    if let Some(t) = &tokens {
        println!("  USER={}\n  ADMIN={}", t.user, t.admin);
    }
    for line in curl_lines(&loaded) {
        println!("  {line}");
    }
    println!("\nCtrl-C stops everything.");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

/// A fresh demo key (replacing the one in `envoy/demo/jwt.json`) and two tokens it signed.
struct DemoTokens {
    user: String,
    admin: String,
}

impl DemoTokens {
    fn mint(config: &mut Value) -> Result<Self> {
        let key = ES256KeyPair::generate().with_key_id("demo-es256");
        let jwk: Value =
            serde_json::from_str(&key.public_key().to_jwk()).map_err(|e| e.to_string())?;
        let slot = config
            .pointer_mut("/providers/demo/local_jwks/inline_string")
            .ok_or("envoy/demo/jwt.json has no providers.demo.local_jwks.inline_string")?;
        *slot = json!(json!({ "keys": [jwk] }).to_string());
        let sign = |subject: &str, extra: Value| {
            let claims = Claims::with_custom_claims(extra, Duration::from_hours(8))
                .with_issuer("https://demo.palisade.dev")
                .with_audience("demo-api")
                .with_subject(subject);
            key.sign(claims)
                .map_err(|e| format!("sign the demo token: {e}"))
        };
        Ok(Self {
            user: sign(
                "alice",
                json!({ "roles": ["reader", "writer"], "scope": "orders" }),
            )?,
            admin: sign(
                "root",
                json!({ "roles": ["admin"], "scope": "orders admin" }),
            )?,
        })
    }
}

fn curl_lines(loaded: &[&str]) -> Vec<String> {
    let base = format!("http://127.0.0.1:{PORT}");
    let mut lines = vec![format!(
        "curl -i {base}/   # the echo upstream, through every filter"
    )];
    if loaded.contains(&"headers") {
        lines.push(format!(
            "curl -si {base}/ -H 'x-echo-respond: {{\"headers\":[[\"content-type\",\"text/html\"],[\"server\",\"nginx\"]],\"body\":\"<p>hi\"}}'   # an HTML page: browser preset on, server gone"
        ));
        lines.push(format!(
            "curl -s {base}/ -H 'x-jwt-claim-sub: admin' | grep -c x-jwt-claim-sub   # 0: a spoofed claim header never reaches the upstream"
        ));
    }
    let auth = if loaded.contains(&"jwt") {
        lines.push(format!(
            "curl -si {base}/api/orders/1 | head -6   # 401 + WWW-Authenticate: no token"
        ));
        lines.push(format!(
            "curl -s {base}/api/orders/1 -H \"authorization: Bearer $USER\" | grep -A1 x-jwt-claim   # claims forwarded as headers"
        ));
        lines.push(format!(
            "curl -si {base}/api/admin -H \"authorization: Bearer $USER\" | head -6   # 403 insufficient_scope"
        ));
        lines.push(format!(
            "curl -si {base}/api/admin -H \"authorization: Bearer $ADMIN\" | head -1   # 200"
        ));
        lines.push(format!(
            "curl -si --path-as-is '{base}/api/x/..;/%61dmin' -H \"authorization: Bearer $USER\" | head -1   # 400 non-canonical-path: no spelling skips a rule"
        ));
        " -H \"authorization: Bearer $USER\""
    } else {
        ""
    };
    if loaded.contains(&"ratelimit") {
        lines.push(format!(
            "for i in 1 2 3 4 5 6 7; do curl -s -o /dev/null -w '%{{http_code}} ' {base}/; done; echo   # 5 per 10 s per client IP off /api/, then 429"
        ));
        lines.push(format!(
            "curl -si {base}/api/orders/1{auth} | grep -iE '^(ratelimit|x-ratelimit|retry-after)'   # IETF RateLimit fields, per user"
        ));
    }
    if loaded.contains(&"schema") {
        lines.push(format!(
            "curl -si {base}/api/orders{auth} -H 'content-type: application/json' -d '{{\"item\":\"tea\",\"quantity\":2}}'   # valid: reaches the upstream"
        ));
        lines.push(format!(
            "curl -s {base}/api/orders{auth} -H 'content-type: application/json' -d '{{\"item\":\"\",\"quantity\":0,\"x\":1}}'   # 400 problem+json, one entry per violation"
        ));
        lines.push(format!(
            "curl -si {base}/api/orders/abc{auth}   # 400: path parameter `id` is not an integer"
        ));
        lines.push(format!(
            "curl -si {base}/api/orders{auth} -H 'content-type: text/plain' -d hi   # 415"
        ));
    }
    lines.push(format!(
        "curl -s http://127.0.0.1:{ADMIN_PORT}/stats | grep palisade   # the filters' counters"
    ));
    lines
}
