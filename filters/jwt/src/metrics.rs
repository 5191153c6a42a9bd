//! The filter's counters, declared once, in one list.

use crate::error::DenyReason;
use crate::request::{Stats, Verdict};
use palisade_core::host::Host;
use palisade_core::metrics::Counter;

/// Every counter (Envoy shows them under `wasmcustom.palisade_jwt_*`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Metrics {
    /// Requests let through (verified, or no requirement).
    pub allowed: Counter,
    /// Requests let through unverified because keys were unavailable (`action: allow`).
    pub allowed_unverified: Counter,
    /// Denied: no token.
    pub denied_missing: Counter,
    /// Denied: malformed, unsigned, bad signature, unknown key.
    pub denied_invalid: Counter,
    /// Denied: expired, not yet valid, issued in the future, too long-lived.
    pub denied_expired: Counter,
    /// Denied: wrong issuer or audience.
    pub denied_claims: Counter,
    /// Denied: scopes or claim conditions not met.
    pub denied_forbidden: Counter,
    /// Denied: keys unavailable.
    pub denied_keys_unavailable: Counter,
    /// Denied: path not canonical (`path_normalization`).
    pub denied_non_canonical_path: Counter,
    /// Requests paused waiting for keys.
    pub paused: Counter,
    /// Key fetches that published keys.
    pub jwks_fetch_success: Counter,
    /// Key fetches that failed.
    pub jwks_fetch_failed: Counter,
    /// Tokens found in the verified-token cache.
    pub cache_hit: Counter,
    /// Tokens verified afresh.
    pub cache_miss: Counter,
    /// Signature checks made by the host (`verify_signature`).
    pub signature_host: Counter,
    /// Signature checks made in Wasm.
    pub signature_wasm: Counter,
}

impl Metrics {
    /// Defines every counter.
    #[inline]
    pub fn define(host: &dyn Host) -> Self {
        let c = |name: &str| Counter::define(host, &format!("palisade_jwt_{name}"));
        Self {
            allowed: c("allowed"),
            allowed_unverified: c("allowed_unverified"),
            denied_missing: c("denied_missing"),
            denied_invalid: c("denied_invalid"),
            denied_expired: c("denied_expired"),
            denied_claims: c("denied_claims"),
            denied_forbidden: c("denied_forbidden"),
            denied_keys_unavailable: c("denied_keys_unavailable"),
            denied_non_canonical_path: c("denied_non_canonical_path"),
            paused: c("paused"),
            jwks_fetch_success: c("jwks_fetch_success"),
            jwks_fetch_failed: c("jwks_fetch_failed"),
            cache_hit: c("cache_hit"),
            cache_miss: c("cache_miss"),
            signature_host: c("signature_host"),
            signature_wasm: c("signature_wasm"),
        }
    }

    /// Counts a verdict and the cache use behind it.
    pub fn count(&self, host: &dyn Host, verdict: &Verdict, stats: Stats) {
        let counter = match verdict {
            Verdict::Allow(_) => self.allowed,
            Verdict::AllowUnverified(_) => self.allowed_unverified,
            Verdict::Wait { .. } => self.paused,
            Verdict::Deny(_, reason) => match reason {
                DenyReason::Missing => self.denied_missing,
                DenyReason::Invalid => self.denied_invalid,
                DenyReason::Expired => self.denied_expired,
                DenyReason::Claims => self.denied_claims,
                DenyReason::Forbidden => self.denied_forbidden,
                DenyReason::KeysUnavailable => self.denied_keys_unavailable,
                DenyReason::NonCanonicalPath => self.denied_non_canonical_path,
            },
        };
        counter.inc(host);
        self.cache_hit.add(host, stats.cache_hits);
        self.cache_miss.add(host, stats.cache_misses);
    }
}
