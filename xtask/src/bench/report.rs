//! The Markdown report: per variant the medians over the rounds, set against the variant's floor
//! and its native equivalent; per module set its size, load time and Envoy's memory.

use super::variants::{Kind, Variant};
use super::wrk::CONNECTIONS;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// One measured load window.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Envoy CPU time (user + system, all threads) per request served, in microseconds.
    pub cpu_us: f64,
    /// Requests per second.
    pub throughput: f64,
    /// Median latency.
    pub p50_us: u64,
    /// 99th percentile latency.
    pub p99_us: u64,
}

/// A variant's medians.
#[derive(Debug, Clone)]
pub struct Row {
    /// Variant id.
    pub id: String,
    /// Name in the report.
    pub name: String,
    /// Its kind.
    pub kind: Kind,
    /// Its floor's id.
    pub floor: String,
    /// Its native equivalent's id.
    pub native: Option<String>,
    /// Median CPU µs per request.
    pub cpu_us: f64,
    /// Median requests per second.
    pub throughput: f64,
    /// Median p50.
    pub p50_us: u64,
    /// Median p99.
    pub p99_us: u64,
    /// Envoy's resident memory after the last round.
    pub rss_kib: u64,
}

fn median_f64(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn median_u64(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

impl Row {
    /// The medians of a variant's samples.
    pub fn new(variant: &Variant, samples: &[Sample], rss_kib: u64) -> Self {
        Self {
            id: variant.id.clone(),
            name: variant.name.clone(),
            kind: variant.kind,
            floor: variant.floor.to_string(),
            native: variant.native.map(str::to_string),
            cpu_us: median_f64(samples.iter().map(|s| s.cpu_us).collect()),
            throughput: median_f64(samples.iter().map(|s| s.throughput).collect()),
            p50_us: median_u64(samples.iter().map(|s| s.p50_us).collect()),
            p99_us: median_u64(samples.iter().map(|s| s.p99_us).collect()),
            rss_kib,
        }
    }
}

/// A report row measured per request (CPU here, instructions in `--instructions`): the ratios and
/// the bundle summary are worked out the same way for both reports.
pub trait Measured {
    /// Variant id.
    fn id(&self) -> &str;
    /// Its floor's id.
    fn floor(&self) -> &str;
    /// Its native equivalent's id.
    fn native(&self) -> Option<&str>;
    /// The measure per request.
    fn per_request(&self) -> f64;
}

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
        self.cpu_us
    }
}

/// What this row adds per request over its floor (`None` for a floor row).
pub fn overhead<R: Measured>(row: &R, rows: &[R]) -> Option<f64> {
    let floor = rows.iter().find(|r| r.id() == row.floor())?;
    (floor.id() != row.id()).then_some(row.per_request() - floor.per_request())
}

/// A module set's size, load time and memory.
#[derive(Debug, Clone)]
pub struct ModuleRow {
    /// The modules.
    pub name: String,
    /// Their total size.
    pub wasm_bytes: u64,
    /// Median start-to-ready.
    pub load: Duration,
    /// Envoy's RSS after the load rounds.
    pub rss_kib: u64,
    /// Envoy returned the allocator's free memory: compared with the first such row (the floor's).
    pub released: bool,
}

/// Where the numbers were taken.
pub struct Machine {
    lines: Vec<String>,
}

impl Machine {
    /// CPU, kernel, Envoy, and how the run was set up.
    pub fn describe(envoy: &Path, rounds: usize, measure: Duration, pinned: bool) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
            .unwrap_or_else(|| "unknown CPU".into());
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let mem_gib = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kib| kib / (1024 * 1024));
        let lines = vec![
            format!("- Machine: {model}, {cpus} CPUs, {mem_gib} GiB, Linux {}", kernel.trim()),
            format!("- Envoy: {}", super::envoy_version(envoy)),
            format!(
                "- Load: wrk, 1 thread, {CONNECTIONS} keep-alive connections, HTTP/1.1; Envoy `--concurrency 1` (2 where a row says so){}",
                if pinned { "; Envoy pinned to CPU 0, wrk to CPU 1" } else { "" }
            ),
            format!(
                "- {rounds} round(s) of {} s per variant (1 s warm-up before the first), variants interleaved in a rotating order; medians",
                measure.as_secs()
            ),
        ];
        Self { lines }
    }
}

fn latency(us: u64) -> String {
    if us < 1000 {
        format!("{us} µs")
    } else {
        let ms = us as f64 / 1000.0;
        format!("{ms:.2} ms")
    }
}

/// Palisade-to-native ratio per request, and of what each adds over its floor when the native one
/// adds at least `native_free` (below it the native filter counts as free: no ratio). Divisors are
/// kept at `min_divisor` or more.
pub fn ratios<R: Measured>(
    row: &R,
    rows: &[R],
    min_divisor: f64,
    native_free: f64,
) -> (String, String) {
    let Some(native) = row.native().and_then(|n| rows.iter().find(|r| r.id() == n)) else {
        return ("—".into(), "—".into());
    };
    let all = format!(
        "{:.2}×",
        row.per_request() / native.per_request().max(min_divisor)
    );
    let over = match (overhead(row, rows), overhead(native, rows)) {
        (Some(mine), Some(theirs)) if theirs >= native_free => format!("{:.1}×", mine / theirs),
        _ => "— (native ≈ floor)".into(),
    };
    (all, over)
}

/// The whole report.
pub fn render(
    machine: &Machine,
    rows: &[Row],
    modules: &[ModuleRow],
    skipped: &[String],
) -> String {
    let mut md = String::new();
    for line in &machine.lines {
        let _ = writeln!(md, "{line}");
    }
    let _ = writeln!(
        md,
        "\n| Variant | CPU µs/request | Overhead over floor | × native, CPU | × native, overhead | req/s | p50 | p99 |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let over = match (overhead(row, rows), rows.iter().find(|r| r.id == row.floor)) {
            (Some(o), Some(floor)) => format!(
                "{o:+.2} µs ({:+.0}%)",
                o / floor.cpu_us.max(f64::EPSILON) * 100.0
            ),
            _ => "floor".into(),
        };
        let (cpu_ratio, over_ratio) = ratios(row, rows, f64::EPSILON, 0.5);
        let _ = writeln!(
            md,
            "| {} | {:.2} | {over} | {cpu_ratio} | {over_ratio} | {:.0} | {} | {} |",
            row.name,
            row.cpu_us,
            row.throughput,
            latency(row.p50_us),
            latency(row.p99_us)
        );
    }
    let _ = writeln!(
        md,
        "\nCPU is Envoy's own (user + system, every thread, from `/proc/<pid>/stat`) over the load \
         window, divided by the requests served. Body variants have the buffered-body floor; \
         \"× native\" compares with the Envoy filter doing the same job in the row below."
    );
    if let Some(line) = bundle_summary(rows, micros, "") {
        let _ = writeln!(md, "\n{line}");
    }
    if let Some(floor) = modules.first() {
        let _ = writeln!(
            md,
            "\n| Modules | .wasm size | Start to ready | vs no filter | Envoy RSS after load | vs no filter |"
        );
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|");
        for m in modules {
            let kib = m.wasm_bytes as f64 / 1024.0;
            let size = if m.wasm_bytes == 0 {
                "—".into()
            } else {
                format!("{kib:.0} KiB")
            };
            let floor = match m.released {
                true => modules.iter().find(|f| f.released).unwrap_or(floor),
                false => floor,
            };
            let load_ms = m.load.as_secs_f64() * 1000.0;
            let floor_ms = floor.load.as_secs_f64() * 1000.0;
            let rss_delta = m.rss_kib as i64 - floor.rss_kib as i64;
            let _ = writeln!(
                md,
                "| {} | {size} | {load_ms:.0} ms | {:+.0} ms | {:.1} MiB | {:+.1} MiB |",
                m.name,
                load_ms - floor_ms,
                kib_to_mib(m.rss_kib),
                kib_to_mib_signed(rss_delta),
            );
        }
        let _ = writeln!(
            md,
            "\nStart to ready: process start until `/ready` answers and the listener is bound \
             (median of several starts; the harness polls every 50 ms). Rows \"memory released\" \
             run Envoy with `memory_allocator_manager` (tcmalloc gives back up to 8 MiB of free \
             pages a second; read once settled, a minute after start) and are compared with the \
             floor that does the same."
        );
    }
    if !skipped.is_empty() {
        let _ = writeln!(md, "\nSkipped:");
        for line in skipped {
            let _ = writeln!(md, "- {line}");
        }
    }
    md
}
/// The bundle's added cost against the four modules chained and the native chain (issue 11's
/// goals: ≤ 0.4× the first, ≤ 3× the second), each amount shown by `show`, the bundle's followed
/// by `unit`.
pub fn bundle_summary<R: Measured>(
    rows: &[R],
    show: impl Fn(f64) -> String,
    unit: &str,
) -> Option<String> {
    let added = |id: &str| {
        let row = rows.iter().find(|r| r.id() == id)?;
        overhead(row, rows)
    };
    let bundle = added("bundle")?;
    let mut parts = vec![format!(
        "Bundle (all four stages in one module): {}{unit} over its floor",
        show(bundle)
    )];
    if let Some(chain) = added("chain").filter(|c| *c > 0.0) {
        parts.push(format!(
            "{:.2}× the four modules' {}",
            bundle / chain,
            show(chain)
        ));
    }
    if let Some(native) = added("native-chain").filter(|n| *n > 0.0) {
        parts.push(format!(
            "{:.1}× the native chain's {}",
            bundle / native,
            show(native)
        ));
    }
    Some(format!("{}.", parts.join(", ")))
}

/// A signed amount of CPU per request.
fn micros(us: f64) -> String {
    format!("{us:+.2} µs")
}

fn kib_to_mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
fn kib_to_mib_signed(kib: i64) -> f64 {
    kib as f64 / 1024.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, floor: &str, cpu_us: f64) -> Row {
        Row {
            id: id.into(),
            name: id.into(),
            kind: Kind::Wasm,
            floor: floor.into(),
            native: None,
            cpu_us,
            throughput: 0.0,
            p50_us: 0,
            p99_us: 0,
            rss_kib: 0,
        }
    }

    fn module(name: &str, rss_mib: u64, released: bool) -> ModuleRow {
        ModuleRow {
            name: name.into(),
            wasm_bytes: 0,
            load: Duration::from_millis(100),
            rss_kib: rss_mib * 1024,
            released,
        }
    }

    #[test]
    fn rows_with_memory_released_are_set_against_the_floor_that_releases_too() {
        let modules = [
            module("none", 64, false),
            module("none released", 60, true),
            module("bundle", 180, false),
            module("bundle released", 130, true),
        ];
        let md = render(&Machine { lines: Vec::new() }, &[], &modules, &[]);
        let line = |name: &str| {
            md.lines()
                .find(|l| l.starts_with(&format!("| {name} |")))
                .unwrap_or_default()
                .to_string()
        };
        assert!(line("bundle").ends_with("| +116.0 MiB |"), "{md}");
        assert!(line("bundle released").ends_with("| +70.0 MiB |"), "{md}");
        assert!(line("none released").ends_with("| +0.0 MiB |"), "{md}");
    }

    #[test]
    fn the_bundle_is_set_against_the_four_modules_and_the_native_chain() {
        let rows = [
            row("floor-body-1k", "floor-body-1k", 20.0),
            row("chain", "floor-body-1k", 100.0),
            row("native-chain", "floor-body-1k", 30.0),
            row("bundle", "floor-body-1k", 44.0),
        ];
        assert_eq!(
            bundle_summary(&rows, micros, "").unwrap(),
            "Bundle (all four stages in one module): +24.00 µs over its floor, 0.30× the four \
             modules' +80.00 µs, 2.4× the native chain's +10.00 µs."
        );
        assert_eq!(bundle_summary(&rows[..2], micros, ""), None);
    }
}
