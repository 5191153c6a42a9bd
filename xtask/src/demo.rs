//! `cargo xtask demo`: Envoy on 127.0.0.1:8080 (HTTP) and 127.0.0.1:8443 (HTTPS, a certificate
//! made at start) with the bundle (`palisade.wasm`) in front of the echo upstream, every filter a
//! stage with its config from `envoy/demo/<filter>.json`. Ctrl-C or SIGTERM stops everything.

use crate::build::{build, wasm_dir, FILTERS};
use crate::tools::{envoy_binary, setup};
use crate::util::{root, step, Result};
use jwt_simple::prelude::{Claims, Duration, ECDSAP256KeyPairLike, ES256KeyPair};
use palisade_e2e::{Envoy, Filter, Upstream};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The bundle module the demo runs (`palisade.wasm`).
const BUNDLE: &str = "palisade";

const USAGE: &str =
    "usage: cargo xtask demo [--port N] [--tls-port N] [--admin-port N] [--no-build]

  Runs Envoy with every filter in front of a demo upstream: HTTP on --port (8080), HTTPS on
  --tls-port (8443) with a certificate made at start (target/demo/ca.pem signs it), admin on
  --admin-port (9901); 0 picks a free port. --no-build skips setup and build (the modules in
  PALISADE_WASM_DIR or target/, Envoy from PALISADE_ENVOY or the tool cache).
  Ctrl-C or SIGTERM stops everything.";

/// The demo's listeners and admin port (0: any free port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ports {
    http: u16,
    https: u16,
    admin: u16,
}

/// Command-line options.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    ports: Ports,
    build: bool,
}

fn parse_args(args: &[String]) -> Result<Options> {
    let mut options = Options {
        ports: Ports {
            http: 8080,
            https: 8443,
            admin: 9901,
        },
        build: true,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut port = || -> Result<u16> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{arg} needs a port number"))
        };
        match arg.as_str() {
            "--port" => options.ports.http = port()?,
            "--tls-port" => options.ports.https = port()?,
            "--admin-port" => options.ports.admin = port()?,
            "--no-build" => options.build = false,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other}\n\n{USAGE}")),
        }
    }
    Ok(options)
}

fn demo_config(filter: &str) -> Result<Option<Value>> {
    let path = root().join(format!("envoy/demo/{filter}.json"));
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(_) => Ok(None),
    }
}

/// The demo's TLS files: a CA made at start and a certificate it signed for localhost.
struct DemoTls {
    ca_file: PathBuf,
    cert_pem: String,
    key_pem: String,
}

impl DemoTls {
    /// Makes a fresh CA and server certificate (rcgen, no OpenSSL) and writes the CA to `dir`.
    fn create(dir: &Path) -> Result<Self> {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
            KeyUsagePurpose,
        };
        let err = |e: rcgen::Error| format!("demo certificate: {e}");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Palisade demo CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(err)?)
            .map_err(err)?;
        let key = KeyPair::generate().map_err(err)?;
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .map_err(err)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let cert = params.signed_by(&key, &ca).map_err(err)?;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).map_err(|e| format!("{}: {e}", ca_file.display()))?;
        Ok(Self {
            ca_file,
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// The listener's `transport_socket`.
    fn transport_socket(&self) -> Value {
        json!({
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
                "common_tls_context": {"tls_certificates": [{
                    "certificate_chain": {"inline_string": self.cert_pem},
                    "private_key": {"inline_string": self.key_pem}
                }]}
            }
        })
    }
}

/// Set by SIGINT or SIGTERM.
fn stop_signal() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| format!("cannot handle signal {signal}: {e}"))?;
    }
    Ok(stop)
}

/// The port Envoy bound for a listener, from the admin API.
fn listener_port(envoy: &Envoy, name: &str) -> Option<u16> {
    let listeners = envoy.admin("/listeners?format=json").json();
    let status = listeners
        .get("listener_statuses")?
        .as_array()?
        .iter()
        .find(|l| l.get("name").and_then(Value::as_str) == Some(name))?;
    let port = status
        .pointer("/local_address/socket_address/port_value")?
        .as_u64()?;
    u16::try_from(port).ok()
}

/// Builds, starts the demo, prints what to try, and waits for Ctrl-C or SIGTERM.
pub fn demo(args: &[String]) -> Result {
    let options = parse_args(args)?;
    // Registered first: a SIGTERM during the start still stops what was started.
    let stop = stop_signal()?;
    if options.build {
        setup()?;
        build()?;
        std::env::set_var("PALISADE_WASM_DIR", wasm_dir());
        std::env::set_var(
            "PALISADE_ENVOY",
            envoy_binary().ok_or("Envoy missing after setup")?,
        );
    } else if std::env::var_os("PALISADE_ENVOY").is_none() {
        let envoy =
            envoy_binary().ok_or("no Envoy: run `cargo xtask setup` or set PALISADE_ENVOY")?;
        std::env::set_var("PALISADE_ENVOY", envoy);
    }
    step("start the demo");
    let tls = DemoTls::create(&root().join("target/demo"))?;
    let upstream = Upstream::start();
    // One module, the bundle: each filter a stage with its envoy/demo/<filter>.json, in
    // gateway order on every request.
    let mut loaded = Vec::new();
    let mut stages = serde_json::Map::new();
    let mut tokens = None;
    for filter in FILTERS {
        if let Some(mut config) = demo_config(filter)? {
            if filter == "jwt" {
                tokens = Some(DemoTokens::mint(&mut config)?);
            }
            stages.insert(filter.to_string(), config);
            loaded.push(filter);
        }
    }
    let bundle = json!({"stages": stages, "default_stages": loaded});
    let builder = Envoy::builder().filter(Filter::wasm(BUNDLE, bundle));
    let ports = options.ports;
    let transport_socket = tls.transport_socket();
    let stats_config = crate::util::gateway_example("stats_config")?;
    let memory_release = crate::util::gateway_example("memory_allocator_manager")?;
    let builder = builder.patch(move |b| {
        for (pointer, port) in [
            (
                "/static_resources/listeners/0/address/socket_address/port_value",
                ports.http,
            ),
            ("/admin/address/socket_address/port_value", ports.admin),
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
        // Prometheus labels, as every example in envoy/ ships them; the memory V8 freed after
        // compiling the module given back, as envoy/gateway.yaml does.
        if let Some(bootstrap) = b.as_object_mut() {
            bootstrap.insert("stats_config".to_string(), stats_config);
            bootstrap.insert("memory_allocator_manager".to_string(), memory_release);
        }
        // The same chain again behind TLS: HSTS is only sent there.
        let https = b.pointer("/static_resources/listeners/0").cloned();
        if let (Some(mut https), Some(listeners)) = (
            https,
            b.pointer_mut("/static_resources/listeners")
                .and_then(Value::as_array_mut),
        ) {
            let edits = [
                ("/name", json!("main_tls")),
                ("/address/socket_address/port_value", json!(ports.https)),
            ];
            for (pointer, value) in edits {
                if let Some(slot) = https.pointer_mut(pointer) {
                    *slot = value;
                }
            }
            if let Some(chain) = https
                .pointer_mut("/filter_chains/0")
                .and_then(Value::as_object_mut)
            {
                chain.insert("transport_socket".to_string(), transport_socket);
            }
            listeners.push(https);
        }
    });
    let envoy = builder
        .start(&upstream)
        .map_err(|e| format!("Envoy did not start:\n{}", e.log))?;
    let https_port = listener_port(&envoy, "main_tls").ok_or("no HTTPS listener")?;
    println!(
        "Envoy is listening on http://127.0.0.1:{} and https://localhost:{} (admin http://127.0.0.1:{}), filters: {}",
        envoy.port(),
        https_port,
        envoy.admin_port(),
        loaded.join(" → ")
    );
    println!("Envoy pid: {}", envoy.pid());
    println!("\nTry:");
    if let Some(t) = &tokens {
        println!("  USER={}\n  ADMIN={}", t.user, t.admin);
    }
    let urls = Urls {
        http: format!("http://127.0.0.1:{}", envoy.port()),
        https: format!("https://localhost:{https_port}"),
        ca_file: relative_to_root(&tls.ca_file),
        admin: format!("http://127.0.0.1:{}", envoy.admin_port()),
    };
    for line in curl_lines(&loaded, &urls) {
        println!("  {line}");
    }
    println!("\nCtrl-C or SIGTERM stops everything.");
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Dropping them kills Envoy (and waits for it) and stops the upstream.
    drop(envoy);
    drop(upstream);
    println!("demo stopped");
    Ok(())
}

/// A path relative to the repository root, for printed commands run from there.
fn relative_to_root(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
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

/// Where the demo answers.
struct Urls {
    http: String,
    https: String,
    ca_file: String,
    admin: String,
}

fn curl_lines(loaded: &[&str], urls: &Urls) -> Vec<String> {
    let base = &urls.http;
    let mut lines = vec![format!(
        "curl -i {base}/   # the echo upstream, through every filter"
    )];
    if loaded.contains(&"headers") {
        lines.push(format!(
            "curl -si --cacert {} {}/ | grep -i strict-transport   # HTTPS: HSTS is sent",
            urls.ca_file, urls.https
        ));
        lines.push(format!(
            "curl -si {base}/ | grep -ic strict-transport   # 0: never over plain HTTP"
        ));
        lines.push(format!(
            "curl -si --cacert {} {}/ -H 'x-echo-respond: {{\"headers\":[[\"set-cookie\",\"session=abc; Path=/\"]]}}' | grep -i set-cookie   # the upstream's cookie gets Secure",
            urls.ca_file, urls.https
        ));
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
        "curl -s {}/stats/prometheus | grep '^palisade_'   # the filters' counters, as Prometheus scrapes them (outcomes as labels)",
        urls.admin
    ));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Result<Options> {
        parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn ports_default_to_8080_8443_9901_and_can_be_chosen() {
        let o = args(&[]).unwrap();
        assert_eq!(
            (o.ports.http, o.ports.https, o.ports.admin),
            (8080, 8443, 9901)
        );
        assert!(o.build);
        let o = args(&["--port", "0", "--tls-port", "9443", "--no-build"]).unwrap();
        assert_eq!((o.ports.http, o.ports.https), (0, 9443));
        assert!(!o.build);
        assert!(args(&["--port"]).is_err());
        assert!(args(&["--port", "http"]).is_err());
        assert!(args(&["--tls"]).is_err());
    }

    #[test]
    fn curl_lines_show_https_with_the_demo_ca_and_plain_http() {
        let urls = Urls {
            http: "http://127.0.0.1:8080".into(),
            https: "https://localhost:8443".into(),
            ca_file: "target/demo/ca.pem".into(),
            admin: "http://127.0.0.1:9901".into(),
        };
        let lines = curl_lines(&["headers"], &urls);
        assert!(lines.iter().any(|l| l.starts_with(
            "curl -si --cacert target/demo/ca.pem https://localhost:8443/ | grep -i strict-transport"
        )));
        assert!(lines
            .iter()
            .any(|l| l.starts_with("curl -si http://127.0.0.1:8080/ | grep -ic strict-transport")));
        assert!(lines.iter().any(|l| l.contains("9901/stats/prometheus")));
    }

    #[test]
    fn the_readmes_demo_lines_are_what_the_demo_prints_on_its_default_ports() {
        let readme = include_str!("../../README.md");
        let block = readme
            .split("prints lines to try, among them:")
            .nth(1)
            .and_then(|rest| rest.split("```sh\n").nth(1))
            .and_then(|rest| rest.split("```").next())
            .unwrap();
        let urls = Urls {
            http: "http://127.0.0.1:8080".into(),
            https: "https://localhost:8443".into(),
            ca_file: "target/demo/ca.pem".into(),
            admin: "http://127.0.0.1:9901".into(),
        };
        let printed = curl_lines(&FILTERS, &urls);
        let shown: Vec<&str> = block.lines().filter(|l| l.starts_with("curl")).collect();
        assert!(shown.len() >= 3, "{block}");
        for line in shown {
            assert!(
                printed.iter().any(|p| p == line),
                "README.md shows a line the demo does not print: {line}"
            );
        }
    }
}
