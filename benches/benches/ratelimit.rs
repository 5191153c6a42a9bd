//! The ratelimit filter's decision: the GCRA check alone, and the whole local decision through
//! the host trait (rule lookup, client key, slot-table compare-and-swap in shared data).
// Benchmark set-up: a broken fixture should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use palisade_benches::api_request_headers;
use palisade_core::testing::MockHost;
use palisade_ratelimit::config::compile;
use palisade_ratelimit::gcra::{check, Quota};
use palisade_ratelimit::limiter::{Limiter, RequestLimiter};
use std::hint::black_box;
use std::rc::Rc;
use std::time::Duration;

const NOW_NANOS: u64 = 1_000_000 * 1_000_000_000;

fn gcra(c: &mut Criterion) {
    let quotas = [
        Quota::new("per-second", 10, Duration::from_secs(1), 20),
        Quota::new("per-day", 1000, Duration::from_secs(86_400), 1000),
    ];
    let tats = [NOW_NANOS - 50_000_000, NOW_NANOS + 3_000_000_000];
    c.bench_function("ratelimit/GCRA check (2 quotas)", |b| {
        b.iter(|| check(&quotas, black_box(&tats), black_box(NOW_NANOS)).admitted);
    });
}

/// The rule `cargo xtask bench` runs: one budget per client address.
fn per_client(limit: &str) -> String {
    format!(r#"{{"rules": [{{"name": "per-client", "key": ["client_ip"], "limits": [{limit}]}}]}}"#)
}

fn decision(c: &mut Criterion) {
    for (name, limit) in [
        (
            "limit never reached",
            r#"{"requests": 1000000000, "per": "1s"}"#,
        ),
        ("limit reached", r#"{"requests": 1, "per": "1h"}"#),
    ] {
        let mut host = MockHost::new()
            .at_seconds(1_000_000)
            .with_property("source.address", b"10.1.2.3:40000");
        for (n, v) in api_request_headers(None) {
            host = host.with_request_header(&n, &v);
        }
        let limiter = Rc::new(Limiter::new(
            &host,
            compile(per_client(limit).as_bytes()).unwrap(),
        ));
        c.bench_function(&format!("ratelimit/local decision, {name}"), |b| {
            b.iter(|| RequestLimiter::new(Rc::clone(&limiter), 1).on_request_headers(&host));
        });
    }
}

criterion_group!(benches, gcra, decision);
criterion_main!(benches);
