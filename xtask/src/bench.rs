//! `cargo xtask bench`: what each filter costs Envoy, beside no filter and beside the native
//! filter doing the same job.
//!
//! One Envoy (`--concurrency 1`) per variant, all started once; then rounds in which every
//! variant in turn is loaded by wrk from a second process (pinned to the other CPU) while
//! `/proc/<pid>/stat` gives Envoy's own CPU time. Rounds interleave the variants in a rotating
//! order and the report keeps each metric's median, so machine noise spreads over all variants.

mod baseline;
mod callgrind;
mod chart;
mod compile_times;
mod configs;
mod instructions;
mod keepalive;
mod launch;
mod procfs;
mod report;
mod tokens;
mod variants;
mod wrk;

use crate::build::{wasm_dir, FILTERS};
use crate::tools::envoy_binary;
pub(crate) use crate::util::step;
use crate::util::{cargo, root, Result};
use palisade_e2e::Envoy;
use report::{ModuleRow, Row};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use variants::{Expect, Kind, Modules, Variant, FLOOR};

/// How long and how often to measure.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// Rounds over all variants (the report keeps medians).
    rounds: usize,
    /// Load before a variant's first measurement (caches warm, allocator grown); zero: none.
    warmup: Duration,
    /// The measured load.
    measure: Duration,
    /// Extra starts per module set for the load-time median; zero: no load-time phase.
    load_time_starts: usize,
    /// Write the report (a smoke run only checks the answers).
    report: bool,
}

impl Plan {
    /// The full run: about 7 minutes on 2 cores for 22 variants.
    const FULL: Plan = Plan {
        rounds: 5,
        warmup: Duration::from_secs(1),
        measure: Duration::from_secs(3),
        load_time_starts: 3,
        report: true,
    };
    /// `--quick`: one round, the whole report, numbers to be taken lightly.
    const QUICK: Plan = Plan {
        rounds: 1,
        warmup: Duration::from_secs(1),
        measure: Duration::from_secs(2),
        load_time_starts: 1,
        report: true,
    };
    /// The smoke run of `cargo xtask test`: every variant answers as it must, timings ignored.
    const SMOKE: Plan = Plan {
        rounds: 1,
        warmup: Duration::ZERO,
        // Enough for every variant to answer its requests under load; nothing is timed.
        measure: Duration::from_millis(300),
        load_time_starts: 0,
        report: false,
    };
}

const USAGE: &str = "usage: cargo xtask bench [--quick] [--rounds N | --instructions | --compile-times] [--only <variant-id-part>]... | --smoke";

/// `cargo xtask bench [--quick] [--rounds N | --instructions | --compile-times]
/// [--only <variant-id-part>]... | --smoke`.
pub fn bench(args: &[String]) -> Result {
    if args == ["--smoke"] {
        return smoke();
    }
    let mut plan = Plan::FULL;
    let mut only = Vec::new();
    let mut count_instructions = false;
    let mut compile_times = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => plan = Plan::QUICK,
            "--instructions" => count_instructions = true,
            "--compile-times" => compile_times = true,
            "--rounds" => {
                plan.rounds = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or(USAGE)?;
            }
            "--only" => only.push(args.next().ok_or(USAGE)?.clone()),
            _ => return Err(USAGE.into()),
        }
    }
    if count_instructions {
        return instructions::run(&only);
    }
    if compile_times {
        return compile_times::run(&only);
    }
    run(plan, &only)
}

/// One short round in which every variant must answer as it should (statuses, not timings);
/// for `cargo xtask test`, after the filters are built.
pub fn smoke() -> Result {
    run(Plan::SMOKE, &[])
}

/// A variant's Envoy and what was measured on it.
struct Running {
    variant: Variant,
    envoy: Envoy,
    script: PathBuf,
    samples: Vec<report::Sample>,
}

/// Builds the modules and mints the tokens; the variants selected by `--only` (the floors always
/// run) with the baseline's twins, and a line for each one skipped.
fn selected_variants(only: &[String]) -> Result<(Vec<Variant>, Vec<String>)> {
    let (modules, empty) = build_modules()?;
    let tokens = tokens::Tokens::mint()?;
    let (variants, skipped) = variants::catalogue(&modules, empty.as_deref(), &tokens);
    // Before/after in one run (`PALISADE_BENCH_BASELINE`): each variant's baseline twin after it.
    let baseline = baseline::Baseline::from_env()?;
    if !baseline.is_empty() {
        println!(
            "baseline modules given: `-base` rows load them ({})",
            baseline::BASELINE
        );
    }
    let mut variants = baseline.interleave(variants);
    // The host-call probes run only when asked for (`--only probe`).
    if only.iter().any(|o| o.starts_with("probe")) {
        let probe = build_extra_module("palisade-probe-filter", "palisade_probe_filter.wasm")?;
        variants.extend(variants::probe_variants(&probe));
    }
    if !only.is_empty() {
        variants.retain(|v| {
            v.kind == Kind::Floor || v.id == FLOOR || only.iter().any(|o| v.id.contains(o.as_str()))
        });
    }
    for line in &skipped {
        println!("SKIPPED: {line}");
    }
    Ok((variants, skipped))
}

/// A run of the wrk bench (CPU time per request, or the smoke check).
fn run(plan: Plan, only: &[String]) -> Result {
    let started = Instant::now();
    let envoy = envoy_binary().ok_or("Envoy is not installed: run `cargo xtask setup`")?;
    std::env::set_var("PALISADE_ENVOY", &envoy);
    if !crate::util::on_path("wrk") {
        return Err("wrk is not installed: run `cargo xtask setup`".into());
    }
    let out_dir = root().join("target/bench");
    std::fs::create_dir_all(out_dir.join("wrk")).map_err(|e| e.to_string())?;

    let (variants, mut skipped) = selected_variants(only)?;
    // Envoy on CPU 0, wrk on CPU 1: each gets a core of its own.
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let wrk_cpu = (cpus >= 2).then_some(1);

    let load_times = if plan.load_time_starts > 0 {
        launch::measure_load_times(&variants, plan.load_time_starts)
    } else {
        Vec::new()
    };

    step(&format!(
        "start {} Envoys, one per variant, and check their answers",
        variants.len()
    ));
    let mut running = Vec::new();
    for (variant, started) in launch::start_all(variants, cpus) {
        let envoy = match started {
            Ok(envoy) => envoy,
            // A smoke run must fail; a bench reports what it could measure.
            Err(why) if plan.report => {
                println!("SKIPPED: {}: {why}", variant.id);
                skipped.push(format!("{}: {}", variant.name, first_line(&why)));
                continue;
            }
            Err(why) => return Err(format!("{}: {why}", variant.id)),
        };
        if wrk_cpu.is_some() {
            procfs::pin(envoy.pid(), 0);
        }
        let script = out_dir.join("wrk").join(format!("{}.lua", variant.id));
        std::fs::write(&script, variant.load.script()).map_err(|e| e.to_string())?;
        println!("  {:<28} ready (pid {})", variant.id, envoy.pid());
        running.push(Running {
            variant,
            envoy,
            script,
            samples: Vec::new(),
        });
    }

    let envoys_started = Instant::now();

    let ticks = procfs::clock_ticks_per_second();
    for round in 0..plan.rounds {
        step(&format!("round {} of {}", round + 1, plan.rounds));
        let n = running.len();
        // Rotate the order each round so no variant always runs first or last.
        let offset = round * n / plan.rounds.max(1);
        for i in 0..n {
            let Some(r) = running.get_mut((i + offset) % n) else {
                continue;
            };
            let warmup = if round == 0 {
                plan.warmup
            } else {
                Duration::ZERO
            };
            let sample = measure(r, warmup, plan.measure, wrk_cpu, ticks)?;
            println!(
                "  {:<28} {:>7.2} µs/req {:>8.0} req/s  p50 {:>6} µs  p99 {:>6} µs",
                r.variant.id, sample.cpu_us, sample.throughput, sample.p50_us, sample.p99_us
            );
            r.samples.push(sample);
        }
    }

    if !plan.report {
        println!(
            "\nbench smoke: {} variants answered as expected in {:.0}s",
            running.len(),
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }

    // An Envoy returning free memory has settled a minute after its start (`RELEASE_SETTLED`).
    if running
        .iter()
        .any(|r| r.variant.release_memory && r.variant.kind != Kind::Floor)
    {
        let settled = envoys_started + variants::RELEASE_SETTLED;
        let wait = settled.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            step(&format!(
                "wait {}s for the releasing Envoys' memory to settle",
                wait.as_secs()
            ));
            std::thread::sleep(wait);
        }
    }
    let rows: Vec<Row> = running
        .iter()
        .map(|r| {
            Ok(Row::new(
                &r.variant,
                &r.samples,
                procfs::rss_kib(r.envoy.pid())?,
            ))
        })
        .collect::<Result<_>>()?;
    let module_rows = module_rows(&rows, &running, &load_times);
    let machine = report::Machine::describe(&envoy, plan.rounds, plan.measure, wrk_cpu.is_some());
    let markdown = report::render(&machine, &rows, &module_rows, &skipped);
    let report_path = out_dir.join("report.md");
    std::fs::write(&report_path, &markdown).map_err(|e| e.to_string())?;
    let chart_path = out_dir.join("overhead.svg");
    chart::write(&rows, &chart_path)?;
    println!("\n{markdown}");
    println!(
        "report: {}\nchart:  {}\n(bench took {:.0}s)",
        report_path.display(),
        chart_path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Builds every module (`cargo xtask build`) and the empty filter (the Wasm floor).
fn build_modules() -> Result<(Modules, Option<PathBuf>)> {
    crate::build::build()?;
    let mut built = Vec::new();
    for name in FILTERS.iter().chain(std::iter::once(&variants::BUNDLE)) {
        let file = if *name == variants::BUNDLE {
            format!("{name}.wasm")
        } else {
            format!("palisade_{name}.wasm")
        };
        if is_proxy_wasm(&wasm_dir().join(file)) {
            built.push(*name);
        } else {
            println!("  {name}: the module has no Proxy-Wasm entry");
        }
    }
    // The Wasm floor: without it its rows are skipped, not the run.
    let empty = build_extra_module("palisade-empty-filter", "palisade_empty_filter.wasm")
        .map_err(|e| println!("  the empty filter did not build: {e}"))
        .ok();
    Ok((
        Modules {
            dir: wasm_dir(),
            built,
        },
        empty,
    ))
}

/// Builds a bench-only module of the workspace (release, wasm32-wasip1, wasm-opt as shipped).
fn build_extra_module(package: &str, file: &str) -> Result<PathBuf> {
    step(&format!("build {package}"));
    crate::util::run(cargo().current_dir(root()).args([
        "build",
        "--quiet",
        "--release",
        "--target",
        "wasm32-wasip1",
        "-p",
        package,
    ]))?;
    let module = wasm_dir().join(file);
    crate::build::optimize(&crate::build::wasm_opt()?, &module)?;
    Ok(module)
}

/// Whether a module exports the Proxy-Wasm ABI (a filter crate still being written builds to a
/// module without it, which Envoy refuses).
fn is_proxy_wasm(module: &Path) -> bool {
    std::fs::read(module).is_ok_and(|bytes| {
        bytes
            .windows(b"proxy_abi_version_".len())
            .any(|w| w == b"proxy_abi_version_")
    })
}

/// One load window on a variant: Envoy's CPU time around a wrk run, per request served.
fn measure(
    r: &Running,
    warmup: Duration,
    window: Duration,
    wrk_cpu: Option<usize>,
    ticks: u64,
) -> Result<report::Sample> {
    let port = r.envoy.port();
    let path = &r.variant.load.path;
    if !warmup.is_zero() {
        wrk::run(&r.script, port, path, warmup, wrk_cpu)?;
    }
    let pid = r.envoy.pid();
    let before = procfs::cpu_time(pid, ticks)?;
    let run = wrk::run(&r.script, port, path, window, wrk_cpu)?;
    let after = procfs::cpu_time(pid, ticks)?;
    check_run(&r.variant, &run)?;
    let cpu = after.saturating_sub(before);
    let cpu_us = cpu.as_secs_f64() * 1e6 / run.requests.max(1) as f64;
    Ok(report::Sample {
        cpu_us,
        throughput: run.throughput(),
        p50_us: run.p50_us,
        p99_us: run.p99_us,
    })
}

/// The answers under load must be what the variant promises (else the numbers measure errors).
fn check_run(variant: &Variant, run: &wrk::Run) -> Result {
    let ok = run.requests > 0
        && run.socket_errors == 0
        && match variant.expect {
            Expect::Admitted => run.status_errors == 0,
            // The first request of each connection may still pass.
            Expect::Limited => run.status_errors * 10 >= run.requests * 9,
        };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{}: under load, {} requests, {} with status ≥ 400, {} socket errors (expected {:?})",
            variant.id, run.requests, run.status_errors, run.socket_errors, variant.expect
        ))
    }
}

fn module_rows(
    rows: &[Row],
    running: &[Running],
    load_times: &[(String, Duration)],
) -> Vec<ModuleRow> {
    load_times
        .iter()
        .filter_map(|(id, load)| {
            let r = running.iter().find(|r| &r.variant.id == id)?;
            let row = rows.iter().find(|row| &row.id == id)?;
            let size: u64 = r
                .variant
                .modules
                .iter()
                .filter_map(|m| std::fs::metadata(m).ok())
                .map(|m| m.len())
                .sum();
            let name = match (module_label(&r.variant.modules), r.variant.own_start) {
                (Some(label), true) => format!("{label}: {}", r.variant.name),
                (Some(label), false) => label,
                (None, true) => r.variant.name.clone(),
                (None, false) => "none (no filter)".into(),
            };
            Some(ModuleRow {
                // The baseline's files have the built ones' names: say which is which.
                name: if baseline::is_twin(&r.variant.id) && !r.variant.own_start {
                    format!("{name} (baseline)")
                } else {
                    name
                },
                wasm_bytes: size,
                load: *load,
                rss_kib: row.rss_kib,
                released: r.variant.release_memory,
            })
        })
        .collect()
}

fn module_label(modules: &[PathBuf]) -> Option<String> {
    let names: Vec<String> = modules
        .iter()
        .filter_map(|m| m.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    (!names.is_empty()).then(|| names.join(" + "))
}

/// The first line of a text.
fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// The last `lines` lines of a text.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all.get(all.len().saturating_sub(lines)..)
        .unwrap_or_default()
        .join("\n")
}

/// Envoy's version, as `--version` prints it after `version: `.
fn envoy_version(envoy: &Path) -> String {
    let out = Command::new(envoy).arg("--version").output();
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    text.split_once("version: ")
        .map_or(text.trim(), |(_, v)| v.trim())
        .to_string()
}
