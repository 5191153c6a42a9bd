//! `cargo xtask fuzz [--target T] [--minutes N] [--parallel P] [--cmin] [--no-build]`: runs the libFuzzer
//! targets in `fuzz/` (nightly, cargo-fuzz), each for N minutes, P at a time, and prints each
//! one's executions, coverage and crashes. Building and testing stay on stable: `cargo test`
//! replays `fuzz/corpus/` and `fuzz/regressions/` through `palisade-fuzz-targets`.

use crate::tools::{cargo_fuzz_bin, setup_fuzz, FUZZ_TOOLCHAIN};
use crate::util::{root, run, step, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What one run reported.
#[derive(Debug, Default, Clone)]
struct Outcome {
    target: String,
    seconds: u64,
    executions: u64,
    cov: u64,
    ft: u64,
    corpus: u64,
    crashes: Vec<PathBuf>,
}

fn fuzz_dir() -> PathBuf {
    root().join("fuzz")
}

/// The targets, by the files in `fuzz/fuzz_targets/`.
pub fn targets() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fuzz_dir().join("fuzz_targets"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_suffix(".rs"))
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A cargo-fuzz command with the nightly toolchain, in `fuzz/`.
fn cargo_fuzz() -> Result<Command> {
    let mut cmd = Command::new("cargo");
    // `cargo +nightly` through rustup's proxy, with the cached cargo-fuzz on PATH.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![cargo_fuzz_bin()];
    paths.extend(std::env::split_paths(&path));
    cmd.env(
        "PATH",
        std::env::join_paths(paths).map_err(|e| e.to_string())?,
    )
    .env_remove("CARGO")
    .env_remove("RUSTC")
    .env_remove("RUSTUP_TOOLCHAIN")
    // The binaries are looked for in fuzz/target, whatever target dir the caller's cargo uses.
    .env_remove("CARGO_TARGET_DIR")
    .arg(format!("+{FUZZ_TOOLCHAIN}"))
    .arg("fuzz")
    .current_dir(fuzz_dir());
    Ok(cmd)
}

fn binary(target: &str) -> PathBuf {
    fuzz_dir()
        .join("target/x86_64-unknown-linux-gnu/release")
        .join(target)
}

/// Parses the arguments and runs the targets.
pub fn cli(args: &[String]) -> Result {
    let mut only: Vec<String> = Vec::new();
    let mut minutes = 10u64;
    let mut parallel = 1usize;
    let mut cmin = false;
    let mut build = true;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--target" => only.push(value("--target")?),
            "--minutes" => {
                minutes = value("--minutes")?
                    .parse()
                    .map_err(|e| format!("--minutes: {e}"))?
            }
            "--parallel" => {
                parallel = value("--parallel")?
                    .parse::<usize>()
                    .map_err(|e| format!("--parallel: {e}"))?
                    .max(1)
            }
            "--cmin" => cmin = true,
            "--no-build" => build = false,
            other => return Err(format!("unknown argument `{other}` (see `cargo xtask`)")),
        }
    }
    let all = targets();
    for t in &only {
        if !all.contains(t) {
            return Err(format!(
                "no fuzz target `{t}` (targets: {})",
                all.join(", ")
            ));
        }
    }
    let chosen = if only.is_empty() { all } else { only };
    setup_fuzz()?;
    if build {
        step("build the fuzz targets (nightly, ASan, coverage instrumentation)");
        run(cargo_fuzz()?.args(["build", "-O"]))?;
    }
    let mut outcomes = Vec::new();
    for batch in chosen.chunks(parallel) {
        step(&format!(
            "fuzz {} for {minutes} min (logs in fuzz/target/logs/)",
            batch.join(", ")
        ));
        let running: Vec<_> = batch
            .iter()
            .map(|t| start(t, minutes).map(|child| (t.clone(), child)))
            .collect::<Result<_>>()?;
        for (target, mut child) in running {
            child
                .wait()
                .map_err(|e| format!("waiting for {target}: {e}"))?;
            let outcome = report(&target)?;
            println!(
                "{target}: {} runs, cov {}, ft {}, {} crash(es)",
                outcome.executions,
                outcome.cov,
                outcome.ft,
                outcome.crashes.len()
            );
            outcomes.push(outcome);
        }
    }
    if cmin {
        for t in &chosen {
            step(&format!("minimise the corpus of {t}"));
            run(cargo_fuzz()?.args(["cmin", "-O", t]))?;
        }
    }
    print_table(&outcomes, minutes);
    let crashed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.crashes.is_empty()).collect();
    if crashed.is_empty() {
        Ok(())
    } else {
        for o in &crashed {
            for c in &o.crashes {
                println!(
                    "crash: {} (fix it, then copy it to fuzz/regressions/{}/)",
                    c.display(),
                    o.target
                );
            }
        }
        Err(format!("{} target(s) crashed", crashed.len()))
    }
}

fn log_path(target: &str) -> PathBuf {
    fuzz_dir().join("target/logs").join(format!("{target}.log"))
}

/// Starts one target for `minutes` on its corpus; crashes go to `fuzz/artifacts/<target>/`.
fn start(target: &str, minutes: u64) -> Result<std::process::Child> {
    let corpus = fuzz_dir().join("corpus").join(target);
    let artifacts = fuzz_dir().join("artifacts").join(target);
    for dir in [&corpus, &artifacts, &fuzz_dir().join("target/logs")] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let log = std::fs::File::create(log_path(target)).map_err(|e| e.to_string())?;
    Command::new(binary(target))
        .arg(&corpus)
        .arg(format!("-max_total_time={}", minutes.saturating_mul(60)))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        // Per-input limits: a slow input is a finding too (a hang in Envoy).
        .arg("-timeout=10")
        .arg("-rss_limit_mb=2048")
        .arg("-print_final_stats=1")
        // Fork mode keeps fuzzing after a crash for the whole time, saving every crashing input.
        .args([
            "-fork=1",
            "-ignore_crashes=1",
            "-ignore_timeouts=1",
            "-ignore_ooms=1",
        ])
        .env("ASAN_OPTIONS", "detect_odr_violation=0")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start {target}: {e}"))
}

/// Reads a finished run's log and its artifacts directory.
fn report(target: &str) -> Result<Outcome> {
    let text = std::fs::read_to_string(log_path(target)).map_err(|e| e.to_string())?;
    Ok(parse_log(
        target,
        &text,
        &fuzz_dir().join("artifacts").join(target),
    ))
}

fn number_after(line: &str, key: &str) -> Option<u64> {
    let rest = line.split(key).nth(1)?;
    rest.trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// libFuzzer's progress lines (`#123 NEW cov: 45 ft: 67 corp: 8/...`) and final stats.
fn parse_log(target: &str, text: &str, artifacts: &Path) -> Outcome {
    let mut o = Outcome {
        target: target.to_string(),
        ..Outcome::default()
    };
    for line in text.lines() {
        if line.starts_with('#') && line.contains("cov:") {
            o.executions = number_after(line, "#").unwrap_or(o.executions);
            o.cov = number_after(line, "cov:").unwrap_or(o.cov);
            o.ft = number_after(line, "ft:").unwrap_or(o.ft);
            o.corpus = number_after(line, "corp:").unwrap_or(o.corpus);
        }
        if let Some(n) = line
            .strip_prefix("stat::number_of_executed_units:")
            .and_then(|v| v.trim().parse().ok())
        {
            o.executions = n;
        }
        if let Some(n) = line
            .strip_prefix("Done ")
            .and_then(|v| v.split_whitespace().nth(3))
            .and_then(|s| s.parse().ok())
        {
            o.seconds = n;
        }
    }
    o.crashes = std::fs::read_dir(artifacts)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    o
}

fn print_table(outcomes: &[Outcome], minutes: u64) {
    println!("\n| target | minutes | executions | cov | ft | corpus | crashes |");
    println!("|---|---|---|---|---|---|---|");
    for o in outcomes {
        let minutes = if o.seconds > 0 {
            o.seconds.div_ceil(60)
        } else {
            minutes
        };
        println!(
            "| {} | {minutes} | {} | {} | {} | {} | {} |",
            o.target,
            o.executions,
            o.cov,
            o.ft,
            o.corpus,
            o.crashes.len()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fork_mode_progress_lines_are_read_too() {
        let log = "#1024: cov: 900 ft: 2000 corp: 120 exec/s: 50 oom/timeout/crash: 0/0/1 time: 61s job: 2 dft_time: 0\n\
                   #2048: cov: 950 ft: 2100 corp: 130 exec/s: 40 oom/timeout/crash: 0/0/1 time: 120s job: 3 dft_time: 0\n";
        let o = parse_log("t", log, Path::new("/nonexistent"));
        assert_eq!(
            (o.executions, o.cov, o.ft, o.corpus),
            (2048, 950, 2100, 130)
        );
    }

    #[test]
    fn the_log_gives_executions_coverage_and_time() {
        let log = "#2\tINITED cov: 10 ft: 12 corp: 3/1Kb exec/s: 0 rss: 40Mb\n\
                   #4096\tNEW    cov: 55 ft: 80 corp: 9/2Kb lim: 43 exec/s: 2048 rss: 41Mb\n\
                   #5000\tDONE   cov: 56 ft: 81 corp: 10/2Kb lim: 43 exec/s: 83 rss: 41Mb\n\
                   Done 5000 runs in 60 second(s)\n\
                   stat::number_of_executed_units: 5001\n";
        let o = parse_log("t", log, Path::new("/nonexistent"));
        assert_eq!(
            (o.executions, o.cov, o.ft, o.corpus, o.seconds),
            (5001, 56, 81, 10, 60)
        );
        assert!(o.crashes.is_empty());
    }
}
