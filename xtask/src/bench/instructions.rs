//! `cargo xtask bench --instructions`: instructions Envoy executes per request, counted by
//! valgrind's callgrind. Nearly deterministic (within about 0.5% run after run, whatever else the
//! machine does), where CPU time on a shared 2-core machine moves by ±20 µs.
//!
//! Per variant (the same Envoy config, request and probes as the CPU bench): Envoy starts under
//! callgrind with instrumentation off; the probes and [`WARMUP`] requests warm it (V8 tiers the
//! module up, caches fill); instrumentation goes on, [`SETTLE`] more requests run, the counters
//! are zeroed, [`COUNTED`] requests run on one keep-alive connection, and the dump's total over
//! [`COUNTED`] is the count per request. User space only: callgrind does not see the kernel, so
//! this is not CPU time (no syscalls, no network stack), and each instruction counts the same.

use super::callgrind::{self, Split};
use super::keepalive::{Client, Counts};
use super::launch;
use super::report::{bundle_summary, ratios, Measured};
use super::variants::{Expect, Variant};
use crate::tools::envoy_binary;
use crate::util::{on_path, root, step, Result};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Requests before instrumentation (after the probes).
pub const WARMUP: u64 = 300;
/// Requests after instrumentation is switched on and before the counters are zeroed (callgrind
/// translates the code again; these absorb it).
pub const SETTLE: u64 = 100;
/// Requests counted.
pub const COUNTED: u64 = 500;

/// The window without requests that measures Envoy's clock-driven work.
const IDLE: Duration = Duration::from_secs(3);

/// How long Envoy under valgrind may take to become ready (V8 compiling a large module under
/// valgrind takes minutes).
const READY_TIMEOUT: Duration = Duration::from_secs(900);

/// A variant's count, per request.
#[derive(Debug, Clone)]
pub struct Row {
    /// Variant id.
    pub id: String,
    /// Name in the report.
    pub name: String,
    /// Its floor's id.
    pub floor: String,
    /// Its native equivalent's id.
    pub native: Option<String>,
    /// Instructions per request (the dump's summary over the requests counted).
    pub total: f64,
    /// Per request: in V8's generated code (the compiled Wasm module).
    pub jit: f64,
    /// Per request: in the Envoy binary (with tcmalloc and V8's runtime and builtins).
    pub envoy: f64,
    /// Per request: in libc and the other libraries.
    pub libs: f64,
    /// Per request: what was subtracted as clock-driven work (timers, ticks).
    pub clock: f64,
}

/// One counted window: the dump's total, its split, and how long the window lasted.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// The dump's summary.
    pub total: u64,
    /// Its self costs by object.
    pub split: Split,
    /// From the counters' zeroing to the dump, in seconds.
    pub seconds: f64,
}

impl Row {
    /// Per request: the counted window less what Envoy does by the clock (its timers, the
    /// modules' ticks), at the rate the idle window shows, over as long as the counted window
    /// lasted. Without it the count would grow with how slowly the machine ran the window.
    fn new(variant: &Variant, counted: &Window, idle: &Window, requests: u64) -> Self {
        let rate = idle.seconds.max(f64::EPSILON).recip() * counted.seconds;
        let per = |counted: u64, idle: u64| {
            (counted as f64 - idle as f64 * rate).max(0.0) / requests.max(1) as f64
        };
        Self {
            id: variant.id.clone(),
            name: variant.name.clone(),
            floor: variant.floor.to_string(),
            native: variant.native.map(str::to_string),
            total: per(counted.total, idle.total),
            jit: per(counted.split.jit, idle.split.jit),
            envoy: per(counted.split.envoy, idle.split.envoy),
            libs: per(counted.split.libs, idle.split.libs),
            clock: idle.total as f64 * rate / requests.max(1) as f64,
        }
    }
}

/// Runs every selected variant under callgrind, two at a time, and writes
/// `benches/results/instructions.md` (with `--only`: `instructions-<only>.md`, so a partial run
/// does not replace the whole table).
pub fn run(only: &[String]) -> Result {
    let started = Instant::now();
    let envoy = envoy_binary().ok_or("Envoy is not installed: run `cargo xtask setup`")?;
    std::env::set_var("PALISADE_ENVOY", &envoy);
    for tool in ["valgrind", "callgrind_control"] {
        if !on_path(tool) {
            return Err(format!("{tool} is not installed: run `cargo xtask setup`"));
        }
    }
    let (mut variants, mut skipped) = super::selected_variants(only)?;
    // Envoy's allocator returning free memory is the same per-request work: counted once.
    variants.retain(|v| !v.release_memory);
    let out_dir = root().join("target/bench/callgrind");
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let parallel = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(variants.len().max(1));
    step(&format!(
        "count instructions: {} variants under callgrind, {parallel} at a time ({WARMUP} warm-up, {SETTLE} settling, {COUNTED} counted requests each)",
        variants.len()
    ));

    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<std::result::Result<Row, String>>>> =
        Mutex::new(variants.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..parallel {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(variant) = variants.get(i) else {
                    break;
                };
                let t = Instant::now();
                let result = count(variant, &out_dir);
                match &result {
                    Ok(row) => println!(
                        "  {:<28} {:>9.0} instr/req  (JIT {:.0}, envoy {:.0}, libs {:.0}; timers {:.0} subtracted; {:.0} s)",
                        row.id,
                        row.total,
                        row.jit,
                        row.envoy,
                        row.libs,
                        row.clock,
                        t.elapsed().as_secs_f64()
                    ),
                    Err(why) => println!("  {:<28} FAILED: {}", variant.id, super::first_line(why)),
                }
                if let Some(slot) = results.lock().ok().as_mut().and_then(|r| r.get_mut(i)) {
                    *slot = Some(result);
                }
            });
        }
    });
    let mut rows = Vec::new();
    let results = results.into_inner().unwrap_or_default();
    for (variant, result) in variants.iter().zip(results) {
        match result {
            Some(Ok(row)) => rows.push(row),
            Some(Err(why)) => {
                println!("SKIPPED: {}: {why}", variant.id);
                skipped.push(format!("{}: {}", variant.name, super::first_line(&why)));
            }
            None => skipped.push(format!("{}: not run", variant.name)),
        }
    }
    let took = started.elapsed();
    let header = describe(&envoy, took, variants.len());
    let markdown = render(&header, &rows, &skipped);
    let dir = root().join("benches/results");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join(if only.is_empty() {
        "instructions.md".to_string()
    } else {
        format!("instructions-{}.md", only.join("+"))
    });
    std::fs::write(&path, &markdown).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("\n{markdown}\nreport: {}", path.display());
    println!("(instruction count took {:.0}s)", took.as_secs_f64());
    Ok(())
}

/// One variant: its Envoy under callgrind, warmed, counted, stopped.
fn count(variant: &Variant, out_dir: &Path) -> std::result::Result<Row, String> {
    let dir = out_dir.join(&variant.id);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let out = dir.join("callgrind.out");
    let envoy = launch::start_checked_wrapped(variant, callgrind::wrapper(&out), READY_TIMEOUT)?;
    let pid = envoy.pid();
    // Where Envoy's code is (valgrind leaves part of it without a name; see `callgrind::split`).
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    let binary = palisade_e2e::paths::envoy_binary();
    let envoy_code = callgrind::mappings(&maps, &binary.canonicalize().unwrap_or(binary));
    let mut client = Client::new(&variant.load, envoy.port());
    client.send(WARMUP)?;
    callgrind::control(pid, &["--instr=on"])?;
    client.send(SETTLE)?;
    let window = |work: &mut dyn FnMut() -> Result<Counts>| -> Result<(Counts, Window)> {
        callgrind::control(pid, &["--zero"])?;
        let t = Instant::now();
        let counts = work()?;
        callgrind::control(pid, &["--dump"])?;
        let seconds = t.elapsed().as_secs_f64();
        let (total, split) = callgrind::read_dump(&callgrind::newest_dump(&out)?, &envoy_code)?;
        Ok((
            counts,
            Window {
                total,
                split,
                seconds,
            },
        ))
    };
    let (counts, counted) = window(&mut || client.send(COUNTED))?;
    let (_, idle) = window(&mut || {
        std::thread::sleep(IDLE);
        Ok(Counts::default())
    })?;
    // Stop Envoy (only this one: the wrapper's process).
    drop(envoy);
    check(variant, &counts)?;
    Ok(Row::new(variant, &counted, &idle, counts.requests))
}

/// The answers must be what the variant promises (else the count measures errors).
fn check(variant: &Variant, counts: &Counts) -> Result {
    let ok = counts.requests == COUNTED
        && match variant.expect {
            Expect::Admitted => counts.status_errors == 0,
            Expect::Limited => counts.status_errors == counts.requests,
        };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} requests counted, {} with status ≥ 400 (expected {:?})",
            counts.requests, counts.status_errors, variant.expect
        ))
    }
}

fn valgrind_version() -> String {
    std::process::Command::new("valgrind")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn describe(envoy: &Path, took: Duration, variants: usize) -> Vec<String> {
    vec![
        format!("- Envoy: {}", super::envoy_version(envoy)),
        format!(
            "- {}, `--tool=callgrind --instr-atstart=no --smc-check=all-non-file`; Envoy `--concurrency 1` (2 where a row says so)",
            valgrind_version()
        ),
        format!(
            "- Per variant: the probes and {WARMUP} requests, instrumentation on, {SETTLE} requests, counters zeroed, {COUNTED} requests counted, then {} s without requests (the clock-driven work, subtracted); one keep-alive HTTP/1.1 connection, the CPU bench's request",
            IDLE.as_secs()
        ),
        format!(
            "- The run took {:.0} s for {variants} variants, two at a time (mostly Envoy starting under valgrind)",
            took.as_secs_f64()
        ),
    ]
}

/// `213.0k`, `17.35M`.
fn k(n: f64) -> String {
    if n.abs() >= 1e6 {
        format!("{:.2}M", n / 1e6)
    } else {
        format!("{:.1}k", n / 1000.0)
    }
}

/// `+122.0k`, `+17.28M`, `0.0k` (under 50 either way).
fn k_signed(n: f64) -> String {
    if n.abs() < 50.0 {
        "0.0k".into()
    } else {
        format!("{}{}", if n < 0.0 { "" } else { "+" }, k(n))
    }
}

fn floor_of<'a>(row: &Row, rows: &'a [Row]) -> Option<&'a Row> {
    rows.iter().find(|r| r.id == row.floor && r.id != row.id)
}

/// What `row` adds over its floor: total, JIT, Envoy, libraries.
fn added(row: &Row, rows: &[Row]) -> Option<[f64; 4]> {
    let f = floor_of(row, rows)?;
    Some([
        row.total - f.total,
        row.jit - f.jit,
        row.envoy - f.envoy,
        row.libs - f.libs,
    ])
}

/// Below this many instructions over its floor, a native filter counts as free (no ratio).
const NATIVE_FREE: f64 = 1000.0;

impl Measured for Row {
    fn id(&self) -> &str {
        &self.id
    }
    fn floor(&self) -> &str {
        &self.floor
    }
    fn native(&self) -> Option<&str> {
        self.native.as_deref()
    }
    fn per_request(&self) -> f64 {
        self.total
    }
}

/// The report.
pub fn render(header: &[String], rows: &[Row], skipped: &[String]) -> String {
    let mut md = String::new();
    for line in header {
        let _ = writeln!(md, "{line}");
    }
    let _ = writeln!(
        md,
        "\n| Variant | instructions/request | over floor | … in Wasm JIT | … in envoy | … in libc, libs | × native | × native, over floor |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let (over, jit, envoy, libs) = match (added(row, rows), floor_of(row, rows)) {
            (Some([total, jit, envoy, libs]), Some(floor)) => (
                format!(
                    "{} ({:+.0}%)",
                    k_signed(total),
                    total / floor.total.max(1.0) * 100.0
                ),
                k_signed(jit),
                k_signed(envoy),
                k_signed(libs),
            ),
            _ => ("floor".into(), k(row.jit), k(row.envoy), k(row.libs)),
        };
        let (all, over_ratio) = ratios(row, rows, 1.0, NATIVE_FREE);
        let _ = writeln!(
            md,
            "| {} | {} | {over} | {jit} | {envoy} | {libs} | {all} | {over_ratio} |",
            row.name,
            k(row.total)
        );
    }
    let _ = writeln!(
        md,
        "\nInstructions Envoy executed per request (every thread, user space only: callgrind does not \
         see the kernel), k = 1,000. \"over floor\" and its split are what the variant adds over its \
         floor row (floor rows: their own split): in code V8 generated at run time (the compiled \
         Wasm module), in the Envoy binary (Envoy with its allocator, tcmalloc, and V8's runtime and \
         builtins: the host side of every Proxy-Wasm call), and in libc and the other libraries. \"× native\" compares with the Envoy filter doing the same \
         job. Work Envoy does by the clock (timers, the modules' 100 ms ticks) is measured in a \
         window without requests and subtracted, so the counts do not depend on how fast the \
         machine ran them. An instruction count is not CPU time: it leaves out the kernel, cache \
         misses and how fast each instruction is, but it comes out within about 0.5% run after run, \
         whatever the machine's load."
    );
    if let Some(line) = bundle_summary(rows, k_signed, " instructions per request") {
        let _ = writeln!(md, "\n{line}");
    }
    if !skipped.is_empty() {
        let _ = writeln!(md, "\nSkipped:");
        for line in skipped {
            let _ = writeln!(md, "- {line}");
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, floor: &str, native: Option<&str>, split: [f64; 3]) -> Row {
        Row {
            id: id.into(),
            name: id.into(),
            floor: floor.into(),
            native: native.map(str::to_string),
            total: split.iter().sum(),
            jit: split[0],
            envoy: split[1],
            libs: split[2],
            clock: 0.0,
        }
    }

    #[test]
    fn clock_driven_work_is_subtracted_at_the_idle_rate() {
        let split = |jit: u64, envoy: u64, libs: u64| Split {
            total: jit + envoy + libs,
            jit,
            envoy,
            libs,
        };
        let counted = Window {
            total: 50_400_000,
            split: split(10_000_000, 38_000_000, 2_400_000),
            seconds: 4.0,
        };
        // 100k per second by the clock, 20k of it in the module's tick.
        let idle = Window {
            total: 300_000,
            split: split(60_000, 210_000, 30_000),
            seconds: 3.0,
        };
        let variant = Variant::for_tests("v");
        let row = Row::new(&variant, &counted, &idle, 500);
        let got = [row.total, row.jit, row.envoy, row.libs, row.clock].map(f64::round);
        assert_eq!(got, [100_000.0, 19_840.0, 75_440.0, 4_720.0, 800.0]);
    }

    #[test]
    fn rows_are_set_against_their_floor_and_their_native_filter() {
        let rows = [
            row("floor", "floor", None, [0.0, 80_000.0, 11_000.0]),
            row(
                "headers",
                "floor",
                Some("native-headers"),
                [62_000.0, 140_000.0, 11_000.0],
            ),
            row("native-headers", "floor", None, [0.0, 90_000.0, 11_500.0]),
            row("native-rl", "floor", None, [0.0, 80_500.0, 11_000.0]),
            row(
                "rl",
                "floor",
                Some("native-rl"),
                [30_000.0, 100_000.0, 12_000.0],
            ),
        ];
        let md = render(&["- head".into()], &rows, &[]);
        assert!(md.starts_with("- head\n"));
        assert!(md.contains("| floor | 91.0k | floor | 0.0k | 80.0k | 11.0k | — | — |"));
        assert!(md.contains(
            "| headers | 213.0k | +122.0k (+134%) | +62.0k | +60.0k | 0.0k | 2.10× | 11.6× |"
        ));
        // Millions read as such.
        assert_eq!(
            (k(17_354_911.0), k_signed(-2_600.0)),
            ("17.35M".into(), "-2.6k".into())
        );
        // A native filter that adds under 1k instructions gives no overhead ratio.
        assert!(md.contains("| rl | 142.0k | +51.0k (+56%) | +30.0k | +20.0k | +1.0k | 1.55× | — (native ≈ floor) |"));
    }

    #[test]
    fn the_bundle_is_set_against_the_four_modules_and_the_native_chain() {
        let rows = [
            row(
                "floor-body-1k",
                "floor-body-1k",
                None,
                [0.0, 100_000.0, 0.0],
            ),
            row("chain", "floor-body-1k", None, [300_000.0, 200_000.0, 0.0]),
            row("native-chain", "floor-body-1k", None, [0.0, 150_000.0, 0.0]),
            row("bundle", "floor-body-1k", None, [150_000.0, 100_000.0, 0.0]),
        ];
        assert_eq!(
            bundle_summary(&rows, k_signed, " instructions per request").unwrap(),
            "Bundle (all four stages in one module): +150.0k instructions per request over its \
             floor, 0.38× the four modules' +400.0k, 3.0× the native chain's +50.0k."
        );
    }
}
