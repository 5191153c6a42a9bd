//! Every Envoy config users copy from `envoy/` is loaded by the real Envoy: `--mode validate` for
//! all of them, and started for real where it matters (the gateway with all four filters, the
//! module fetched over HTTP with its sha256).
//!
//! The examples load modules from `target/wasm32-wasip1/release/` (relative to the repository
//! root) or `/etc/palisade/`; tests point both at `PALISADE_WASM_DIR`. Ports and cluster
//! addresses are rewritten to the test's own servers on free loopback ports.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use jwt_simple::prelude::*;
use palisade_e2e::client::RequestBuilder;
use palisade_e2e::envoy::validate_config;
use palisade_e2e::paths::{scratch_dir, wasm_dir, workspace_root};
use palisade_e2e::server::Reply;
use palisade_e2e::{Envoy, HttpServer, Upstream};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where the examples say the modules are (relative to the repository root)...
const EXAMPLE_MODULE_DIR: &str = "target/wasm32-wasip1/release/";
/// ...or where a deployment would mount them.
const DEPLOYED_MODULE_DIR: &str = "/etc/palisade/";
/// The remote example's sha256 placeholder.
const SHA256_PLACEHOLDER: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Every `envoy/*.yaml`, sorted.
fn example_configs() -> Vec<PathBuf> {
    let mut configs: Vec<PathBuf> = std::fs::read_dir(workspace_root().join("envoy"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    configs.sort();
    configs
}

fn read_example(name: &str) -> String {
    let path = workspace_root().join("envoy").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `palisade_*.wasm` modules and the bundle `palisade.wasm` a config names.
fn modules_named(yaml: &str) -> Vec<String> {
    let mut names: Vec<String> = yaml
        .split(|c: char| c.is_whitespace() || c == '/' || c == '"')
        .filter(|w| (w.starts_with("palisade_") || *w == "palisade.wasm") && w.ends_with(".wasm"))
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The module files a config needs that are not built; a failure under CI, a loud skip elsewhere.
fn missing_modules(what: &str, yaml: &str) -> bool {
    let missing: Vec<String> = modules_named(yaml)
        .into_iter()
        .filter(|m| !wasm_dir().join(m).exists())
        .collect();
    if missing.is_empty() {
        return false;
    }
    let why = format!(
        "{what}: modules not built in {}: {} (run `cargo xtask build` or set PALISADE_WASM_DIR)",
        wasm_dir().display(),
        missing.join(", ")
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}");
    }
    eprintln!("SKIPPING {why}");
    true
}

/// The config with its module paths pointing at the built modules.
fn with_built_modules(yaml: &str) -> String {
    let dir = format!("{}/", wasm_dir().display());
    yaml.replace(EXAMPLE_MODULE_DIR, &dir)
        .replace(DEPLOYED_MODULE_DIR, &dir)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn yaml_to_json(yaml: &str) -> Value {
    serde_norway::from_str(yaml).unwrap()
}

/// Admin and every listener on port 0 (the harness reads the real ones from the admin API).
fn on_free_ports(bootstrap: &mut Value) {
    bootstrap["admin"]["address"]["socket_address"]["port_value"] = json!(0);
    for listener in bootstrap["static_resources"]["listeners"]
        .as_array_mut()
        .unwrap()
    {
        listener["address"]["socket_address"]["port_value"] = json!(0);
    }
}

/// Points a static cluster's one endpoint at `127.0.0.1:port`.
fn cluster_to(bootstrap: &mut Value, cluster: &str, port: u16) {
    let clusters = bootstrap["static_resources"]["clusters"]
        .as_array_mut()
        .unwrap();
    let found = clusters
        .iter_mut()
        .find(|c| c["name"] == cluster)
        .unwrap_or_else(|| panic!("no cluster {cluster}"));
    found["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
        ["socket_address"] = json!({"address": "127.0.0.1", "port_value": port});
}

/// Every Wasm filter entry (`config` of `envoy.filters.http.wasm`) of a listener.
fn wasm_configs<'a>(bootstrap: &'a mut Value, listener: &str) -> Vec<&'a mut Value> {
    let listeners = bootstrap["static_resources"]["listeners"]
        .as_array_mut()
        .unwrap();
    let listener = listeners
        .iter_mut()
        .find(|l| l["name"] == listener)
        .unwrap_or_else(|| panic!("no listener {listener}"));
    listener["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .filter(|f| f["name"] == "envoy.filters.http.wasm")
        .map(|f| &mut f["typed_config"]["config"])
        .collect()
}

/// Starts Envoy on exactly this bootstrap.
fn start(bootstrap: Value) -> Envoy {
    Envoy::builder()
        .patch(move |b| *b = bootstrap)
        .start_with_upstream_port(0)
        .unwrap_or_else(|e| panic!("envoy did not start:\n{}", e.log))
}

/// The port of a named listener, from the admin API.
fn listener_addr(envoy: &Envoy, name: &str) -> SocketAddr {
    let listeners = envoy.admin("/listeners?format=json").json();
    let status = listeners["listener_statuses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name)
        .unwrap_or_else(|| panic!("no listener {name}: {listeners}"));
    let port = status["local_address"]["socket_address"]["port_value"]
        .as_u64()
        .unwrap();
    SocketAddr::from(([127, 0, 0, 1], u16::try_from(port).unwrap()))
}

/// A scratch file holding `text`.
fn write_scratch(label: &str, name: &str, text: &str) -> (PathBuf, PathBuf) {
    let dir = scratch_dir(label);
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn every_example_config_is_accepted_by_envoy_validate() {
    let configs = example_configs();
    let names: Vec<String> = configs
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "gateway.yaml",
        "remote-wasm.yaml",
        "headers.yaml",
        "jwt.yaml",
        "ratelimit.yaml",
        "schema.yaml",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "envoy/{expected} is missing: {names:?}"
        );
    }
    let mut validated = Vec::new();
    for path in &configs {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let yaml = std::fs::read_to_string(path).unwrap();
        if missing_modules(&name, &yaml) {
            continue;
        }
        let mut yaml = with_built_modules(&yaml);
        // A remote module must come with its real digest (Envoy checks the format here, the
        // content when it fetches); the one module a remote example names is the one hashed.
        if yaml.contains(SHA256_PLACEHOLDER) {
            let module = modules_named(&yaml).pop().unwrap();
            let sha = sha256_hex(&std::fs::read(wasm_dir().join(module)).unwrap());
            yaml = yaml.replace(SHA256_PLACEHOLDER, &sha);
        }
        let (dir, file) = write_scratch("validate", &name, &yaml);
        validate_config(&file).unwrap_or_else(|log| panic!("envoy/{name} is refused:\n{log}"));
        let _ = std::fs::remove_dir_all(dir);
        validated.push(name);
    }
    eprintln!("validated: {validated:?}");
}

/// A module server for the remote example: serves `module` at `/palisade_headers.wasm`.
fn module_server(module: Vec<u8>) -> HttpServer {
    HttpServer::start(move |req| {
        if req.path == "/palisade_headers.wasm" {
            Reply {
                status: 200,
                headers: vec![("content-type".into(), "application/wasm".into())],
                body: module.clone(),
            }
        } else {
            Reply::text(404, "not found")
        }
    })
}

/// The remote example pointed at the test's module server and upstream, with `sha256`.
fn remote_example(modules_port: u16, upstream_port: u16, sha256: &str) -> Value {
    let yaml = read_example("remote-wasm.yaml").replace(SHA256_PLACEHOLDER, sha256);
    let mut bootstrap = yaml_to_json(&yaml);
    on_free_ports(&mut bootstrap);
    cluster_to(&mut bootstrap, "modules", modules_port);
    cluster_to(&mut bootstrap, "upstream", upstream_port);
    bootstrap
}

#[test]
fn remote_wasm_example_downloads_the_module_and_runs_it_when_the_sha256_matches() {
    let yaml = read_example("remote-wasm.yaml");
    if missing_modules("remote-wasm.yaml", &yaml) {
        return;
    }
    assert!(
        yaml.contains(SHA256_PLACEHOLDER),
        "the example's sha256 placeholder changed"
    );
    let module = std::fs::read(wasm_dir().join("palisade_headers.wasm")).unwrap();
    let sha = sha256_hex(&module);
    let server = module_server(module);
    let upstream = Upstream::start();
    let envoy = start(remote_example(server.port(), upstream.port(), &sha));

    let resp = envoy.request("GET", "/remote").send();
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(server.hits() >= 1, "the module was not fetched over HTTP");
    // The strict-api preset ran: its headers are on the answer, the upstream's `server` is gone.
    assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(resp.header("server"), None, "{:?}", resp.headers);
    assert_eq!(upstream.hits(), 1);
}

#[test]
fn remote_wasm_with_a_wrong_sha256_never_runs_and_the_listener_fails_closed() {
    let yaml = read_example("remote-wasm.yaml");
    if missing_modules("remote-wasm.yaml", &yaml) {
        return;
    }
    let module = std::fs::read(wasm_dir().join("palisade_headers.wasm")).unwrap();
    // The digest of another build: what a tampered or stale file on the server looks like.
    let wrong = sha256_hex(b"some other module");
    let server = module_server(module);
    let upstream = Upstream::start();
    let envoy = start(remote_example(server.port(), upstream.port(), &wrong));

    let resp = envoy.request("GET", "/remote").send();
    assert_eq!(resp.status, 503, "{}", resp.text());
    assert_eq!(
        upstream.hits(),
        0,
        "a request went through without the filter"
    );
    assert!(server.hits() >= 1, "the module was not even fetched");
    let log = envoy.log_with("failed to load");
    assert!(log.contains("failed to load"), "{log}");
}

/// The identity provider of the gateway test: one ES256 key, served as a JWKS.
struct Idp {
    pair: ES256KeyPair,
    server: HttpServer,
}

impl Idp {
    fn start() -> Self {
        let pair = ES256KeyPair::generate().with_key_id("gateway-key");
        let jwk: Value = serde_json::from_str(&pair.public_key().to_jwk()).unwrap();
        let jwks = json!({ "keys": [jwk] });
        let server = HttpServer::start(move |_| Reply::json(200, &jwks));
        Self { pair, server }
    }

    /// A token the gateway's `idp` provider accepts: iss https://idp.example.com, aud notes-api, sub `sub`.
    fn token(&self, sub: &str) -> String {
        let claims = Claims::create(Duration::from_mins(5))
            .with_issuer("https://idp.example.com")
            .with_audience("notes-api")
            .with_subject(sub);
        self.pair.sign(claims).unwrap()
    }
}

/// The gateway example wired to the test's API upstream and identity provider.
fn gateway(api_port: u16, idp_port: u16) -> Option<Value> {
    let yaml = read_example("gateway.yaml");
    if missing_modules("gateway.yaml", &yaml) {
        return None;
    }
    let mut bootstrap = yaml_to_json(&with_built_modules(&yaml));
    on_free_ports(&mut bootstrap);
    cluster_to(&mut bootstrap, "api", api_port);
    cluster_to(&mut bootstrap, "idp", idp_port);
    Some(bootstrap)
}

#[test]
fn gateway_example_filters_run_in_order_headers_jwt_ratelimit_schema() {
    let idp = Idp::start();
    let api = Upstream::start();
    let Some(bootstrap) = gateway(api.port(), idp.server.port()) else {
        return;
    };
    // One module on the public listener; its `/api/` pipeline runs the four stages in order.
    let mut copy = bootstrap.clone();
    let filters = wasm_configs(&mut copy, "public");
    assert_eq!(filters.len(), 1, "the gateway runs more than the bundle");
    let code = &filters[0]["vm_config"]["code"]["local"]["filename"];
    assert!(code.as_str().unwrap().ends_with("/palisade.wasm"), "{code}");
    let bundle: Value =
        serde_json::from_str(filters[0]["configuration"]["value"].as_str().unwrap()).unwrap();
    let api_route = bundle["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["match"]["prefix"] == "/api/")
        .expect("no /api/ pipeline");
    assert_eq!(
        api_route["stages"],
        json!(["headers", "jwt", "ratelimit", "schema"])
    );
    let envoy = start(bootstrap);
    let bearer = format!("Bearer {}", idp.token("user-1"));

    // One request through all four filters.
    let resp = envoy
        .request("POST", "/api/notes")
        .header("authorization", &bearer)
        .header("content-type", "application/json")
        .header("x-jwt-claim-sub", "admin") // spoofed: headers drops it, jwt sets the real one
        .body(r#"{"title": "hello", "tags": ["a"]}"#)
        .send();
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["body"], r#"{"title": "hello", "tags": ["a"]}"#);
    assert_eq!(
        resp.upstream_header("x-jwt-claim-sub").as_deref(),
        Some("user-1")
    );
    assert_eq!(
        resp.upstream_header("authorization"),
        None,
        "the token went upstream"
    );
    assert_eq!(
        resp.header("x-content-type-options"),
        Some("nosniff"),
        "{:?}",
        resp.headers
    );
    assert_eq!(
        resp.header("server"),
        None,
        "the upstream's server header leaked"
    );
    assert!(
        resp.header("ratelimit-policy").is_some() || resp.header("ratelimit").is_some(),
        "no rate-limit headers: {:?}",
        resp.headers
    );
    assert_eq!(api.hits(), 1);

    // jwt refuses a request without a token; headers (first) still dresses the denial.
    let resp = envoy.request("GET", "/api/notes").send();
    assert_eq!(resp.status, 401, "{}", resp.text());
    assert!(resp
        .header("www-authenticate")
        .is_some_and(|v| v.starts_with("Bearer")));
    assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));

    // schema refuses a body the OpenAPI document does not allow, after jwt and ratelimit passed it.
    let resp = envoy
        .request("POST", "/api/notes")
        .header("authorization", &bearer)
        .header("content-type", "application/json")
        .body(r#"{"title": "", "owner": "someone-else"}"#)
        .send();
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(
        resp.header("content-type"),
        Some("application/problem+json")
    );

    // headers refuses a method the gateway does not allow, before jwt even looks.
    let resp = envoy
        .request("DELETE", "/api/notes")
        .header("authorization", &bearer)
        .send();
    assert_eq!(resp.status, 405, "{}", resp.text());
    assert_eq!(api.hits(), 1, "a refused request reached the API");

    // /healthz runs the headers stage only: no token, no schema, yet the answer is dressed.
    let resp = envoy.request("GET", "/healthz").send();
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(resp.header("server"), None);
    assert_eq!(api.hits(), 2);
    // Elsewhere outside /api/ the schema stage still refuses what the API does not have.
    let resp = envoy.request("GET", "/admin").send();
    assert_eq!(resp.status, 404, "{}", resp.text());
    assert_eq!(api.hits(), 2, "a refused request reached the API");
}

#[test]
fn gateway_listeners_share_one_vm_each_with_its_own_configuration() {
    let idp = Idp::start();
    let api = Upstream::start();
    let Some(shared) = gateway(api.port(), idp.server.port()) else {
        return;
    };
    let ids: Vec<String> = ["public", "internal"]
        .iter()
        .map(|l| {
            wasm_configs(&mut shared.clone(), l)[0]["vm_config"]["vm_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        ids[0], ids[1],
        "the example no longer shares the bundle's VM"
    );

    let mut separate = shared.clone();
    wasm_configs(&mut separate, "internal")[0]["vm_config"]["vm_id"] = json!("palisade_internal");

    let vms = |bootstrap: Value| -> (u64, Envoy) {
        let envoy = start(bootstrap);
        let count = envoy
            .stat("wasm.wasm_vm_count")
            .expect("no wasm.wasm_vm_count stat");
        (count, envoy)
    };
    let (separate_vms, separate_envoy) = vms(separate);
    drop(separate_envoy);
    let (shared_vms, envoy) = vms(shared);
    assert!(
        shared_vms < separate_vms,
        "sharing the vm_id saved no VM: {shared_vms} shared vs {separate_vms} separate"
    );

    // One VM, two configurations: the internal listener keeps `server`, the public one drops it.
    let internal = RequestBuilder::new(listener_addr(&envoy, "internal"), "GET", "/health").send();
    assert_eq!(internal.status, 200, "{}", internal.text());
    assert_eq!(internal.header("server"), Some("palisade-echo"));
    assert_eq!(internal.header("x-content-type-options"), Some("nosniff"));
    let public = envoy
        .request("GET", "/api/notes")
        .header("authorization", &format!("Bearer {}", idp.token("user-2")))
        .send();
    assert_eq!(public.status, 200, "{}", public.text());
    assert_eq!(public.header("server"), None);
}
