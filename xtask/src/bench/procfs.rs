//! What `/proc` says about the Envoy under test: its CPU time and its resident memory.

use crate::util::Result;
use std::process::Command;
use std::time::Duration;

/// Kernel clock ticks per second (`getconf CLK_TCK`; 100 on every Linux we run on).
pub fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

/// User plus system CPU time the process (all its threads) has used so far.
pub fn cpu_time(pid: u32, ticks_per_second: u64) -> Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    // The command name (field 2) may hold spaces; fields after it are plain numbers.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("{path}: no command name"))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of proc(5); `fields` starts at field 3.
    let ticks = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| format!("{path}: field {} unreadable", i + 3))
    };
    let total = ticks(11)? + ticks(12)?;
    Ok(Duration::from_nanos(
        total.saturating_mul(1_000_000_000) / ticks_per_second,
    ))
}

/// Resident set size in KiB (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("{path}: no VmRSS"))
}

/// Pins every thread of a process to one CPU, so the load generator keeps the other
/// (best effort: without `taskset` or with one CPU, nothing is pinned).
pub fn pin(pid: u32, cpu: usize) -> bool {
    Command::new("taskset")
        .args(["-a", "-p", "-c", &cpu.to_string(), &pid.to_string()])
        .output()
        .is_ok_and(|o| o.status.success())
}
