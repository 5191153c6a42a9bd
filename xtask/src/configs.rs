//! The filter configurations a file holds: a filter's own JSON configuration, the `configuration`
//! of every Palisade Wasm filter in an Envoy bootstrap (YAML or JSON), the `pluginConfig` of
//! every Istio `WasmPlugin` or the `config` of every Envoy Gateway `EnvoyExtensionPolicy` Wasm
//! extension in a manifest (YAML, any number of documents).

use serde::Deserialize;
use serde_json::Value;
use std::path::Path;

/// The filters, in gateway order.
pub const FILTERS: [&str; 4] = ["headers", "jwt", "ratelimit", "schema"];

/// The bundle (`palisade.wasm`): every filter as a stage of one module.
pub const BUNDLE: &str = "palisade";

/// Whether a name is the bundle's: `palisade`, `.../palisade.wasm`, `oci://.../palisade:0.1.0`.
fn names_bundle(name: &str) -> bool {
    let last = name.rsplit('/').next().unwrap_or(name);
    let stem = last.split(['.', ':', '@']).next().unwrap_or(last);
    stem.eq_ignore_ascii_case(BUNDLE)
}

/// Envoy's HTTP Wasm filter, whose `config` is a `PluginConfig`.
const WASM_FILTER_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";

/// One filter configuration and where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundConfig {
    /// Where in the file (`static_resources.listeners[0]. ... .http_filters[1]`); empty: the file.
    pub location: String,
    /// The filter it configures (`headers`, `jwt`, `ratelimit`, `schema`).
    pub filter: String,
    /// The bytes the filter's `on_configure` would read.
    pub json: Vec<u8>,
}

/// Every filter configuration in `bytes`, read from `path`. `filter` names the filter of a plain
/// configuration (default: inferred from the file name) and of Wasm filters no name identifies.
pub fn configs_in(
    path: &Path,
    bytes: &[u8],
    filter: Option<&str>,
) -> Result<Vec<FoundConfig>, String> {
    if let Some(f) = filter {
        known_filter(f)?;
    }
    let yaml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    if yaml {
        let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
        let mut found = Vec::new();
        for (i, doc) in serde_norway::Deserializer::from_str(text).enumerate() {
            let doc = Value::deserialize(doc).map_err(|e| format!("invalid YAML: {e}"))?;
            if doc.is_null() {
                continue;
            }
            let known = in_document(&doc, filter)?;
            if known.is_none() && !doc.is_object() {
                return Err(format!("document {i} is not an object"));
            }
            found.extend(known.unwrap_or_default());
        }
        return Ok(found);
    }
    // A filter's own configuration goes to its parser byte for byte (duplicate keys, syntax).
    if let Ok(doc) = serde_json::from_slice::<Value>(bytes) {
        if let Some(found) = in_document(&doc, filter)? {
            return Ok(found);
        }
    }
    let filter = match filter {
        Some(f) => f.to_string(),
        None => filter_of_file(path)?,
    };
    Ok(vec![FoundConfig {
        location: String::new(),
        filter,
        json: bytes.to_vec(),
    }])
}

/// The configurations in an Envoy bootstrap or an Istio manifest; `None` for anything else.
fn in_document(doc: &Value, filter: Option<&str>) -> Result<Option<Vec<FoundConfig>>, String> {
    match doc.get("kind").and_then(Value::as_str) {
        Some("WasmPlugin") => {
            return wasm_plugin(doc, filter).map(|c| Some(c.into_iter().collect()));
        }
        Some("EnvoyExtensionPolicy") => return extension_policy(doc, filter).map(Some),
        _ => {}
    }
    let is_bootstrap = ["static_resources", "dynamic_resources", "admin"]
        .iter()
        .any(|k| doc.get(k).is_some());
    if !is_bootstrap {
        return Ok(None);
    }
    let mut found = Vec::new();
    walk(doc, &mut String::new(), filter, &mut found)?;
    Ok(Some(found))
}

/// An Istio `WasmPlugin`: `spec.pluginConfig`, for the filter `spec.pluginName` names.
fn wasm_plugin(doc: &Value, filter: Option<&str>) -> Result<Option<FoundConfig>, String> {
    let name = doc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let location = format!("WasmPlugin {name}: spec.pluginConfig");
    let spec = doc.get("spec");
    let named = [
        spec.and_then(|s| s.get("pluginName")),
        spec.and_then(|s| s.get("url")),
    ];
    let Some(filter) = identify(named.iter().flatten().filter_map(|v| v.as_str()), filter)? else {
        return Ok(None);
    };
    let config = spec
        .and_then(|s| s.get("pluginConfig"))
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    let json = serde_json::to_vec(&config).map_err(|e| format!("{location}: {e}"))?;
    Ok(Some(FoundConfig {
        location,
        filter,
        json,
    }))
}

/// An Envoy Gateway `EnvoyExtensionPolicy`: `spec.wasm[i].config` of each Palisade extension
/// (named by `rootID`, `name` or the image or HTTP URL).
fn extension_policy(doc: &Value, filter: Option<&str>) -> Result<Vec<FoundConfig>, String> {
    let name = doc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let mut found = Vec::new();
    let extensions = doc.pointer("/spec/wasm").and_then(Value::as_array);
    for (i, wasm) in extensions.into_iter().flatten().enumerate() {
        let location = format!("EnvoyExtensionPolicy {name}: spec.wasm[{i}].config");
        let names = ["/rootID", "/name", "/code/image/url", "/code/http/url"];
        let named = names.iter().filter_map(|p| wasm.pointer(p)?.as_str());
        let Some(filter) = identify(named, filter).map_err(|e| format!("{location}: {e}"))? else {
            continue;
        };
        let config = wasm
            .get("config")
            .cloned()
            .unwrap_or_else(|| Value::Object(Default::default()));
        let json = serde_json::to_vec(&config).map_err(|e| format!("{location}: {e}"))?;
        found.push(FoundConfig {
            location,
            filter,
            json,
        });
    }
    Ok(found)
}

/// Finds every Envoy HTTP Wasm filter below `value`; `at` is the path of `value`.
fn walk(
    value: &Value,
    at: &mut String,
    filter: Option<&str>,
    found: &mut Vec<FoundConfig>,
) -> Result<(), String> {
    match value {
        Value::Object(map) => {
            if let Some(config) = map
                .get("typed_config")
                .filter(|t| t.get("@type").and_then(Value::as_str) == Some(WASM_FILTER_TYPE))
                .and_then(|t| t.get("config"))
            {
                if let Some(c) = wasm_filter(config, at, filter)? {
                    found.push(c);
                }
                return Ok(());
            }
            for (key, child) in map {
                let len = at.len();
                if !at.is_empty() {
                    at.push('.');
                }
                at.push_str(key);
                walk(child, at, filter, found)?;
                at.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let len = at.len();
                at.push_str(&format!("[{i}]"));
                walk(child, at, filter, found)?;
                at.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

/// One Wasm filter's `PluginConfig`: its filter (from `root_id`, `name` or the module's file or
/// URL) and the configuration Envoy hands to `on_configure`. `None`: not a Palisade filter.
fn wasm_filter(
    config: &Value,
    at: &str,
    filter: Option<&str>,
) -> Result<Option<FoundConfig>, String> {
    let names = [
        "/root_id",
        "/name",
        "/vm_config/code/local/filename",
        "/vm_config/code/remote/http_uri/uri",
    ];
    let named = names.iter().filter_map(|p| config.pointer(p)?.as_str());
    let Some(filter) = identify(named, filter).map_err(|e| format!("{at}: {e}"))? else {
        return Ok(None);
    };
    let json =
        plugin_configuration(config.get("configuration")).map_err(|e| format!("{at}: {e}"))?;
    Ok(Some(FoundConfig {
        location: at.to_string(),
        filter,
        json,
    }))
}

/// What Envoy passes to `on_configure`: a `StringValue`'s or `BytesValue`'s value as is, a
/// `Struct` as JSON, nothing when there is no configuration.
fn plugin_configuration(configuration: Option<&Value>) -> Result<Vec<u8>, String> {
    let Some(configuration) = configuration else {
        return Ok(Vec::new());
    };
    let kind = configuration.get("@type").and_then(Value::as_str);
    let value = configuration.get("value");
    match (kind, value) {
        (Some("type.googleapis.com/google.protobuf.StringValue"), Some(Value::String(s))) => {
            Ok(s.clone().into_bytes())
        }
        (Some("type.googleapis.com/google.protobuf.BytesValue"), Some(Value::String(b64))) => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("configuration: BytesValue is not base64: {e}"))
        }
        (Some("type.googleapis.com/google.protobuf.Struct"), Some(v)) => {
            serde_json::to_vec(v).map_err(|e| e.to_string())
        }
        (Some(_), None) => Ok(Vec::new()),
        (kind, _) => Err(format!(
            "configuration of type {} is not read here (StringValue, BytesValue or Struct)",
            kind.unwrap_or("(none)")
        )),
    }
}

/// The Palisade filter some names identify; `default` when none does; `None` when they name no
/// Palisade filter at all.
fn identify<'a>(
    names: impl Iterator<Item = &'a str>,
    default: Option<&str>,
) -> Result<Option<String>, String> {
    let mut palisade = false;
    let mut bundle = false;
    for name in names {
        bundle |= names_bundle(name);
        let lower = name.to_ascii_lowercase();
        palisade |= lower.contains("palisade");
        // The first filter name after `palisade`: `palisade_jwt`, `.../palisade_jwt.wasm`,
        // `oci://ghcr.io/palisade/palisade/jwt:0.1.0`.
        let mut words = lower
            .split(|c: char| !c.is_ascii_alphanumeric())
            .skip_while(|w| *w != "palisade");
        if let Some(f) = words.find_map(|w| FILTERS.iter().find(|f| **f == w)) {
            return Ok(Some((*f).to_string()));
        }
    }
    match default {
        Some(f) => Ok(Some(f.to_string())),
        None if bundle => Ok(Some(BUNDLE.to_string())),
        None if palisade => Err("a Palisade filter, but which one? give --filter".into()),
        None => Ok(None),
    }
}

/// The filter a configuration file is for, from its name (`ratelimit.json`,
/// `palisade_jwt-demo.json`) or else its folder's (`broken/schema/no-openapi.json`).
pub fn filter_of_file(path: &Path) -> Result<String, String> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let folder = path
        .parent()
        .and_then(Path::file_name)
        .and_then(|s| s.to_str())
        .unwrap_or("");
    if names_bundle(stem) {
        return Ok(BUNDLE.to_string());
    }
    for name in [stem, folder] {
        let mut matches = FILTERS.iter().filter(|f| {
            name.split(|c: char| !c.is_ascii_alphanumeric())
                .any(|w| w.eq_ignore_ascii_case(f))
        });
        match (matches.next(), matches.next()) {
            (Some(f), None) => return Ok((*f).to_string()),
            (Some(_), Some(_)) => break,
            _ => {}
        }
    }
    Err(format!(
        "neither its name nor its folder's names a filter: give --filter ({})",
        FILTERS.join(", ")
    ))
}

/// `Ok` for a filter name this workspace has.
pub fn known_filter(name: &str) -> Result<(), String> {
    if FILTERS.contains(&name) || name == BUNDLE {
        Ok(())
    } else {
        Err(format!(
            "no filter `{name}` (filters: {}, or the bundle `{BUNDLE}`)",
            FILTERS.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn found(path: &str, text: &str, filter: Option<&str>) -> Result<Vec<FoundConfig>, String> {
        configs_in(Path::new(path), text.as_bytes(), filter)
    }

    #[test]
    fn the_bundle_is_known_by_its_module_name_and_a_filter_by_its_own() {
        let names = |n: &[&str]| identify(n.iter().copied(), None);
        assert_eq!(
            names(&["palisade", "/etc/palisade/palisade.wasm"]),
            Ok(Some("palisade".into()))
        );
        assert_eq!(
            names(&["oci://ghcr.io/palisade/palisade:0.1.0"]),
            Ok(Some("palisade".into()))
        );
        assert_eq!(
            names(&["palisade_jwt", "/etc/palisade/palisade_jwt.wasm"]),
            Ok(Some("jwt".into()))
        );
        assert!(names(&["palisade_waf"]).is_err());
        assert_eq!(
            filter_of_file(Path::new("envoy/demo/palisade.json")),
            Ok("palisade".into())
        );
        assert!(known_filter("palisade").is_ok());
    }

    #[test]
    fn a_plain_configuration_is_passed_on_byte_for_byte() {
        let text = r#"{"slots": 8, "slots": 9}"#;
        let c = found("envoy/demo/ratelimit.json", text, None).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].filter, "ratelimit");
        assert_eq!(c[0].location, "");
        assert_eq!(c[0].json, text.as_bytes());
        // Not even JSON: the filter's parser says so.
        let c = found("x/palisade_jwt.json", "{", None).unwrap();
        assert_eq!(
            (c[0].filter.as_str(), c[0].json.as_slice()),
            ("jwt", &b"{"[..])
        );
    }

    #[test]
    fn the_filter_comes_from_the_flag_the_file_or_its_folder() {
        assert_eq!(
            found("a.json", "{}", Some("schema")).unwrap()[0].filter,
            "schema"
        );
        assert_eq!(
            filter_of_file(Path::new("broken/headers/x.json")).unwrap(),
            "headers"
        );
        assert_eq!(
            filter_of_file(Path::new("jwt/headers.json")).unwrap(),
            "headers"
        );
        assert!(filter_of_file(Path::new("config.json")).is_err());
        assert!(filter_of_file(Path::new("jwt-and-schema.json")).is_err());
        assert!(found("a.json", "{}", Some("cors")).is_err());
    }

    fn wasm_entry(root_id: &str, configuration: Value) -> Value {
        json!({"name": "envoy.filters.http.wasm", "typed_config": {
            "@type": WASM_FILTER_TYPE,
            "config": {"root_id": root_id, "configuration": configuration}}})
    }

    #[test]
    fn a_bootstrap_yields_each_palisade_wasm_filter_with_its_path() {
        let bootstrap = json!({"static_resources": {"listeners": [{"filter_chains": [{"filters": [{
        "typed_config": {"http_filters": [
            wasm_entry("palisade_headers", json!({
                "@type": "type.googleapis.com/google.protobuf.StringValue",
                "value": "{\"preset\": \"none\"}"})),
            wasm_entry("someone_elses", json!({})),
            wasm_entry("palisade_ratelimit", json!({
                "@type": "type.googleapis.com/google.protobuf.Struct",
                "value": {"slots": 8}})),
            wasm_entry("palisade_jwt", json!({
                "@type": "type.googleapis.com/google.protobuf.BytesValue",
                "value": "e30="})),
            {"name": "envoy.filters.http.router"}
        ]}}]}]}]}});
        let text = serde_json::to_string(&bootstrap).unwrap();
        let c = found("envoy.json", &text, None).unwrap();
        let at =
            "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters";
        assert_eq!(
            c,
            vec![
                FoundConfig {
                    location: format!("{at}[0]"),
                    filter: "headers".into(),
                    json: br#"{"preset": "none"}"#.to_vec()
                },
                FoundConfig {
                    location: format!("{at}[2]"),
                    filter: "ratelimit".into(),
                    json: br#"{"slots":8}"#.to_vec()
                },
                FoundConfig {
                    location: format!("{at}[3]"),
                    filter: "jwt".into(),
                    json: b"{}".to_vec()
                },
            ]
        );
        // YAML reads the same.
        let yaml = serde_norway::to_string(&bootstrap).unwrap();
        assert_eq!(found("envoy.yaml", &yaml, None).unwrap(), c);
    }

    #[test]
    fn the_module_file_or_url_names_the_filter_when_the_root_id_does_not() {
        let entry = |code: Value| {
            json!({"admin": {}, "x": [{"typed_config": {"@type": WASM_FILTER_TYPE, "config": {
                "root_id": "main", "vm_config": {"code": code}}}}]})
        };
        let local = entry(json!({"local": {"filename": "/etc/palisade/palisade_schema.wasm"}}));
        let c = found("e.json", &local.to_string(), None).unwrap();
        assert_eq!(
            (c[0].filter.as_str(), c[0].location.as_str()),
            ("schema", "x[0]")
        );
        assert!(c[0].json.is_empty());
        let remote = entry(json!({"remote": {"http_uri": {"uri": "http://m/palisade_jwt.wasm"}}}));
        assert_eq!(
            found("e.json", &remote.to_string(), None).unwrap()[0].filter,
            "jwt"
        );
        let unknown = entry(json!({"local": {"filename": "palisade_cors.wasm"}}));
        assert!(found("e.json", &unknown.to_string(), None).is_err());
        assert_eq!(
            found("e.json", &unknown.to_string(), Some("headers")).unwrap()[0].filter,
            "headers"
        );
    }

    #[test]
    fn an_extension_policy_yields_each_palisade_extensions_config() {
        let yaml = "
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: EnvoyExtensionPolicy
metadata: {name: api}
spec:
  wasm:
    - rootID: palisade_jwt
      code: {type: Image, image: {url: ghcr.io/palisade/palisade/jwt:0.1.0}}
      config: {providers: {}}
    - name: someone-elses
      code: {type: HTTP, http: {url: https://example.com/other.wasm}}
    - code: {type: Image, image: {url: ghcr.io/palisade/palisade/headers:0.1.0}}
";
        let c = found("eg.yaml", yaml, None).unwrap();
        assert_eq!(
            c,
            vec![
                FoundConfig {
                    location: "EnvoyExtensionPolicy api: spec.wasm[0].config".into(),
                    filter: "jwt".into(),
                    json: br#"{"providers":{}}"#.to_vec()
                },
                FoundConfig {
                    location: "EnvoyExtensionPolicy api: spec.wasm[2].config".into(),
                    filter: "headers".into(),
                    json: b"{}".to_vec()
                },
            ]
        );
    }

    #[test]
    fn a_manifest_yields_each_wasm_plugins_plugin_config() {
        let yaml = "
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: palisade-jwt}
spec:
  url: oci://ghcr.io/palisade/palisade/jwt:0.1.0
  pluginName: palisade_jwt
  pluginConfig: {providers: {}}
---
kind: RequestAuthentication
metadata: {name: other}
---
kind: WasmPlugin
metadata: {name: bare}
spec: {url: oci://ghcr.io/palisade/palisade/headers:0.1.0}
";
        let c = found("istio/jwt.yaml", yaml, None).unwrap();
        assert_eq!(
            c,
            vec![
                FoundConfig {
                    location: "WasmPlugin palisade-jwt: spec.pluginConfig".into(),
                    filter: "jwt".into(),
                    json: br#"{"providers":{}}"#.to_vec()
                },
                FoundConfig {
                    location: "WasmPlugin bare: spec.pluginConfig".into(),
                    filter: "headers".into(),
                    json: b"{}".to_vec()
                },
            ]
        );
    }
}
