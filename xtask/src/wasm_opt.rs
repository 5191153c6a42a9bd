//! Post-processing a filter's module with Binaryen's `wasm-opt`: optimized, with the name and
//! producers sections stripped (V8 needs neither), and a symbol map kept beside the module
//! (`palisade_x.wasm.symbols`: `function index:name`) so a trap's `wasm-function[123]` can still
//! be read.
//!
//! Always from cargo's own output (`deps/palisade_x.wasm`, which the top-level file is a copy
//! of), so running it twice never optimizes an optimized module; the optimized module is kept
//! beside it (`palisade_x.wasm-opt.wasm`) and reused while cargo's output is unchanged.

use crate::util::{run, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The optimization level: measured in the closing note of issue 13 (size and per-request CPU).
pub const LEVEL: &str = "-O3";

/// The symbol map written beside `module`.
pub fn symbol_map(module: &Path) -> PathBuf {
    let mut name = module.as_os_str().to_owned();
    name.push(".symbols");
    PathBuf::from(name)
}

/// Optimizes `module` (a file cargo just wrote) in place; returns its size before and after.
pub fn optimize(wasm_opt: &Path, module: &Path) -> Result<(u64, u64)> {
    let name = module.file_name().ok_or("module without a file name")?;
    let raw = module
        .parent()
        .map(|dir| dir.join("deps").join(name))
        .filter(|p| p.exists())
        .ok_or_else(|| format!("{}: cargo's output is not in deps/", module.display()))?;
    let size = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.len())
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    let map = symbol_map(module);
    // Cargo links the top-level file to its own output again on every build, fresh or not, so
    // the optimized module is kept aside with a stamp of the output it came from, and copied
    // back while that output is unchanged.
    let kept = module.with_extension("wasm-opt.wasm");
    let stamp_path = module.with_extension("wasm-opt.stamp");
    let stamp = stamp_of(&raw)?;
    let kept_is_current = std::fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp)
        && kept.exists()
        && map.exists();
    if kept_is_current {
        let copy = module.with_extension("copy.wasm");
        std::fs::copy(&kept, &copy).map_err(|e| format!("{}: {e}", kept.display()))?;
        std::fs::rename(&copy, module).map_err(|e| format!("{}: {e}", module.display()))?;
        return Ok((size(&raw)?, size(module)?));
    }
    let optimized = module.with_extension("opt.wasm");
    // Names are kept through the optimization, mapped, then stripped: the map matches the
    // function indices of the module Envoy loads.
    run(Command::new(wasm_opt)
        .arg(&raw)
        .arg(LEVEL)
        // `-g` keeps the names through this pass (wasm-opt drops them from its output otherwise).
        .args(["-g", "-o"])
        .arg(&optimized))?;
    let stripped = module.with_extension("stripped.wasm");
    run(Command::new(wasm_opt)
        .arg(&optimized)
        .arg(format!("--symbolmap={}", map.display()))
        // Without `-g` the output has no name section; producers are stripped too.
        .args(["--strip-debug", "--strip-producers", "-o"])
        .arg(&stripped))?;
    std::fs::remove_file(&optimized).map_err(|e| e.to_string())?;
    std::fs::copy(&stripped, &kept).map_err(|e| format!("{}: {e}", kept.display()))?;
    std::fs::write(&stamp_path, stamp).map_err(|e| format!("{}: {e}", stamp_path.display()))?;
    // A rename, not a write: the top-level file may be a hard link to cargo's own output.
    std::fs::rename(&stripped, module).map_err(|e| format!("{}: {e}", module.display()))?;
    Ok((size(&raw)?, size(module)?))
}

/// What identifies one output of cargo: its size and modification time, and the optimization
/// level it is optimized at.
fn stamp_of(raw: &Path) -> Result<String> {
    let meta = std::fs::metadata(raw).map_err(|e| format!("{}: {e}", raw.display()))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    Ok(format!(
        "{} {} {modified} {LEVEL}",
        raw.display(),
        meta.len()
    ))
}
