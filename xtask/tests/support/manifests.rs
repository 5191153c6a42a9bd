//! The fields the docs promise in Kubernetes manifests (Envoy Gateway), checked once for the
//! files in `envoy/` and for the blocks in the docs.

use serde_json::Value;

/// A filter's own config check, as its `on_configure` runs it.
pub fn check_config(filter: &str, config: &Value) -> Result<(), String> {
    let json = serde_json::to_vec(config).map_err(|e| e.to_string())?;
    xtask::check_config::check(filter, &json).map_err(|e| e.to_string())
}

/// An `EnvoyExtensionPolicy`: attached to a Gateway or HTTPRoute, each Wasm extension from the
/// compat image of this version, pinned by a sha256, failing closed, with a configuration its
/// filter accepts. Returns the filters, in order.
pub fn check_extension_policy(at: &str, doc: &Value) -> Vec<String> {
    assert_eq!(doc["apiVersion"], "gateway.envoyproxy.io/v1alpha1", "{at}");
    assert_eq!(doc["kind"], "EnvoyExtensionPolicy", "{at}");
    let spec = &doc["spec"];
    let targets = spec["targetRefs"].as_array().cloned().unwrap_or_default();
    assert!(!targets.is_empty(), "{at}: no targetRefs");
    for t in &targets {
        assert_eq!(t["group"], "gateway.networking.k8s.io", "{at}: {t}");
        assert!(
            ["Gateway", "HTTPRoute"].contains(&t["kind"].as_str().unwrap_or("")),
            "{at}: {t}"
        );
        assert!(t["name"].is_string(), "{at}: {t}");
    }
    let version = env!("CARGO_PKG_VERSION");
    let mut filters = Vec::new();
    for wasm in spec["wasm"].as_array().into_iter().flatten() {
        let root_id = wasm["rootID"].as_str().unwrap_or_default();
        // `palisade_<filter>` for one filter's module, `palisade` for the bundle.
        let filter = root_id
            .strip_prefix("palisade_")
            .or((root_id == "palisade").then_some("palisade"))
            .unwrap_or_else(|| {
                panic!("{at}: rootID {root_id} is not palisade_<filter> or palisade")
            });
        let code = &wasm["code"];
        assert_eq!(code["type"], "Image", "{at}: {filter}");
        // `cargo xtask oci --push REGISTRY/REPO:TAG` publishes the compat image at REGISTRY/REPO/<filter>:TAG.
        let url = code["image"]["url"].as_str().unwrap_or_default();
        assert!(
            url.ends_with(&format!("/{filter}:{version}")),
            "{at}: image {url} is not REGISTRY/REPO/{filter}:{version}"
        );
        let sha = code["sha256"].as_str().unwrap_or_default();
        assert!(
            sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
            "{at}: {filter}: sha256 `{sha}` is not 64 hex digits"
        );
        assert_eq!(wasm["failOpen"], false, "{at}: {filter} must fail closed");
        check_config(filter, &wasm["config"])
            .unwrap_or_else(|e| panic!("{at}: palisade-{filter} refuses its config: {e}"));
        filters.push(filter.to_string());
    }
    assert!(!filters.is_empty(), "{at}: no wasm");
    filters
}

/// A `WasmPlugin`: the compat image, fail closed, an HTTP filter, with a configuration its
/// filter accepts.
pub fn check_wasm_plugin(at: &str, doc: &Value) {
    let spec = &doc["spec"];
    let plugin = spec["pluginName"].as_str().unwrap_or_default();
    let filter = plugin
        .strip_prefix("palisade_")
        .or((plugin == "palisade").then_some("palisade"))
        .unwrap_or_else(|| panic!("{at}: pluginName {plugin}"));
    assert!(
        spec["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("oci://")),
        "{at}: url"
    );
    assert_eq!(spec["failStrategy"], "FAIL_CLOSE", "{at}");
    check_config(filter, &spec["pluginConfig"]).unwrap_or_else(|e| panic!("{at}: {e}"));
}
