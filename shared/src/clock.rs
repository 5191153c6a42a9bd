//! Time as the filters see it: a trait, so decisions can be tested with virtual time.

use std::cell::Cell;
use std::time::Duration;

/// Wall-clock time since the Unix epoch.
pub trait Clock {
    /// Nanoseconds since the Unix epoch.
    fn unix_nanos(&self) -> u64;

    /// Whole seconds since the Unix epoch.
    fn unix_seconds(&self) -> u64 {
        self.unix_nanos() / 1_000_000_000
    }
}

/// The machine's clock (native code and tests only; in Envoy the host clock is used).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn unix_nanos(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
}

/// A clock that only moves when told to: for tests with virtual time.
#[derive(Debug, Default)]
pub struct ManualClock {
    nanos: Cell<u64>,
}

impl ManualClock {
    /// A clock stopped at `unix_seconds`.
    pub fn at_seconds(unix_seconds: u64) -> Self {
        Self {
            nanos: Cell::new(unix_seconds.saturating_mul(1_000_000_000)),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.set(self.nanos.get().saturating_add(by));
    }

    /// Sets the clock to an absolute time (it may go backwards, as real clocks do).
    pub fn set_nanos(&self, nanos: u64) {
        self.nanos.set(nanos);
    }
}

impl Clock for ManualClock {
    fn unix_nanos(&self) -> u64 {
        self.nanos.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[test]
    #[wasm_bindgen_test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::at_seconds(100);
        assert_eq!(clock.unix_seconds(), 100);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.unix_seconds(), 101);
        assert_eq!(clock.unix_nanos(), 101_500_000_000);
        clock.set_nanos(5_000_000_000);
        assert_eq!(clock.unix_seconds(), 5);
    }
}
