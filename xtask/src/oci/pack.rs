//! Packs one Wasm module as an OCI artifact in one of the three formats.

use super::archive::{canonical_json, reproducible_gzip, reproducible_tar, sha256_digest};
use super::media::{
    Format, CNCF_WASM_CONFIG, CNCF_WASM_LAYER, COMPAT_VARIANT_ANNOTATION, OCI_IMAGE_CONFIG,
    OCI_LAYER_TAR_GZIP, PLUGIN_FILE, PROXY_WASM_ABI, SOLO_CONFIG, SOLO_CONTENT_LAYER,
};
use oci_spec::image::{
    Arch, Descriptor, DescriptorBuilder, Digest, ImageConfigurationBuilder, ImageManifestBuilder,
    MediaType, Os, RootFsBuilder, ANNOTATION_CREATED, ANNOTATION_DESCRIPTION, ANNOTATION_LICENSES,
    ANNOTATION_REVISION, ANNOTATION_SOURCE, ANNOTATION_TITLE, ANNOTATION_VERSION,
};
use serde_json::json;
use std::collections::HashMap;
use std::str::FromStr;

/// What the annotations say about a module (see `metadata.rs` for where it comes from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Short filter name (`headers`); the root id is `palisade_<filter>`.
    pub filter: String,
    /// `org.opencontainers.image.title`, e.g. `palisade-headers`.
    pub title: String,
    /// `org.opencontainers.image.description`.
    pub description: String,
    /// `org.opencontainers.image.version`.
    pub version: String,
    /// `org.opencontainers.image.source` (repository URL).
    pub source: String,
    /// `org.opencontainers.image.revision` (git commit).
    pub revision: String,
    /// `org.opencontainers.image.licenses` (SPDX).
    pub licenses: String,
    /// `org.opencontainers.image.created`, RFC 3339; fixed per commit so builds reproduce.
    pub created: String,
}

/// One content-addressed blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Its media type in the manifest.
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl Blob {
    fn new(media_type: &str, bytes: Vec<u8>) -> Self {
        Self {
            media_type: media_type.to_string(),
            digest: sha256_digest(&bytes),
            bytes,
        }
    }

    fn descriptor(&self, title: Option<&str>) -> Result<Descriptor, String> {
        let mut builder = DescriptorBuilder::default()
            .media_type(media_type(&self.media_type))
            .digest(parse_digest(&self.digest)?)
            .size(self.bytes.len() as u64);
        if let Some(title) = title {
            builder = builder.annotations(HashMap::from([(
                ANNOTATION_TITLE.to_string(),
                title.to_string(),
            )]));
        }
        builder.build().map_err(|e| format!("descriptor: {e}"))
    }
}

/// A packed artifact: the manifest bytes exactly as pushed, and every blob it references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// The format.
    pub format: Format,
    /// Manifest bytes (canonical JSON).
    pub manifest: Vec<u8>,
    /// The manifest digest: what `@sha256:...` references and Istio's `sha256` field pin.
    pub digest: String,
    /// The config blob.
    pub config: Blob,
    /// The layers, in manifest order (the Solo format repeats the config as its first layer).
    pub layers: Vec<Blob>,
}

impl Artifact {
    /// Config and layers, each digest once.
    pub fn blobs(&self) -> Vec<&Blob> {
        let mut out: Vec<&Blob> = vec![&self.config];
        for layer in &self.layers {
            if out.iter().all(|b| b.digest != layer.digest) {
                out.push(layer);
            }
        }
        out
    }
}

/// The four bytes every Wasm binary starts with.
const WASM_MAGIC: &[u8] = b"\0asm";

/// Packs `wasm` in `format`. Same module and metadata, same bytes and digest.
pub fn pack(format: Format, wasm: &[u8], meta: &Metadata) -> Result<Artifact, String> {
    if !wasm.starts_with(WASM_MAGIC) {
        return Err(format!(
            "{}: not a WebAssembly module (no \\0asm magic)",
            meta.title
        ));
    }
    let root_id = format!("palisade_{}", meta.filter);
    let (config, layers, layer_titles): (Blob, Vec<Blob>, Vec<Option<String>>) = match format {
        Format::Compat => {
            let tar = reproducible_tar(PLUGIN_FILE, wasm)?;
            let diff_id = sha256_digest(&tar);
            let layer = Blob::new(OCI_LAYER_TAR_GZIP, reproducible_gzip(&tar)?);
            let image_config = ImageConfigurationBuilder::default()
                .created(meta.created.clone())
                .architecture(Arch::Wasm)
                .os(Os::Other("wasip1".to_string()))
                .rootfs(
                    RootFsBuilder::default()
                        .typ("layers")
                        .diff_ids(vec![diff_id])
                        .build()
                        .map_err(|e| format!("rootfs: {e}"))?,
                )
                .build()
                .map_err(|e| format!("image config: {e}"))?;
            let config = Blob::new(OCI_IMAGE_CONFIG, canonical_json(&image_config)?);
            (config, vec![layer], vec![None])
        }
        Format::SoloOci => {
            // Solo's runtime config (wasme's field names); `rootIds` tells a control plane which
            // root id to configure.
            let runtime = json!({
                "type": "envoy_proxy",
                "abiVersions": [PROXY_WASM_ABI],
                "config": {"rootIds": [root_id]},
            });
            let config = Blob::new(SOLO_CONFIG, canonical_json(&runtime)?);
            let content = Blob::new(SOLO_CONTENT_LAYER, wasm.to_vec());
            // Istio's fetcher wants exactly two layers here: the config, then the module.
            (
                config.clone(),
                vec![config, content],
                vec![
                    Some("runtime-config.json".to_string()),
                    Some(PLUGIN_FILE.to_string()),
                ],
            )
        }
        Format::CncfWasm => {
            let layer = Blob::new(CNCF_WASM_LAYER, wasm.to_vec());
            let wasm_config = json!({
                "created": meta.created,
                "author": "Palisade",
                "architecture": "wasm",
                "os": "wasip1",
                "layerDigests": [layer.digest],
            });
            let config = Blob::new(CNCF_WASM_CONFIG, canonical_json(&wasm_config)?);
            (config, vec![layer], vec![Some(format!("{root_id}.wasm"))])
        }
    };

    let mut annotations = HashMap::from([
        (ANNOTATION_TITLE.to_string(), meta.title.clone()),
        (ANNOTATION_DESCRIPTION.to_string(), meta.description.clone()),
        (ANNOTATION_VERSION.to_string(), meta.version.clone()),
        (ANNOTATION_SOURCE.to_string(), meta.source.clone()),
        (ANNOTATION_REVISION.to_string(), meta.revision.clone()),
        (ANNOTATION_LICENSES.to_string(), meta.licenses.clone()),
        (ANNOTATION_CREATED.to_string(), meta.created.clone()),
    ]);
    if format == Format::Compat {
        annotations.insert(COMPAT_VARIANT_ANNOTATION.to_string(), "compat".to_string());
    }
    let layer_descriptors = layers
        .iter()
        .zip(&layer_titles)
        .map(|(blob, title)| blob.descriptor(title.as_deref()))
        .collect::<Result<Vec<_>, _>>()?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config.descriptor(None)?)
        .layers(layer_descriptors)
        .annotations(annotations)
        .build()
        .map_err(|e| format!("manifest: {e}"))?;
    let manifest = canonical_json(&manifest)?;
    Ok(Artifact {
        format,
        digest: sha256_digest(&manifest),
        manifest,
        config,
        layers,
    })
}

fn media_type(s: &str) -> MediaType {
    MediaType::from(s)
}

fn parse_digest(s: &str) -> Result<Digest, String> {
    Digest::from_str(s).map_err(|e| format!("digest {s}: {e}"))
}
