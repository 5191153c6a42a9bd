//! Remote key sets as all workers share them: one record per provider in Proxy-Wasm shared data
//! (the JWKS text and the fetch history) and one lease naming the worker that fetches.
//! Each worker keeps the parsed keys of the record version it last read.

use crate::backend::{bind, HostUse};
use crate::jwks::{parse_jwks, KeyOrigin, KeySet};
use crate::remote::RemoteSpec;
use palisade_core::host::Host;
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// A provider's shared record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Goes up with every successful fetch.
    pub version: u64,
    /// Goes up with every finished fetch, successful or not.
    pub attempts: u64,
    /// When the keys were fetched (Unix ns).
    pub fetched_at: u64,
    /// Failed fetches since the last success.
    pub failures: u32,
    /// Why the last fetch failed.
    pub last_error: Option<String>,
    /// When the next fetch is due: refresh, or retry (Unix ns).
    pub next_due: u64,
    /// The JWKS text of the last successful fetch.
    pub jwks: Option<String>,
}

/// Who fetches a provider's keys, until when, and when that fetch started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Worker id of the holder.
    pub owner: String,
    /// The lease ends here (Unix ns); 0 once released.
    pub until: u64,
    /// When the last fetch started (Unix ns), for rate-limiting refetches.
    pub started: u64,
}

/// Shared-data key names for one provider of one configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// The record.
    pub record: String,
    /// The lease.
    pub lease: String,
}

impl Keys {
    /// Keys for provider `name` of the configuration `fingerprint`.
    pub fn new(fingerprint: &str, name: &str) -> Self {
        Self {
            record: format!("palisade-jwt/{fingerprint}/{name}/keys"),
            lease: format!("palisade-jwt/{fingerprint}/{name}/lease"),
        }
    }
}

/// Reads a JSON value from shared data, with its CAS token.
pub fn read_shared<T: for<'de> Deserialize<'de>>(
    host: &dyn Host,
    key: &str,
) -> (Option<T>, Option<u32>) {
    let (bytes, cas) = host.shared_data(key);
    let value = bytes.and_then(|b| match serde_json::from_slice(&b) {
        Ok(v) => Some(v),
        Err(e) => {
            log::warn!("jwt: shared data `{key}` unreadable: {e}");
            None
        }
    });
    (value, cas)
}

/// Whether a request can be verified now.
#[derive(Debug)]
pub enum Availability<'a> {
    /// Keys are loaded.
    Ready {
        /// The keys.
        keys: &'a KeySet,
        /// Their version (0 for local keys).
        version: u64,
        /// The keys can be refetched, so a token with an unknown `kid` may wait for the next
        /// refetch (rate-limited, bounded by `keys_wait_timeout`) instead of being refused.
        can_refetch: bool,
    },
    /// A fetch is under way or due: wait.
    Loading,
    /// No keys, and the last fetch failed.
    Unavailable(String),
}

/// One worker's view of a remote provider.
#[derive(Debug, Clone)]
pub struct RemoteKeys {
    /// Shared-data names.
    pub names: Keys,
    /// How to fetch.
    pub spec: RemoteSpec,
    /// The last record read (its `jwks` dropped once parsed).
    pub record: Option<KeyRecord>,
    /// The last lease read.
    pub lease: Option<Lease>,
    /// Keys of `record.version`, bound to their signature backends.
    pub keys: Option<Rc<KeySet>>,
    /// How new key sets use the host's signature checks.
    pub host_use: HostUse,
}

impl RemoteKeys {
    /// A view that has read nothing yet.
    pub fn new(names: Keys, spec: RemoteSpec) -> Self {
        Self {
            names,
            spec,
            record: None,
            lease: None,
            keys: None,
            host_use: HostUse::Off,
        }
    }

    /// Reads the shared record and lease; parses the JWKS when its version is new.
    /// Returns whether the key set changed.
    pub fn sync(&mut self, host: &dyn Host) -> bool {
        self.lease = read_shared(host, &self.names.lease).0;
        let (record, _) = read_shared::<KeyRecord>(host, &self.names.record);
        let Some(mut record) = record else {
            return false;
        };
        let seen = self.record.as_ref().map_or(0, |r| r.version);
        let mut changed = false;
        if record.version != seen || self.keys.is_none() {
            if let Some(text) = &record.jwks {
                match parse_jwks(text, KeyOrigin::Remote) {
                    Ok(set) => {
                        let (set, dropped) = bind(&set, self.host_use, host);
                        for why in dropped {
                            log::warn!("jwt: JWKS version {}: {why}", record.version);
                        }
                        self.keys = Some(Rc::new(set));
                        changed = true;
                    }
                    Err(e) => {
                        log::warn!("jwt: shared JWKS version {} unusable: {e}", record.version)
                    }
                }
            }
        }
        record.jwks = None;
        self.record = Some(record);
        changed
    }

    /// Whether some worker's fetch is under way.
    pub fn busy(&self, now: u64) -> bool {
        self.lease.as_ref().is_some_and(|l| l.until > now)
    }

    /// The (version, attempts) a waiting request watches for a change.
    pub fn progress(&self) -> (u64, u64) {
        self.record
            .as_ref()
            .map_or((0, 0), |r| (r.version, r.attempts))
    }

    /// Whether a fetch should start now: never fetched, refresh or retry due, or `wanted` (an
    /// unknown kid) and the last fetch is older than the refetch interval.
    pub fn due(&self, now: u64, wanted: bool) -> bool {
        if self.busy(now) {
            return false;
        }
        let Some(record) = &self.record else {
            return true;
        };
        if now >= record.next_due {
            return true;
        }
        wanted && self.refetch_allowed(now)
    }

    fn refetch_allowed(&self, now: u64) -> bool {
        let started = self.lease.as_ref().map_or(0, |l| l.started);
        let interval = u64::try_from(self.spec.kid_refetch_interval.as_nanos()).unwrap_or(u64::MAX);
        now.saturating_sub(started) >= interval
    }

    /// Whether requests can be verified now.
    pub fn availability(&self, now: u64) -> Availability<'_> {
        match (&self.keys, &self.record) {
            (Some(keys), record) => Availability::Ready {
                keys,
                version: record.as_ref().map_or(0, |r| r.version),
                can_refetch: true,
            },
            (None, None) => Availability::Loading,
            (None, Some(_)) if self.busy(now) => Availability::Loading,
            (None, Some(r)) if r.attempts == 0 || now >= r.next_due => Availability::Loading,
            (None, Some(r)) => Availability::Unavailable(
                r.last_error
                    .clone()
                    .unwrap_or_else(|| "no key set loaded".into()),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::{Backoff, Target};
    use crate::test_keys::{jwk_of_es256, jwks};
    use palisade_core::testing::MockHost;
    use std::time::Duration;

    const S: u64 = 1_000_000_000;

    fn spec() -> RemoteSpec {
        RemoteSpec {
            cluster: "idp".into(),
            target: Target::parse("http://idp/jwks").unwrap(),
            discovery: false,
            issuer: None,
            timeout: Duration::from_secs(1),
            cache_duration: Duration::from_secs(60),
            backoff: Backoff {
                num_retries: 0,
                base: Duration::from_secs(1),
                max: Duration::from_secs(1),
                failed_refetch: Duration::from_secs(1),
            },
            kid_refetch_interval: Duration::from_secs(5),
        }
    }

    fn write<T: Serialize>(host: &MockHost, key: &str, v: &T) {
        host.set_shared_data(key, &serde_json::to_vec(v).unwrap(), None)
            .unwrap();
    }

    #[test]
    fn nothing_read_yet_means_loading_and_due() {
        let r = RemoteKeys::new(Keys::new("f", "p"), spec());
        assert!(matches!(r.availability(0), Availability::Loading));
        assert!(r.due(0, false));
    }

    #[test]
    fn a_new_version_is_parsed_once() {
        let host = MockHost::new();
        let mut r = RemoteKeys::new(Keys::new("f", "p"), spec());
        let (jwk, _) = jwk_of_es256("k");
        let record = KeyRecord {
            version: 1,
            attempts: 1,
            next_due: 60 * S,
            jwks: Some(jwks(&[jwk])),
            ..KeyRecord::default()
        };
        write(&host, &r.names.record, &record);
        assert!(r.sync(&host));
        assert!(!r.sync(&host), "same version: nothing to parse");
        assert!(
            r.record.as_ref().unwrap().jwks.is_none(),
            "text dropped once parsed"
        );
        match r.availability(S) {
            Availability::Ready { version, keys, .. } => {
                assert_eq!(version, 1);
                assert_eq!(keys.keys.len(), 1);
            }
            other => panic!("{other:?}"),
        }
        assert!(!r.due(S, false));
        assert!(r.due(60 * S, false), "refresh due after cache_duration");
    }

    #[test]
    fn failure_without_keys_is_unavailable_until_the_retry_is_due() {
        let host = MockHost::new();
        let mut r = RemoteKeys::new(Keys::new("f", "p"), spec());
        let record = KeyRecord {
            attempts: 1,
            failures: 1,
            last_error: Some("HTTP 500".into()),
            next_due: 10 * S,
            ..KeyRecord::default()
        };
        write(&host, &r.names.record, &record);
        r.sync(&host);
        assert!(matches!(r.availability(5 * S), Availability::Unavailable(e) if e == "HTTP 500"));
        assert!(matches!(r.availability(10 * S), Availability::Loading));
    }

    #[test]
    fn a_held_lease_means_busy_and_limits_refetches() {
        let host = MockHost::new();
        let mut r = RemoteKeys::new(Keys::new("f", "p"), spec());
        write(
            &host,
            &r.names.lease,
            &Lease {
                owner: "other".into(),
                until: 3 * S,
                started: 2 * S,
            },
        );
        r.sync(&host);
        assert!(r.busy(2 * S));
        assert!(!r.due(2 * S, true), "someone else is fetching");
        assert!(matches!(r.availability(2 * S), Availability::Loading));
        assert!(!r.busy(3 * S));
        assert!(r.due(3 * S, false), "never fetched successfully: due");
    }
}
