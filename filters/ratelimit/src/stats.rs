//! The filter's counters, declared once (Envoy shows them as `wasmcustom.<name>`).

use crate::config::Compiled;
use palisade_core::metrics::Counter;
use palisade_core::Host;

/// Counters of one rule.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuleStats {
    /// Admitted requests.
    pub allowed: Counter,
    /// Refused (429) requests.
    pub limited: Counter,
    /// Requests a shadow rule would have refused (and admitted).
    pub shadow_limited: Counter,
}

/// All counters.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Per rule, in config order.
    pub rules: Vec<RuleStats>,
    /// Busy keys evicted from a full slot-table bucket (the table is too small).
    pub evicted_busy: Counter,
    /// Extra shared-data reads after lost CAS races.
    pub cas_retries: Counter,
    /// Requests refused after losing every CAS race.
    pub cas_exhausted: Counter,
    /// Rate-limit service calls that failed, timed out or answered garbage.
    pub service_errors: Counter,
    /// Decisions made by the local limits because the service failed.
    pub fallbacks: Counter,
    /// Requests refused (400) for a path not in canonical form (`path_normalization`).
    pub non_canonical_path: Counter,
}

/// A rule name as a metric name part (`per-ip` → `per_ip`).
pub fn metric_part(rule: &str) -> String {
    rule.replace('-', "_")
}

impl Stats {
    /// Defines every counter.
    #[inline]
    pub fn define(host: &dyn Host, config: &Compiled) -> Self {
        let counter = |what: &str| Counter::define(host, &format!("palisade_ratelimit_{what}"));
        Self {
            rules: config
                .rules
                .iter()
                .map(|r| {
                    let rule = metric_part(&r.value.name);
                    RuleStats {
                        allowed: counter(&format!("{rule}_allowed")),
                        limited: counter(&format!("{rule}_limited")),
                        shadow_limited: counter(&format!("{rule}_shadow_limited")),
                    }
                })
                .collect(),
            evicted_busy: counter("evicted_busy"),
            cas_retries: counter("cas_retries"),
            cas_exhausted: counter("cas_exhausted"),
            service_errors: counter("service_errors"),
            fallbacks: counter("fallbacks"),
            non_canonical_path: counter("non_canonical_path"),
        }
    }

    /// The counters of rule `index` (no-ops if out of range).
    pub fn rule(&self, index: usize) -> RuleStats {
        self.rules.get(index).copied().unwrap_or_default()
    }
}
