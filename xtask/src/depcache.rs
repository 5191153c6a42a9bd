//! Cargo's build outputs kept in the tool cache between clones, the way CI systems cache
//! `target/` keyed by the lockfile: a fresh clone with the same dependencies starts from them, and
//! cargo still rebuilds everything whose sources are newer than what was restored (the
//! workspace's own crates, in a fresh clone), so nothing stale is used.
//!
//! Keyed by `Cargo.lock`, the root `Cargo.toml` (profiles) and the toolchain (`rustc -vV`); one
//! key is kept, and restored even when the key changed (cargo's fingerprints decide what of it is
//! still valid). Saved after a passing `cargo xtask test` when the key is new. `PALISADE_DEPCACHE=0`
//! turns it off (a run then builds everything, as on a new machine).

use crate::tools::cache_dir;
use crate::util::{fnv64, root, step, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the kept builds live in the tool cache.
fn dir() -> PathBuf {
    cache_dir().join("cargo-target")
}

fn enabled() -> bool {
    std::env::var("PALISADE_DEPCACHE").map_or(true, |v| v != "0")
}

/// The key of this checkout's dependency build.
fn key() -> Result<String> {
    let read = |name: &str| std::fs::read(root().join(name)).map_err(|e| format!("{name}: {e}"));
    let rustc = Command::new("rustc")
        .arg("-vV")
        .output()
        .map_err(|e| format!("rustc -vV: {e}"))?
        .stdout;
    Ok(format!(
        "{:016x}",
        fnv64(&[&read("Cargo.lock")?, &read("Cargo.toml")?, &rustc])
    ))
}

/// Copies `from`'s contents into `to`; with `keep_existing`, files already in `to` stay.
fn copy_tree(from: &Path, to: &Path, keep_existing: bool) -> Result {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    let mut source = from.as_os_str().to_owned();
    source.push("/.");
    let mut cmd = Command::new("cp");
    cmd.arg(if keep_existing { "-an" } else { "-a" })
        .arg(source)
        .arg(to);
    let status = cmd.status().map_err(|e| format!("cp: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cp {} {}: {status}", from.display(), to.display()))
    }
}

/// Restores the kept build for this key into `target/`, files cargo already wrote kept.
pub fn restore() {
    if !enabled() {
        return;
    }
    let Ok(key) = key() else { return };
    // This key's build, else the one kept (an older lockfile or profile): cargo reuses what of it
    // still matches, by its own fingerprints, and builds the rest.
    let kept = Some(dir().join(&key)).filter(|d| d.is_dir()).or_else(|| {
        std::fs::read_dir(dir())
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.is_dir() && p.extension().is_none())
    });
    let Some(kept) = kept else {
        println!("(no kept dependency build: everything is built)");
        return;
    };
    step(&format!(
        "restore the kept dependency build ({}) into target/",
        kept.file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned())
    ));
    let start = std::time::Instant::now();
    match copy_tree(&kept, &crate::build::target_dir(), true) {
        Ok(()) => println!("  ({:.1}s)", start.elapsed().as_secs_f64()),
        // A failed restore only costs time: cargo builds what is missing.
        Err(e) => println!("  restore failed ({e}); building everything"),
    }
}

/// Keeps this run's build for later clones when its key is new; other keys go.
pub fn save() {
    if !enabled() {
        return;
    }
    let Ok(key) = key() else { return };
    let kept = dir().join(&key);
    if kept.is_dir() {
        return;
    }
    step(&format!(
        "keep the dependency build ({key}) in the tool cache"
    ));
    let start = std::time::Instant::now();
    let partial = dir().join(format!("{key}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    let saved = copy_tree(&crate::build::target_dir(), &partial, false).and_then(|()| {
        // What no later build reads: incremental state, bench and OCI outputs.
        for skip in [
            "debug/incremental",
            "release/incremental",
            "bench",
            "oci",
            "tmp",
        ] {
            let _ = std::fs::remove_dir_all(partial.join(skip));
        }
        std::fs::rename(&partial, &kept).map_err(|e| e.to_string())
    });
    match saved {
        Ok(()) => {
            if let Ok(entries) = std::fs::read_dir(dir()) {
                for entry in entries.flatten() {
                    if entry.file_name() != key.as_str() {
                        let _ = std::fs::remove_dir_all(entry.path());
                    }
                }
            }
            println!("  ({:.1}s)", start.elapsed().as_secs_f64());
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            println!("  not kept: {e}");
        }
    }
}
