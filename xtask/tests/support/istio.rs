//! Pulls an image from the registry the way Istio's Wasm image fetcher does
//! (istio/istio pkg/wasm/imagefetcher.go, read for these rules; no code taken):
//! the manifest must be an image manifest; first the *compat* reading (the LAST layer is
//! `application/vnd.oci.image.layer.v1.tar+gzip`, gunzipped and untarred, and the first entry
//! whose base name is `plugin.wasm` is the module); failing that the *oci* reading (EXACTLY two
//! layers, one of them `application/vnd.module.wasm.content.layer.v1+wasm`, taken raw).
//! Anything else Istio refuses, and so is a module that does not start with the Wasm magic and
//! version (8 bytes). With a `sha256` (or `@sha256:`) Istio compares it to the manifest digest.

use super::registry::LocalRegistry;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Read;

/// What go-containerregistry's `remote.Get` accepts (Istio pulls through it).
const ACCEPT: &str = "application/vnd.docker.distribution.manifest.v1+json,\
application/vnd.docker.distribution.manifest.v1+prettyjws,\
application/vnd.docker.distribution.manifest.v2+json,\
application/vnd.oci.image.manifest.v1+json,\
application/vnd.docker.distribution.manifest.list.v2+json,\
application/vnd.oci.image.index.v1+json";

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_LAYER_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const SOLO_CONTENT_LAYER: &str = "application/vnd.module.wasm.content.layer.v1+wasm";

/// A manifest as the registry serves it.
pub struct PulledManifest {
    /// `Content-Type` of the answer (what go-containerregistry takes as the media type).
    pub content_type: String,
    /// `Docker-Content-Digest` of the answer.
    pub digest: String,
    /// The raw bytes.
    pub bytes: Vec<u8>,
    /// Parsed.
    pub json: Value,
}

/// Which reading Istio used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IstioReading {
    /// The compat image (tar.gz layer with plugin.wasm).
    Compat,
    /// The Solo oci artifact (raw module layer among two).
    Oci,
}

/// `sha256:<hex>`, computed here independently of xtask.
pub fn sha256(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// GETs a manifest by tag or digest.
pub fn pull_manifest(registry: &LocalRegistry, repo: &str, reference: &str) -> PulledManifest {
    let resp = registry
        .get(
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("accept", ACCEPT)],
        )
        .unwrap();
    assert_eq!(
        resp.status,
        200,
        "manifest {repo}:{reference}: {}",
        resp.text()
    );
    PulledManifest {
        content_type: resp.header("content-type").unwrap_or_default().to_string(),
        digest: resp
            .header("docker-content-digest")
            .unwrap_or_default()
            .to_string(),
        json: serde_json::from_slice(&resp.body).unwrap(),
        bytes: resp.body,
    }
}

/// GETs a blob and checks it hashes to its digest.
pub fn pull_blob(registry: &LocalRegistry, repo: &str, digest: &str) -> Vec<u8> {
    let resp = registry
        .get(&format!("/v2/{repo}/blobs/{digest}"), &[])
        .unwrap();
    assert_eq!(resp.status, 200, "blob {digest}: {}", resp.text());
    assert_eq!(
        sha256(&resp.body),
        digest,
        "blob content does not match its digest"
    );
    resp.body
}

/// The module Istio would load from `repo:reference`, and which reading found it; `Err` says
/// why Istio would refuse the image.
pub fn istio_fetch(
    registry: &LocalRegistry,
    repo: &str,
    reference: &str,
) -> Result<(IstioReading, Vec<u8>), String> {
    let manifest = pull_manifest(registry, repo, reference);
    if manifest.content_type != OCI_MANIFEST {
        return Err(format!("not an image manifest: {}", manifest.content_type));
    }
    let layers = manifest.json["layers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let media = |layer: &Value| layer["mediaType"].as_str().unwrap_or_default().to_string();

    let compat = match layers.last() {
        None => Err("number of layers must be greater than zero".to_string()),
        Some(last) if media(last) != OCI_LAYER_TAR_GZIP => {
            Err(format!("invalid media type {}", media(last)))
        }
        Some(last) => {
            let blob = pull_blob(registry, repo, last["digest"].as_str().unwrap());
            plugin_from_tar_gz(&blob)
        }
    };
    let compat_err = match compat {
        Ok(module) => return valid_wasm(module).map(|m| (IstioReading::Compat, m)),
        Err(e) => e,
    };

    if layers.len() != 2 {
        return Err(format!(
            "compat: {compat_err}; oci: number of layers must be 2 but got {}",
            layers.len()
        ));
    }
    let content = layers
        .iter()
        .find(|l| media(l) == SOLO_CONTENT_LAYER)
        .ok_or_else(|| format!("compat: {compat_err}; oci: no {SOLO_CONTENT_LAYER} layer"))?;
    let module = pull_blob(registry, repo, content["digest"].as_str().unwrap());
    valid_wasm(module).map(|m| (IstioReading::Oci, m))
}

/// Istio's last check of a fetched module: Wasm magic and room for the version.
fn valid_wasm(module: Vec<u8>) -> Result<Vec<u8>, String> {
    if module.len() >= 8 && module.starts_with(b"\0asm") {
        Ok(module)
    } else {
        Err("fetched Wasm binary is invalid".to_string())
    }
}

/// The first tar entry whose base name is `plugin.wasm`, from a tar.gz.
pub fn plugin_from_tar_gz(blob: &[u8]) -> Result<Vec<u8>, String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(blob));
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        if path.file_name().is_some_and(|n| n == "plugin.wasm") {
            let mut module = Vec::new();
            entry.read_to_end(&mut module).map_err(|e| e.to_string())?;
            return Ok(module);
        }
    }
    Err("plugin.wasm not found in the archive".to_string())
}
