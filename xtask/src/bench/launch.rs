//! Starting the variants' Envoys: each with its filters and route, logs quietened, answers
//! checked; several at once (V8 compiling the modules is most of a start).

use super::tail;
use super::variants::{self, Variant, FLOOR};
use crate::util::step;
use crate::util::Result;
use palisade_e2e::{Envoy, RequestBuilder};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Starts a variant's Envoy; `Err` holds its log.
pub fn start(variant: &Variant) -> std::result::Result<Envoy, String> {
    start_wrapped(variant, Vec::new(), READY_TIMEOUT)
}

/// How long a variant's Envoy may take to become ready, run natively.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts a variant's Envoy under `wrapper` (e.g. valgrind; none: natively), allowed `timeout`
/// to become ready; `Err` holds its log.
fn start_wrapped(
    variant: &Variant,
    wrapper: Vec<String>,
    timeout: Duration,
) -> std::result::Result<Envoy, String> {
    let mut builder = Envoy::builder()
        .concurrency(variant.concurrency)
        .wrapper(wrapper)
        .ready_timeout(timeout);
    for filter in &variant.filters {
        builder = builder.filter(filter.clone());
    }
    for (name, port) in &variant.clusters {
        builder = builder.cluster(name, *port);
    }
    if variant.release_memory {
        let release = variants::memory_release()?;
        builder = builder.patch(move |bootstrap| {
            if let Some(b) = bootstrap.as_object_mut() {
                b.insert("memory_allocator_manager".into(), release);
            }
        });
    }
    let route_config = variants::route_config(&variant.route);
    builder = builder.patch(move |bootstrap| {
        if let Some(slot) = bootstrap.pointer_mut(
            "/static_resources/listeners/0/filter_chains/0/filters/0/typed_config/route_config",
        ) {
            *slot = route_config;
        }
    });
    // Every route answers directly; the upstream cluster is never used.
    builder.start_with_upstream_port(9).map_err(|e| e.log)
}

/// The harness logs Wasm at debug; under load that would measure log writing.
fn quiet_logs(envoy: &Envoy) -> Result {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], envoy.admin_port()));
    let resp = RequestBuilder::new(addr, "POST", "/logging?level=warning")
        .try_send()
        .map_err(|e| format!("admin /logging: {e}"))?;
    if resp.status == 200 {
        Ok(())
    } else {
        Err(format!("admin /logging answered {}", resp.status))
    }
}

/// Sends the variant's probes; `Err` says which answer was wrong.
fn check_probes(variant: &Variant, envoy: &Envoy) -> Result {
    for probe in &variant.probes {
        let mut req = envoy.request(probe.load.method, &probe.load.path);
        for (name, value) in &probe.load.headers {
            req = req.header(name, value);
        }
        if let Some(body) = &probe.load.body {
            req = req.body(body.clone());
        }
        let resp = req
            .try_send()
            .map_err(|e| format!("no answer to a probe: {e}"))?;
        if resp.status != probe.status {
            return Err(format!(
                "{} {} answered {} instead of {}: {}\n{}",
                probe.load.method,
                probe.load.path,
                resp.status,
                probe.status,
                tail(&resp.text(), 5),
                tail(&envoy.log(), 20)
            ));
        }
        if let Some(name) = probe.absent {
            if let Some(value) = resp.header(name) {
                return Err(format!("`{name}: {value}` was not removed"));
            }
        }
    }
    Ok(())
}

/// Starts a variant's Envoy, quietens its log and checks its probes; `Err` says what failed.
fn start_checked(variant: &Variant) -> std::result::Result<Envoy, String> {
    start_checked_wrapped(variant, Vec::new(), READY_TIMEOUT)
}

/// [`start_checked`] under `wrapper` (see [`start_wrapped`]).
pub fn start_checked_wrapped(
    variant: &Variant,
    wrapper: Vec<String>,
    timeout: Duration,
) -> std::result::Result<Envoy, String> {
    let envoy = start_wrapped(variant, wrapper, timeout)
        .map_err(|log| format!("Envoy did not start:\n{}", tail(&log, 20)))?;
    quiet_logs(&envoy)?;
    check_probes(variant, &envoy)?;
    Ok(envoy)
}

/// Starts every variant's Envoy, `parallel` at a time; results in the variants' order.
pub fn start_all(
    variants: Vec<Variant>,
    parallel: usize,
) -> Vec<(Variant, std::result::Result<Envoy, String>)> {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<std::result::Result<Envoy, String>>>> =
        Mutex::new(variants.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..parallel.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(variant) = variants.get(i) else {
                    break;
                };
                let result = start_checked(variant);
                if let Some(slot) = slots.lock().ok().as_mut().and_then(|s| s.get_mut(i)) {
                    *slot = Some(result);
                }
            });
        }
    });
    let slots = slots.into_inner().unwrap_or_default();
    variants
        .into_iter()
        .zip(slots.into_iter().chain(std::iter::repeat_with(|| None)))
        .map(|(v, slot)| (v, slot.unwrap_or_else(|| Err("not started".into()))))
        .collect()
}

/// Start-to-ready of each distinct module set, `starts` times, before the long-lived Envoys run.
pub fn measure_load_times(variants: &[Variant], starts: usize) -> Vec<(String, Duration)> {
    step("load time: start-to-ready per module set");
    let mut seen: Vec<Vec<PathBuf>> = Vec::new();
    let mut out = Vec::new();
    for v in variants {
        let own = v.id == FLOOR || v.own_start;
        if !own && (v.modules.is_empty() || seen.contains(&v.modules)) {
            continue;
        }
        if !v.own_start {
            seen.push(v.modules.clone());
        }
        let mut times = Vec::new();
        for _ in 0..starts {
            let t = Instant::now();
            // One that does not start is reported (and skipped) when the variants start.
            if let Ok(envoy) = start(v) {
                // A filter that loads on the first request is ready when that one is answered.
                if !v.ready_on_first_answer || check_probes(v, &envoy).is_ok() {
                    times.push(t.elapsed());
                }
                drop(envoy);
            }
        }
        if times.is_empty() {
            continue;
        }
        times.sort();
        let median = times.get(times.len() / 2).copied().unwrap_or_default();
        println!("  {:<28} {:>5} ms", v.id, median.as_millis());
        out.push((v.id.clone(), median));
    }
    out
}
