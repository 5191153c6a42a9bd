//! Writes an artifact as an OCI image layout directory (what `oras`, `skopeo`, `crane` read).

use super::archive::canonical_json;
use super::pack::Artifact;
use oci_spec::image::{
    DescriptorBuilder, Digest, ImageIndexBuilder, MediaType, OciLayoutBuilder, ANNOTATION_REF_NAME,
};
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

/// Replaces `dir` with a layout holding `artifact` under the reference name `tag`:
/// `oci-layout`, `index.json`, and `blobs/sha256/<hex>` for the manifest and every blob.
pub fn write_layout(artifact: &Artifact, dir: &Path, tag: &str) -> Result<(), String> {
    let io = |what: &Path, e: std::io::Error| format!("{}: {e}", what.display());
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| io(dir, e))?;
    }
    let blobs = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).map_err(|e| io(&blobs, e))?;

    let write_blob = |digest: &str, bytes: &[u8]| -> Result<(), String> {
        let hex = digest
            .strip_prefix("sha256:")
            .ok_or_else(|| format!("not a sha256 digest: {digest}"))?;
        let path = blobs.join(hex);
        std::fs::write(&path, bytes).map_err(|e| io(&path, e))
    };
    write_blob(&artifact.digest, &artifact.manifest)?;
    for blob in artifact.blobs() {
        write_blob(&blob.digest, &blob.bytes)?;
    }

    let layout = OciLayoutBuilder::default()
        .image_layout_version("1.0.0")
        .build()
        .map_err(|e| format!("oci-layout: {e}"))?;
    let path = dir.join("oci-layout");
    std::fs::write(&path, canonical_json(&layout)?).map_err(|e| io(&path, e))?;

    let manifest = DescriptorBuilder::default()
        .media_type(MediaType::ImageManifest)
        .digest(Digest::from_str(&artifact.digest).map_err(|e| e.to_string())?)
        .size(artifact.manifest.len() as u64)
        .annotations(HashMap::from([(
            ANNOTATION_REF_NAME.to_string(),
            tag.to_string(),
        )]))
        .build()
        .map_err(|e| format!("index descriptor: {e}"))?;
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![manifest])
        .build()
        .map_err(|e| format!("index.json: {e}"))?;
    let path = dir.join("index.json");
    std::fs::write(&path, canonical_json(&index)?).map_err(|e| io(&path, e))
}
