//! The local budgets of every key, shared by all Envoy workers through Proxy-Wasm shared data,
//! in a fixed amount of memory.
//!
//! Envoy's shared data never forgets a key, so a key per client would grow without end under a
//! flood of distinct clients. Instead the table is a fixed set of buckets (shared-data keys
//! `palisade_rl/<shape>/<n>`), each holding [`WAYS`] fixed-size records `(tag, TAT per limit)`.
//! A key hashes to one bucket; its record is found by tag. A new key takes an empty or idle
//! record (idle: every bucket full again, the same as no record, so nothing is lost); only when
//! all records of the bucket are busy does it evict the one closest to idle, and that is counted.
//!
//! Every update is a compare-and-swap on the bucket: a lost race re-reads and re-decides, so no
//! more than a limit is ever admitted. A CAS only fails because another request's write
//! succeeded, so the table as a whole always progresses; a request that loses
//! [`MAX_CAS_ATTEMPTS`] races in a row is refused rather than admitted uncounted.

use crate::config::MAX_LIMITS_PER_RULE;
use crate::gcra::{self, Quota, Verdict};
use palisade_core::host::{Host, HostError};

/// The part of the host the table needs: shared data with compare-and-swap.
pub trait SharedStore {
    /// A value and its CAS token.
    fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>);
    /// Writes, only if unchanged since `cas` was read (`None`: unconditionally).
    fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostError>;
}

impl<H: Host + ?Sized> SharedStore for H {
    fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        self.shared_data(key)
    }
    fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostError> {
        self.set_shared_data(key, value, cas)
    }
}

/// Records per bucket.
pub const WAYS: usize = 4;
/// Races a request may lose before it is refused.
pub const MAX_CAS_ATTEMPTS: u32 = 64;

const TAG_BYTES: usize = 8;
const TAT_BYTES: usize = 8;

/// One key's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Record {
    /// The key's hash; 0: empty.
    tag: u64,
    tats: [u64; MAX_LIMITS_PER_RULE],
}

impl Record {
    fn max_tat(&self) -> u64 {
        self.tats.iter().copied().max().unwrap_or(0)
    }
}

/// The outcome of taking from a key's budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    /// The quotas' verdict.
    pub verdict: Verdict,
    /// Reads it took (1 without contention).
    pub attempts: u32,
    /// Whether a busy key of the bucket was evicted to make room.
    pub evicted_busy: bool,
}

/// Why no verdict could be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableError {
    /// Lost [`MAX_CAS_ATTEMPTS`] races in a row.
    Contended,
    /// The host refused the write.
    Host(HostError),
}

/// The table's geometry: how many buckets, how many TATs a record holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotTable {
    prefix: String,
    buckets: u32,
    width: usize,
}

impl SlotTable {
    /// A table for at least `slots` keys whose rules have at most `width` limits.
    pub fn new(slots: u32, width: usize) -> Self {
        let width = width.clamp(1, MAX_LIMITS_PER_RULE);
        let buckets = slots.div_ceil(WAYS as u32).max(1);
        Self {
            // A different geometry is a different table, so a reconfiguration never misreads one.
            prefix: format!("palisade_rl/{buckets}x{WAYS}x{width}/"),
            buckets,
            width,
        }
    }

    /// Bytes of one bucket's value.
    pub fn bucket_len(&self) -> usize {
        WAYS * (TAG_BYTES + TAT_BYTES * self.width)
    }

    /// How many buckets (shared-data keys) the table has.
    pub fn buckets(&self) -> u32 {
        self.buckets
    }

    fn bucket_key(&self, bucket: u32) -> String {
        format!("{}{bucket}", self.prefix)
    }

    fn seed_key(&self) -> String {
        format!("{}seed", self.prefix)
    }

    /// Creates the table if no one has, and returns its hash seed. Runs in `on_configure`, which
    /// Envoy runs first in a canary VM on the main thread, before any worker serves a request:
    /// so the unconditional first writes cannot overwrite a worker's update.
    pub fn prepare<S: SharedStore + ?Sized>(&self, host: &S, fresh_seed: u64) -> u64 {
        if let Some(seed) = read_seed(host, &self.seed_key()) {
            return seed;
        }
        let empty = vec![0u8; self.bucket_len()];
        for bucket in 0..self.buckets {
            let key = self.bucket_key(bucket);
            if host.get(&key).0.is_none() {
                if let Err(e) = host.set(&key, &empty, None) {
                    log::warn!("palisade-ratelimit: creating {key}: {e:?}");
                }
            }
        }
        if let Err(e) = host.set(&self.seed_key(), &fresh_seed.to_le_bytes(), None) {
            log::warn!("palisade-ratelimit: storing the hash seed: {e:?}");
        }
        read_seed(host, &self.seed_key()).unwrap_or(fresh_seed)
    }

    /// Checks one request of key `tag` against `quotas` and, when admitted, records it.
    pub fn take<S: SharedStore + ?Sized>(
        &self,
        host: &S,
        tag: u64,
        quotas: &[Quota],
        now: u64,
    ) -> Result<Taken, TableError> {
        let bucket = u32::try_from(tag % u64::from(self.buckets)).unwrap_or(0);
        let key = self.bucket_key(bucket);
        let width = quotas.len().min(self.width);
        let quotas = quotas.get(..width).unwrap_or(quotas);
        for attempt in 1..=MAX_CAS_ATTEMPTS {
            let (value, cas) = host.get(&key);
            let Some(value) = value else {
                // Not prepared (should not happen): create it, then decide on what is there.
                let _ = host.set(&key, &vec![0u8; self.bucket_len()], None);
                continue;
            };
            let mut records = self.decode(&value);
            let (way, evicted_busy) = choose_way(&records, tag, now);
            let Some(record) = records.get_mut(way) else {
                continue;
            };
            let current = if record.tag == tag {
                record.tats
            } else {
                [0; MAX_LIMITS_PER_RULE]
            };
            let verdict = gcra::check(quotas, current.get(..width).unwrap_or(&[]), now);
            if !verdict.store {
                // A refusal usually changes nothing: no write, no race.
                return Ok(Taken {
                    verdict,
                    attempts: attempt,
                    evicted_busy: false,
                });
            }
            *record = Record {
                tag,
                tats: [0; MAX_LIMITS_PER_RULE],
            };
            for (slot, tat) in record.tats.iter_mut().zip(&verdict.tats) {
                *slot = *tat;
            }
            // A missing token would make the write unconditional: never write without one.
            let Some(cas) = cas else {
                return Err(TableError::Host(HostError::Other("no CAS token".into())));
            };
            match host.set(&key, &self.encode(&records), Some(cas)) {
                Ok(()) => {
                    return Ok(Taken {
                        verdict,
                        attempts: attempt,
                        evicted_busy,
                    })
                }
                Err(HostError::CasMismatch) => continue,
                Err(e) => return Err(TableError::Host(e)),
            }
        }
        Err(TableError::Contended)
    }

    fn decode(&self, value: &[u8]) -> [Record; WAYS] {
        let mut records = [Record::default(); WAYS];
        if value.len() != self.bucket_len() {
            // Not ours (cannot happen with the geometry in the key name): start afresh.
            return records;
        }
        let record_len = TAG_BYTES + TAT_BYTES * self.width;
        for (record, bytes) in records.iter_mut().zip(value.chunks_exact(record_len)) {
            let mut words = bytes.chunks_exact(8).map(read_u64);
            record.tag = words.next().unwrap_or(0);
            for (tat, word) in record.tats.iter_mut().zip(words) {
                *tat = word;
            }
        }
        records
    }

    fn encode(&self, records: &[Record; WAYS]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bucket_len());
        for record in records {
            out.extend_from_slice(&record.tag.to_le_bytes());
            for tat in record.tats.iter().take(self.width) {
                out.extend_from_slice(&tat.to_le_bytes());
            }
        }
        out
    }
}

fn read_u64(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    for (w, b) in word.iter_mut().zip(bytes) {
        *w = *b;
    }
    u64::from_le_bytes(word)
}

fn read_seed<S: SharedStore + ?Sized>(host: &S, key: &str) -> Option<u64> {
    host.get(key)
        .0
        .filter(|v| v.len() == 8)
        .map(|v| read_u64(&v))
}

/// The record for `tag`: its own, else an empty or idle one, else the busy one closest to idle
/// (evicted: `true`).
fn choose_way(records: &[Record; WAYS], tag: u64, now: u64) -> (usize, bool) {
    if let Some(i) = records.iter().position(|r| r.tag == tag) {
        return (i, false);
    }
    if let Some(i) = records
        .iter()
        .position(|r| r.tag == 0 || gcra::is_idle(&r.tats, now))
    {
        return (i, false);
    }
    let closest = records
        .iter()
        .enumerate()
        .min_by_key(|(_, r)| r.max_tat())
        .map_or(0, |(i, _)| i);
    (closest, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_core::testing::MockHost;
    use palisade_core::Clock;
    use std::cell::Cell;
    use std::time::Duration;

    const S: u64 = 1_000_000_000;

    fn quotas(requests: u32, window_secs: u64) -> Vec<Quota> {
        vec![Quota::new(
            "q",
            requests,
            Duration::from_secs(window_secs),
            requests,
        )]
    }

    fn admitted(table: &SlotTable, host: &MockHost, tag: u64, q: &[Quota], n: u32) -> u32 {
        (0..n)
            .filter(|_| {
                table
                    .take(host, tag, q, host.unix_nanos())
                    .unwrap()
                    .verdict
                    .admitted
            })
            .count() as u32
    }

    #[test]
    fn prepare_creates_every_bucket_once_and_keeps_the_seed() {
        let host = MockHost::new();
        let table = SlotTable::new(10, 2);
        assert_eq!(table.buckets(), 3);
        assert_eq!(table.prepare(&host, 7), 7);
        for b in 0..3 {
            assert_eq!(
                host.shared_data(&table.bucket_key(b)).0.unwrap().len(),
                table.bucket_len()
            );
        }
        // A second worker (or a reconfiguration) finds the table and its seed.
        assert_eq!(table.prepare(&host, 99), 7);
        // Another geometry is another table.
        assert_eq!(SlotTable::new(10, 3).prepare(&host, 5), 5);
    }

    #[test]
    fn keys_are_counted_separately_and_exactly() {
        let host = MockHost::new().at_seconds(1000);
        let table = SlotTable::new(64, 1);
        table.prepare(&host, 1);
        let q = quotas(3, 60);
        assert_eq!(admitted(&table, &host, 11, &q, 10), 3);
        assert_eq!(admitted(&table, &host, 12, &q, 10), 3);
        host.advance(Duration::from_secs(20));
        assert_eq!(admitted(&table, &host, 11, &q, 10), 1);
    }

    #[test]
    fn idle_records_are_reused_and_busy_keys_survive_a_flood() {
        let host = MockHost::new().at_seconds(1000);
        // One bucket of four records.
        let table = SlotTable::new(4, 1);
        table.prepare(&host, 1);
        let q = quotas(5, 60);
        // A busy key has used 4 of its 5 requests.
        assert_eq!(admitted(&table, &host, 1, &q, 4), 4);
        // 10,000 distinct keys, one request each, all in the same bucket.
        let mut evictions = 0;
        for tag in 100..10_100 {
            let taken = table.take(&host, tag, &q, host.unix_nanos()).unwrap();
            assert!(taken.verdict.admitted);
            evictions += u32::from(taken.evicted_busy);
        }
        assert!(evictions > 0, "the bucket was full of busy keys");
        // The busy key was never the one evicted: it still has exactly one request left.
        assert_eq!(admitted(&table, &host, 1, &q, 5), 1);
        // Once the flood's records are idle again they are reused without eviction.
        host.advance(Duration::from_secs(60));
        let taken = table.take(&host, 20_000, &q, host.unix_nanos()).unwrap();
        assert!(!taken.evicted_busy);
        assert_eq!(
            host.shared_data(&table.bucket_key(0)).0.unwrap().len(),
            table.bucket_len()
        );
    }

    /// Shared data where, between a worker's read and its write, other workers complete whole
    /// takes of their own (`interruptions` times): the worst interleaving of CAS races.
    struct Racing<'a> {
        inner: &'a MockHost,
        table: &'a SlotTable,
        quotas: &'a [Quota],
        interruptions: Cell<u32>,
        others_admitted: Cell<u32>,
    }

    impl SharedStore for Racing<'_> {
        fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
            self.inner.shared_data(key)
        }
        fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostError> {
            if self.interruptions.get() > 0 {
                self.interruptions.set(self.interruptions.get() - 1);
                let other = self
                    .table
                    .take(self.inner, 5, self.quotas, self.inner.unix_nanos());
                if other.unwrap().verdict.admitted {
                    self.others_admitted.set(self.others_admitted.get() + 1);
                }
            }
            self.inner.set_shared_data(key, value, cas)
        }
    }

    #[test]
    fn lost_races_are_retried_and_never_over_admit() {
        let host = MockHost::new().at_seconds(1000);
        let table = SlotTable::new(4, 1);
        table.prepare(&host, 1);
        let q = quotas(10, 3600);
        let racing = Racing {
            inner: &host,
            table: &table,
            quotas: &q,
            interruptions: Cell::new(7),
            others_admitted: Cell::new(0),
        };
        let mut mine = 0;
        let mut retried = 0;
        for _ in 0..20 {
            let taken = table.take(&racing, 5, &q, host.unix_nanos()).unwrap();
            mine += u32::from(taken.verdict.admitted);
            retried += taken.attempts - 1;
        }
        assert_eq!(racing.others_admitted.get(), 7);
        assert_eq!(
            retried, 7,
            "every interrupted write lost its race and was retried"
        );
        assert_eq!(mine + racing.others_admitted.get(), 10);
    }

    /// Shared data where another worker always wins the race: refused, not admitted.
    #[test]
    fn endless_contention_refuses() {
        struct AlwaysLoses(MockHost);
        impl SharedStore for AlwaysLoses {
            fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
                self.0.shared_data(key)
            }
            fn set(&self, _: &str, _: &[u8], _: Option<u32>) -> Result<(), HostError> {
                Err(HostError::CasMismatch)
            }
        }
        let mock = MockHost::new().at_seconds(1000);
        let table = SlotTable::new(4, 1);
        table.prepare(&mock, 1);
        let now = mock.unix_nanos();
        assert_eq!(
            table.take(&AlwaysLoses(mock), 5, &quotas(10, 60), now),
            Err(TableError::Contended)
        );
    }

    #[test]
    fn a_record_holds_every_limit_of_its_rule() {
        let host = MockHost::new().at_seconds(1000);
        let table = SlotTable::new(8, 2);
        table.prepare(&host, 1);
        let q = vec![
            Quota::new("s", 2, Duration::from_secs(1), 2),
            Quota::new("m", 3, Duration::from_secs(60), 3),
        ];
        assert_eq!(admitted(&table, &host, 9, &q, 5), 2);
        host.advance(Duration::from_secs(1));
        assert_eq!(
            admitted(&table, &host, 9, &q, 5),
            1,
            "the minute quota binds"
        );
        assert_eq!(S, 1_000_000_000);
    }
}
