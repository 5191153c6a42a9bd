//! GCRA (the generic cell rate algorithm): a token bucket kept as one number per limit, the
//! "theoretical arrival time" (TAT). Chosen over a counted token bucket because its whole state
//! is one `u64`, so a key with several limits fits a small fixed-size shared-data record, it needs
//! no floating point, and `Retry-After`, remaining and reset fall straight out of it.
//!
//! A limit of `requests` per `window` with `burst` B admits B requests at once, then one every
//! `window / requests`. A state whose TAT is in the past is the same as no state at all: that is
//! what lets the slot table forget idle keys without losing anything.

use std::time::Duration;

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// One compiled limit: `requests` per `window`, bucket size `burst`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// The policy name shown in `RateLimit-Policy`.
    pub name: String,
    /// Requests per window.
    pub requests: u32,
    /// The window.
    pub window: Duration,
    /// Nanoseconds between two requests at the sustained rate (`window / requests`, at least 1).
    interval: u64,
    /// How far ahead of now the TAT may run: `interval * (burst - 1)`.
    tolerance: u64,
}

impl Quota {
    /// A quota; `requests` and `burst` must be at least 1 (checked by the config).
    pub fn new(name: impl Into<String>, requests: u32, window: Duration, burst: u32) -> Self {
        let window_nanos = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
        let interval = (window_nanos / u64::from(requests.max(1))).max(1);
        let tolerance = interval.saturating_mul(u64::from(burst.max(1)) - 1);
        Self {
            name: name.into(),
            requests,
            window,
            interval,
            tolerance,
        }
    }

    /// The bucket size.
    pub fn burst(&self) -> u64 {
        self.tolerance / self.interval + 1
    }

    /// The window in whole seconds (at least 1), as `RateLimit-Policy` wants it.
    pub fn window_seconds(&self) -> u64 {
        self.window.as_secs().max(1)
    }

    /// The latest TAT a key can reach: a just-emptied bucket.
    fn latest_tat(&self, now: u64) -> u64 {
        now.saturating_add(self.tolerance.saturating_add(self.interval))
    }

    /// A stored TAT as this quota reads it: never further ahead than a just-emptied bucket, so a
    /// clock that went backwards cannot lock a key out for longer than an empty bucket would.
    fn effective_tat(&self, tat: u64, now: u64) -> u64 {
        tat.max(now).min(self.latest_tat(now))
    }

    /// Whether one more request fits now; `Err(wait)` is the time until it would.
    fn admit(&self, tat: u64, now: u64) -> Result<u64, u64> {
        let tat = self.effective_tat(tat, now);
        let ahead = tat - now;
        if ahead > self.tolerance {
            Err(ahead - self.tolerance)
        } else {
            Ok(tat.saturating_add(self.interval))
        }
    }

    /// Requests that would still be admitted now.
    fn remaining(&self, tat: u64, now: u64) -> u64 {
        let ahead = self.effective_tat(tat, now) - now;
        self.tolerance
            .saturating_add(self.interval)
            .saturating_sub(ahead)
            / self.interval
    }
}

/// What a quota looks like after a check: for the `RateLimit` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaState {
    /// Requests still admitted now.
    pub remaining: u64,
    /// Seconds until the bucket is full again (rounded up).
    pub reset_seconds: u64,
}

/// The outcome of checking every quota of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the request is admitted (by every quota).
    pub admitted: bool,
    /// The TATs to store (when [`Verdict::store`]).
    pub tats: Vec<u64>,
    /// Whether the state changed: admitted, or a TAT pulled back after the clock went backwards.
    pub store: bool,
    /// Per quota, after this request.
    pub states: Vec<QuotaState>,
    /// When refused: seconds until a request would be admitted (rounded up, at least 1).
    pub retry_after_seconds: u64,
}

fn ceil_seconds(nanos: u64) -> u64 {
    nanos.div_ceil(NANOS_PER_SECOND)
}

/// Checks one request against all quotas of a key. `tats[i]` belongs to `quotas[i]` (missing
/// ones count as 0: a full bucket). Admitted only if every quota admits; a refusal uses nothing.
pub fn check(quotas: &[Quota], tats: &[u64], now: u64) -> Verdict {
    let stored = |i: usize| tats.get(i).copied().unwrap_or(0);
    let outcomes: Vec<Result<u64, u64>> = quotas
        .iter()
        .enumerate()
        .map(|(i, q)| q.admit(stored(i), now))
        .collect();
    let wait = outcomes
        .iter()
        .filter_map(|o| o.err())
        .max()
        .map(|w| ceil_seconds(w).max(1));
    let admitted = wait.is_none();
    let mut clamped = false;
    let new_tats: Vec<u64> = quotas
        .iter()
        .zip(&outcomes)
        .enumerate()
        .map(|(i, (q, outcome))| match outcome {
            Ok(next) if admitted => *next,
            _ if stored(i) > q.latest_tat(now) => {
                clamped = true;
                q.latest_tat(now)
            }
            _ => stored(i),
        })
        .collect();
    let states = quotas
        .iter()
        .zip(&new_tats)
        .map(|(q, &tat)| QuotaState {
            remaining: q.remaining(tat, now),
            reset_seconds: ceil_seconds(tat.saturating_sub(now)),
        })
        .collect();
    Verdict {
        admitted,
        tats: new_tats,
        store: admitted || clamped,
        states,
        retry_after_seconds: wait.unwrap_or(0),
    }
}

/// Whether a key's state is the same as a fresh one (every bucket full): safe to forget.
pub fn is_idle(tats: &[u64], now: u64) -> bool {
    tats.iter().all(|&t| t <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = NANOS_PER_SECOND;

    fn per_second(requests: u32, burst: u32) -> Quota {
        Quota::new("q", requests, Duration::from_secs(1), burst)
    }

    /// Runs `n` requests at `now`, storing TATs like the slot table does; returns admissions.
    fn run(quotas: &[Quota], tats: &mut Vec<u64>, now: u64, n: u32) -> u32 {
        let mut admitted = 0;
        for _ in 0..n {
            let v = check(quotas, tats, now);
            admitted += u32::from(v.admitted);
            if v.store {
                *tats = v.tats;
            }
        }
        admitted
    }

    #[test]
    fn burst_is_admitted_at_once_then_refused() {
        let q = [per_second(10, 5)];
        let mut tats = vec![];
        assert_eq!(run(&q, &mut tats, 100 * S, 20), 5);
    }

    #[test]
    fn refill_follows_the_sustained_rate() {
        let q = [per_second(10, 10)];
        let mut tats = vec![];
        let t0 = 100 * S;
        assert_eq!(run(&q, &mut tats, t0, 10), 10);
        assert_eq!(run(&q, &mut tats, t0, 1), 0);
        // 10/s: one request every 100 ms.
        assert_eq!(run(&q, &mut tats, t0 + 99_000_000, 1), 0);
        assert_eq!(run(&q, &mut tats, t0 + 100_000_000, 5), 1);
        assert_eq!(run(&q, &mut tats, t0 + 550_000_000, 10), 4);
        // A full window later the whole burst is back.
        assert_eq!(run(&q, &mut tats, t0 + 3 * S, 20), 10);
    }

    #[test]
    fn every_quota_must_admit_and_a_refusal_uses_nothing() {
        // 10/s and 15/day: the daily quota binds after the second second.
        let q = [
            per_second(10, 10),
            Quota::new("day", 15, Duration::from_secs(86_400), 15),
        ];
        let mut tats = vec![];
        assert_eq!(run(&q, &mut tats, 100 * S, 30), 10);
        assert_eq!(run(&q, &mut tats, 101 * S, 30), 5);
        let v = check(&q, &tats, 102 * S);
        assert!(!v.admitted);
        assert_eq!(
            v.states[0].remaining, 10,
            "per-second bucket refilled, unused"
        );
        assert_eq!(v.states[1].remaining, 0);
        // The daily quota refills one request every 86400/15 = 5760 s.
        assert_eq!(v.retry_after_seconds, 5760 - 2);
        assert!(!v.store, "a refusal stores nothing");
    }

    #[test]
    fn retry_after_remaining_and_reset_are_exact() {
        let q = [Quota::new("m", 6, Duration::from_secs(60), 6)];
        let now = 1000 * S;
        let v = check(&q, &[], now);
        assert!(v.admitted);
        assert_eq!(v.states[0].remaining, 5);
        assert_eq!(v.states[0].reset_seconds, 10);
        let mut tats = v.tats;
        run(&q, &mut tats, now, 5);
        let v = check(&q, &tats, now);
        assert!(!v.admitted);
        assert_eq!(v.states[0].remaining, 0);
        assert_eq!(v.retry_after_seconds, 10);
        assert_eq!(v.states[0].reset_seconds, 60);
        let v = check(&q, &tats, now + 10 * S);
        assert!(v.admitted);
        assert_eq!(v.states[0].remaining, 0);
    }

    #[test]
    fn clock_going_backwards_never_grants_more() {
        let q = [per_second(10, 10)];
        let mut tats = vec![];
        let t0 = 10_000 * S;
        assert_eq!(run(&q, &mut tats, t0, 10), 10);
        // The clock jumps back an hour: still refused, and not locked out for an hour.
        let back = t0 - 3600 * S;
        assert_eq!(run(&q, &mut tats, back, 10), 0);
        assert_eq!(run(&q, &mut tats, back + S, 20), 10);
        // And forwards again: the bucket cannot hold more than its burst.
        assert_eq!(run(&q, &mut tats, t0 + 3600 * S, 20), 10);
    }

    #[test]
    fn idle_state_is_a_full_bucket() {
        let q = [per_second(1, 1)];
        let v = check(&q, &[], 10 * S);
        assert!(!is_idle(&v.tats, 10 * S));
        assert!(is_idle(&v.tats, 11 * S));
        assert_eq!(check(&q, &v.tats, 11 * S), check(&q, &[], 11 * S));
    }

    #[test]
    fn sub_second_windows_and_huge_windows_do_not_overflow() {
        let q = [Quota::new("tiny", 1000, Duration::from_millis(1), 1)];
        assert_eq!(q[0].window_seconds(), 1);
        let mut tats = vec![];
        assert_eq!(run(&q, &mut tats, 5, 3), 1);
        let q = [Quota::new("years", 1, Duration::from_secs(u64::MAX / 4), 1)];
        let mut tats = vec![];
        assert_eq!(run(&q, &mut tats, u64::MAX - 10, 3), 1);
    }
}
