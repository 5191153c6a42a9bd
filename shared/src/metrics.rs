//! Counters and histograms Envoy shows in `/stats` (and `/stats/prometheus`).

use crate::host::{Host, MetricKind};
use std::cell::RefCell;
use std::time::Duration;

/// How often a module writes the counter increments its requests made ([`PendingCounts`]):
/// `/stats` lags the requests by at most this (plus the tick's own delay).
pub const FLUSH_PERIOD: Duration = Duration::from_millis(100);

/// Counter increments made by requests, summed in the VM and written to the host in one
/// `proxy_increment_metric` per counter on the root's tick ([`FLUSH_PERIOD`]), not one per
/// increment per request: the ABI has no batch call, so sums over requests are the batch.
#[derive(Debug, Default)]
pub struct PendingCounts {
    deltas: RefCell<Vec<(u32, i64)>>,
}

impl PendingCounts {
    /// Adds `delta` to counter `id` (written at the next [`PendingCounts::flush`]).
    pub fn add(&self, id: u32, delta: i64) {
        let mut deltas = self.deltas.borrow_mut();
        match deltas.iter_mut().find(|(i, _)| *i == id) {
            Some((_, sum)) => *sum = sum.saturating_add(delta),
            None => deltas.push((id, delta)),
        }
    }

    /// Writes every pending sum to the host, one call per counter, and starts again from zero.
    pub fn flush(&self, host: &dyn Host) {
        let deltas = std::mem::take(&mut *self.deltas.borrow_mut());
        for (id, delta) in deltas {
            if delta != 0 {
                host.increment_metric(id, delta);
            }
        }
    }

    /// Whether nothing waits to be written.
    pub fn is_empty(&self) -> bool {
        self.deltas.borrow().is_empty()
    }
}

/// A counter; a no-op when the host refused to define it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counter(Option<u32>);

impl Counter {
    /// Defines `name` (use `palisade_<filter>_<what>`).
    pub fn define(host: &dyn Host, name: &str) -> Self {
        Self(host.define_metric(MetricKind::Counter, name))
    }

    /// Adds one.
    pub fn inc(self, host: &dyn Host) {
        self.add(host, 1);
    }

    /// Adds `n` (nothing for zero: a call out of the VM that changes nothing).
    pub fn add(self, host: &dyn Host, n: u64) {
        if let (Some(id), true) = (self.0, n > 0) {
            host.increment_metric(id, i64::try_from(n).unwrap_or(i64::MAX));
        }
    }
}

/// A histogram; a no-op when the host refused to define it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Histogram(Option<u32>);

impl Histogram {
    /// Defines `name`.
    pub fn define(host: &dyn Host, name: &str) -> Self {
        Self(host.define_metric(MetricKind::Histogram, name))
    }

    /// Records a value.
    pub fn record(self, host: &dyn Host, value: u64) {
        if let Some(id) = self.0 {
            host.record_metric(id, value);
        }
    }
}

/// A gauge; a no-op when the host refused to define it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gauge(Option<u32>);

impl Gauge {
    /// Defines `name`.
    pub fn define(host: &dyn Host, name: &str) -> Self {
        Self(host.define_metric(MetricKind::Gauge, name))
    }

    /// Sets the value.
    pub fn set(self, host: &dyn Host, value: u64) {
        if let Some(id) = self.0 {
            host.record_metric(id, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MockHost;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[test]
    #[wasm_bindgen_test]
    fn counters_and_histograms_reach_the_host() {
        let host = MockHost::new();
        let c = Counter::define(&host, "palisade_test_hits");
        c.inc(&host);
        c.add(&host, 2);
        let h = Histogram::define(&host, "palisade_test_size");
        h.record(&host, 7);
        assert_eq!(host.metric("palisade_test_hits"), Some(3));
        assert_eq!(host.metric("palisade_test_size"), Some(7));
    }

    #[test]
    #[wasm_bindgen_test]
    fn pending_counts_reach_the_host_summed_on_flush() {
        let host = crate::counting::CountingHost::new(MockHost::new());
        let a = Counter::define(&host, "palisade_test_a");
        let b = Counter::define(&host, "palisade_test_b");
        let _ = host.take();
        let pending = PendingCounts::default();
        for _ in 0..3 {
            if let (Counter(Some(a)), Counter(Some(b))) = (a, b) {
                pending.add(a, 1);
                pending.add(b, 2);
            }
        }
        assert_eq!(host.take().total(), 0);
        assert_eq!(host.metric("palisade_test_a"), Some(0));
        pending.flush(&host);
        assert_eq!(
            host.take().of(crate::counting::HostCall::IncrementMetric),
            2
        );
        assert_eq!(host.metric("palisade_test_a"), Some(3));
        assert_eq!(host.metric("palisade_test_b"), Some(6));
        assert!(pending.is_empty());
        pending.flush(&host);
        assert_eq!(host.take().total(), 0);
    }

    #[test]
    #[wasm_bindgen_test]
    fn adding_zero_does_not_call_the_host() {
        let host = crate::counting::CountingHost::new(MockHost::new());
        let c = Counter::define(&host, "palisade_test_hits");
        let _ = host.take();
        c.add(&host, 0);
        assert_eq!(host.take().total(), 0);
        c.add(&host, 2);
        assert_eq!(
            host.take().of(crate::counting::HostCall::IncrementMetric),
            1
        );
        assert_eq!(host.metric("palisade_test_hits"), Some(2));
    }
}
