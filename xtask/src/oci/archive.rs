//! Byte-exact building blocks: content digests, canonical JSON, and a reproducible tar.gz.
//! Everything here is a pure function of its input, so the same module always gives the same digest.

use flate2::{Compression, GzBuilder};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// `sha256:<hex>` of some bytes (the OCI content address).
pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in hash.iter() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Canonical JSON (sorted keys, no whitespace): the same value always serialises to the same bytes,
/// whatever order the source maps iterate in.
pub fn canonical_json(value: &impl Serialize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut ser =
        serde_json::Serializer::with_formatter(&mut out, olpc_cjson::CanonicalFormatter::new());
    value
        .serialize(&mut ser)
        .map_err(|e| format!("cannot serialise JSON: {e}"))?;
    Ok(out)
}

/// An uncompressed tar holding one regular file, with every varying field pinned:
/// mtime 0, uid/gid 0, no user or group names, mode 0644.
pub fn reproducible_tar(name: &str, contents: &[u8]) -> Result<Vec<u8>, String> {
    let mut header = tar::Header::new_ustar();
    header
        .set_path(name)
        .map_err(|e| format!("tar path {name}: {e}"))?;
    header.set_size(contents.len() as u64);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    header
        .set_username("")
        .map_err(|e| format!("tar username: {e}"))?;
    header
        .set_groupname("")
        .map_err(|e| format!("tar groupname: {e}"))?;
    header.set_cksum();
    let mut builder = tar::Builder::new(Vec::new());
    builder
        .append(&header, contents)
        .map_err(|e| format!("tar: {e}"))?;
    builder.into_inner().map_err(|e| format!("tar: {e}"))
}

/// Gzip with a pinned header (mtime 0, no file name, OS "unknown") and a fixed level.
pub fn reproducible_gzip(data: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Write;
    let mut encoder = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), Compression::best());
    encoder.write_all(data).map_err(|e| format!("gzip: {e}"))?;
    encoder.finish().map_err(|e| format!("gzip: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_nothing_is_the_well_known_one() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let value = serde_json::json!({"b": 1, "a": {"z": true, "y": [2, 1]}});
        assert_eq!(
            canonical_json(&value).unwrap(),
            br#"{"a":{"y":[2,1],"z":true},"b":1}"#
        );
    }

    #[test]
    fn tar_gz_is_byte_identical_across_calls() {
        let once = reproducible_gzip(&reproducible_tar("plugin.wasm", b"\0asm").unwrap()).unwrap();
        let twice = reproducible_gzip(&reproducible_tar("plugin.wasm", b"\0asm").unwrap()).unwrap();
        assert_eq!(once, twice);
        // Gzip header: magic, deflate, no flags, mtime 0, max compression, OS unknown.
        assert_eq!(
            once.get(..10).unwrap(),
            &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255]
        );
    }
}
