//! A remote key source as compiled: where to fetch (through which cluster), how long keys stay
//! fresh, and how failed fetches back off.

use std::time::Duration;

pub use palisade_core::remote::Target;

/// Waits between failed fetches: exponential for `num_retries`, then `failed_refetch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Failures answered with exponential waits.
    pub num_retries: u32,
    /// First wait.
    pub base: Duration,
    /// Longest exponential wait.
    pub max: Duration,
    /// Wait once retries are used up (Envoy's `failed_refetch_duration`).
    pub failed_refetch: Duration,
}

impl Backoff {
    /// The wait after `failures` consecutive failures (1 for the first).
    pub fn delay(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        if failures > self.num_retries {
            return self.failed_refetch;
        }
        let factor = 1u32.checked_shl(failures - 1).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// A compiled `remote_jwks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSpec {
    /// Envoy cluster for every call.
    pub cluster: String,
    /// The JWKS URL, or the discovery document's.
    pub target: Target,
    /// `target` is a discovery document naming `jwks_uri`.
    pub discovery: bool,
    /// The issuer the discovery document must name.
    pub issuer: Option<String>,
    /// Per-call timeout.
    pub timeout: Duration,
    /// How long fetched keys are fresh.
    pub cache_duration: Duration,
    /// Waits after failures.
    pub backoff: Backoff,
    /// Shortest time between fetches caused by unknown `kid`s.
    pub kid_refetch_interval: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_settles() {
        let b = Backoff {
            num_retries: 4,
            base: Duration::from_millis(100),
            max: Duration::from_millis(500),
            failed_refetch: Duration::from_secs(2),
        };
        let waits: Vec<u128> = (0..7).map(|f| b.delay(f).as_millis()).collect();
        assert_eq!(waits, vec![0, 100, 200, 400, 500, 2000, 2000]);
        let huge = Backoff {
            num_retries: u32::MAX,
            ..b
        };
        assert_eq!(huge.delay(200), Duration::from_millis(500));
    }
}
