//! `cargo xtask build`: every filter, release, wasm32-wasip1.

use crate::util::{cargo, root, run, step, Result};
use std::path::PathBuf;

/// The filters, in gateway order.
pub const FILTERS: [&str; 4] = ["headers", "jwt", "ratelimit", "schema"];

/// Where the release modules land.
pub fn wasm_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root().join("target"), PathBuf::from)
        .join("wasm32-wasip1/release")
}

/// Builds every filter's `.wasm` and prints the sizes.
pub fn build() -> Result {
    step("build filters (release, wasm32-wasip1)");
    let mut cmd = cargo();
    cmd.args(["build", "--release", "--target", "wasm32-wasip1"]);
    for f in FILTERS {
        cmd.args(["-p", &format!("palisade-{f}")]);
    }
    run(&mut cmd)?;
    for f in FILTERS {
        let path = wasm_dir().join(format!("palisade_{f}.wasm"));
        let size = std::fs::metadata(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        println!("  {:<40} {:>9} bytes", path.display(), size);
    }
    Ok(())
}
