//! The module logs at Envoy's level, not at `Trace`: below it a log line is neither formatted
//! nor sent out of the VM (one `proxy_log` crossing each). Envoy's level can change at run time
//! (admin `/logging`), so it is read again every [`REFRESH_EVERY`] requests.

use proxy_wasm::types::LogLevel;
use std::cell::Cell;

/// Requests between two reads of Envoy's log level.
pub const REFRESH_EVERY: u32 = 64;

/// The `log` filter for an Envoy (Proxy-Wasm) log level.
pub fn level_filter(level: LogLevel) -> log::LevelFilter {
    match level {
        LogLevel::Trace => log::LevelFilter::Trace,
        LogLevel::Debug => log::LevelFilter::Debug,
        LogLevel::Info => log::LevelFilter::Info,
        LogLevel::Warn => log::LevelFilter::Warn,
        LogLevel::Error => log::LevelFilter::Error,
        LogLevel::Critical => log::LevelFilter::Off,
    }
}

/// Follows Envoy's log level: read at start and every [`REFRESH_EVERY`]th request.
#[derive(Debug, Default)]
pub struct LogLevelFollower {
    requests: Cell<u32>,
}

impl LogLevelFollower {
    /// Counts a request; `true` when the level is due to be read again.
    pub fn due(&self) -> bool {
        let n = self.requests.get().wrapping_add(1) % REFRESH_EVERY;
        self.requests.set(n);
        n == 0
    }

    /// Counts a request and reads the level when due.
    pub fn on_request(&self) {
        if self.due() {
            follow_host_level();
        }
    }
}

/// Sets the `log` max level to Envoy's. Envoy's `proxy_get_log_level` always answers Ok (the
/// SDK would panic on another status), so this cannot panic.
pub fn follow_host_level() {
    if let Ok(level) = proxy_wasm::hostcalls::get_log_level() {
        log::set_max_level(level_filter(level));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_level_is_read_again_every_refresh_period() {
        let follower = LogLevelFollower::default();
        let due: Vec<bool> = (0..REFRESH_EVERY * 2).map(|_| follower.due()).collect();
        assert_eq!(due.iter().filter(|d| **d).count(), 2);
        assert_eq!(due.last(), Some(&true));
        assert!(!due.first().copied().unwrap_or(true));
    }

    #[test]
    fn envoy_levels_map_to_log_filters() {
        assert_eq!(level_filter(LogLevel::Info), log::LevelFilter::Info);
        assert_eq!(level_filter(LogLevel::Critical), log::LevelFilter::Off);
        assert_eq!(level_filter(LogLevel::Trace), log::LevelFilter::Trace);
    }
}
