//! Where things are: the workspace, the Envoy binary, the built filters, the conformance data.

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The per-user tool cache (`PALISADE_CACHE`, default `~/.cache/palisade`).
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PALISADE_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".cache").join("palisade")
}

/// The pinned Envoy (`PALISADE_ENVOY`, else the one `cargo xtask setup` installed).
pub fn envoy_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("PALISADE_ENVOY") {
        return PathBuf::from(p);
    }
    let venv = cache_dir().join("envoy-1.40.0");
    let found = std::fs::read_dir(venv.join("lib"))
        .ok()
        .and_then(|entries| {
            entries
                .flatten()
                .map(|e| e.path().join("site-packages/envoy/_bin/envoy"))
                .find(|p| p.exists())
        });
    found.unwrap_or_else(|| {
        panic!(
            "Envoy 1.40.0 not found under {}: run `cargo xtask setup` (or set PALISADE_ENVOY)",
            venv.display()
        )
    })
}

/// The directory of the built `.wasm` filters (`PALISADE_WASM_DIR`, default the release build).
pub fn wasm_dir() -> PathBuf {
    std::env::var_os("PALISADE_WASM_DIR").map_or_else(
        || workspace_root().join("target/wasm32-wasip1/release"),
        PathBuf::from,
    )
}

/// The built module of a filter (`headers` → `palisade_headers.wasm`; the bundle `palisade` →
/// `palisade.wasm`).
pub fn wasm_module(filter: &str) -> PathBuf {
    let file = if filter == "palisade" {
        "palisade.wasm".to_string()
    } else {
        format!("palisade_{filter}.wasm")
    };
    let path = wasm_dir().join(file);
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask build` (or set PALISADE_WASM_DIR)",
        path.display()
    );
    path
}

/// The conformance data (`PALISADE_CONFORMANCE_DIR`, default `../shared/conformance` beside the
/// workspace). Missing: a failure under CI (`CI=true`), a loud skip (`None`) elsewhere.
pub fn conformance_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("PALISADE_CONFORMANCE_DIR").map_or_else(
        || workspace_root().join("../shared/conformance"),
        PathBuf::from,
    );
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("conformance data missing at {} (CI=true)", dir.display());
    }
    eprintln!(
        "SKIPPING: conformance data missing at {} (set PALISADE_CONFORMANCE_DIR)",
        dir.display()
    );
    None
}

/// A fresh scratch directory for one Envoy or server, removed by the caller.
pub fn scratch_dir(label: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("palisade-{label}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
