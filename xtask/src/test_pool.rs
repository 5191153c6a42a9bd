//! Runs packages' test binaries, one or more at a time (on 2 cores one at a time is fastest:
//! every test starts Envoys, whose Wasm compile is CPU-bound); each binary's output is printed
//! whole when it ends, with its time, so the log shows where the minutes go.

use crate::util::{cargo, root, Result};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

/// Test binaries that take longest, started first so the pool drains evenly.
const SLOW_FIRST: [&str; 5] = ["schema", "demo", "jwt", "envoy_configs", "jwt_wycheproof"];

/// Compiles the test binaries of `package` (as `cargo test --no-run`) and lists them.
fn test_binaries(package: &str) -> Result<Vec<(String, PathBuf)>> {
    let shown = format!("cargo test -p {package} --no-run");
    println!("$ {shown}");
    let out = cargo()
        .args(["test", "-p", package, "--no-run", "--message-format=json"])
        .current_dir(root())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start `{shown}`: {e}"))?;
    if !out.status.success() {
        return Err(format!("`{shown}` failed with {}", out.status));
    }
    let mut binaries = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let at = |path: &str| msg.pointer(path).cloned().unwrap_or_default();
        let is_test = at("/reason") == "compiler-artifact" && at("/profile/test") == true;
        if let (true, Some(exe), Some(name)) = (
            is_test,
            at("/executable").as_str(),
            at("/target/name").as_str(),
        ) {
            binaries.push((name.to_string(), PathBuf::from(exe)));
        }
    }
    Ok(binaries)
}

/// Runs every test binary of `packages` (name, directory), `parallel` at a time, each in its
/// package's directory (as `cargo test` does) with `envs`; fails if any binary fails, after all
/// have run.
pub fn run_tests(packages: &[(&str, &str)], parallel: usize, envs: &[(&str, PathBuf)]) -> Result {
    let start = Instant::now();
    let mut all = VecDeque::new();
    for (package, dir) in packages {
        for (name, exe) in test_binaries(package)? {
            all.push_back((format!("{package} {name}"), exe, *dir));
        }
    }
    // Slow binaries of every package first.
    all.make_contiguous().sort_by_key(|(name, _, _)| {
        let short = name.split(' ').nth(1).unwrap_or_default();
        SLOW_FIRST
            .iter()
            .position(|s| *s == short)
            .unwrap_or(usize::MAX)
    });
    let queue = Mutex::new(all);
    let failed = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..parallel.max(1) {
            scope.spawn(|| loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                let Some((name, exe, dir)) = next else { break };
                let began = Instant::now();
                let mut cmd = Command::new(&exe);
                cmd.current_dir(root().join(dir));
                for (key, value) in envs {
                    cmd.env(key, value);
                }
                let outcome = cmd.output();
                let secs = began.elapsed().as_secs_f64();
                let (ok, text) = match outcome {
                    Ok(out) => (
                        out.status.success(),
                        format!(
                            "{}{}",
                            String::from_utf8_lossy(&out.stdout),
                            String::from_utf8_lossy(&out.stderr)
                        ),
                    ),
                    Err(e) => (false, format!("cannot start {}: {e}", exe.display())),
                };
                let verdict = if ok { "ok" } else { "FAILED" };
                println!("--- {name}: {verdict} in {secs:.1}s\n{text}");
                if !ok {
                    if let Ok(mut f) = failed.lock() {
                        f.push(name);
                    }
                }
            });
        }
    });
    let failed = failed.into_inner().unwrap_or_default();
    println!("  ({:.1}s)", start.elapsed().as_secs_f64());
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("test binaries failed: {}", failed.join(", ")))
    }
}
