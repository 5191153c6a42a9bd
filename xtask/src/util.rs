//! Running commands and printing steps.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// What an xtask step returns.
pub type Result<T = ()> = std::result::Result<T, String>;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Prints a step header.
pub fn step(what: &str) {
    println!("\n==> {what}");
}

/// Runs a command in the workspace root, echoing it; fails when it fails.
pub fn run(cmd: &mut Command) -> Result {
    let shown = format!("{cmd:?}").replace('"', "");
    println!("$ {shown}");
    let start = Instant::now();
    let status = cmd
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot start `{shown}`: {e}"))?;
    println!("  ({:.1}s)", start.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed with {status}"))
    }
}

/// A `cargo` command.
pub fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()))
}

/// Whether a program is on PATH.
pub fn on_path(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A stable 64-bit FNV-1a hash (for cache keys, not security).
pub fn fnv64(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A top-level field of `envoy/gateway.yaml`, the example other tools follow (the demo's stats
/// tags, the bench's memory release).
pub fn gateway_example(field: &str) -> Result<serde_json::Value> {
    let path = root().join("envoy/gateway.yaml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let bootstrap: serde_json::Value =
        serde_norway::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    bootstrap
        .get(field)
        .cloned()
        .ok_or_else(|| format!("{} has no `{field}`", path.display()))
}
