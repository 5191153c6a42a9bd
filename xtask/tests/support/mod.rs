//! Test support: a real registry on loopback, a pull that follows Istio's Wasm image fetcher,
//! and small fixture modules.
#![allow(dead_code)]

pub mod istio;
pub mod manifests;
pub mod registry;

/// The smallest valid Wasm module (magic, version 1) plus one custom section named `fixture`
/// holding `payload`, so each test can make modules that differ in content and size.
pub fn fixture_module(payload: &[u8]) -> Vec<u8> {
    let name = b"fixture";
    let mut section = leb128(name.len());
    section.extend_from_slice(name);
    section.extend_from_slice(payload);
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    module.push(0); // custom section id
    module.extend(leb128(section.len()));
    module.extend(section);
    module
}

fn leb128(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// Deterministic bytes that gzip cannot shrink much (a xorshift stream), for large fixtures.
pub fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Metadata as `cargo xtask oci` would read it, with fixed values.
pub fn metadata(filter: &str) -> xtask::oci::Metadata {
    xtask::oci::Metadata {
        filter: filter.to_string(),
        title: format!("palisade-{filter}"),
        description: "test fixture".to_string(),
        version: "0.1.0".to_string(),
        source: "https://github.com/palisade/palisade".to_string(),
        revision: "0123456789abcdef0123456789abcdef01234567".to_string(),
        licenses: "Apache-2.0".to_string(),
        created: "2026-01-01T00:00:00Z".to_string(),
    }
}
