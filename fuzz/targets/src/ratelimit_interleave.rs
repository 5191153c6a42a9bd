//! Property: the local rate limit never admits more than its limit, whatever the interleaving of
//! workers. Workers share one slot-table bucket (shared data with compare-and-swap under a virtual
//! clock); the input decides, at every read, whether another worker's whole request runs between
//! that read and the write that follows it, so every lost race and retry is exercised. For every
//! key and quota, any run of admissions from `t_i` to `t_j` must fit the GCRA bound
//! `count <= burst + (t_j - t_i) / interval`.

use palisade_core::host::HostError;
use palisade_core::testing::MockHost;
use palisade_ratelimit::gcra::Quota;
use palisade_ratelimit::slot_table::{SharedStore, SlotTable, TableError};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::time::Duration;

/// Four keys fill the one bucket of a four-slot table exactly: no eviction, all contention.
const TAGS: [u64; 4] = [11, 22, 33, 44];
const MAX_NESTING: u32 = 3;

struct Sim {
    host: MockHost,
    table: SlotTable,
    quotas: Vec<Quota>,
    plan: RefCell<VecDeque<u8>>,
    now: Cell<u64>,
    depth: Cell<u32>,
    /// (tag, time) of every admission, in the order the writes landed.
    admitted: RefCell<Vec<(u64, u64)>>,
}

impl Sim {
    fn request(&self, tag: u64) {
        match self.table.take(self, tag, &self.quotas, self.now.get()) {
            Ok(taken) => {
                assert!(!taken.evicted_busy, "four keys fit one bucket");
                if taken.verdict.admitted {
                    self.admitted.borrow_mut().push((tag, self.now.get()));
                }
            }
            Err(TableError::Contended) => {}
            Err(e) => panic!("the table failed: {e:?}"),
        }
    }
}

impl SharedStore for Sim {
    fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        let read = self.host.get(key);
        let next = self.plan.borrow_mut().pop_front();
        if let Some(b) = next {
            if b & 0x80 != 0 && self.depth.get() < MAX_NESTING {
                // Another worker's request runs to completion between this read and its write.
                self.depth.set(self.depth.get() + 1);
                self.request(tag(b));
                self.depth.set(self.depth.get() - 1);
            }
        }
        read
    }

    fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostError> {
        self.host.set(key, value, cas)
    }
}

/// The key a byte picks.
fn tag(b: u8) -> u64 {
    TAGS.get(usize::from(b) % TAGS.len()).copied().unwrap_or(1)
}

fn interval(q: &Quota) -> u64 {
    let window = u64::try_from(q.window.as_nanos()).unwrap_or(u64::MAX);
    (window / u64::from(q.requests.max(1))).max(1)
}

/// Bytes 0..4: the quotas; then one byte per request (key, clock step), also read as the plan.
pub fn run(data: &[u8]) {
    let Some((&[shape, q1, q2, q3], ops)) = data.split_first_chunk::<4>() else {
        return;
    };
    // Enough requests to cross windows; the bound check below is quadratic in admissions.
    let ops = ops.get(..512).unwrap_or(ops);
    let count = 1 + usize::from(shape % 3);
    let quotas: Vec<Quota> = [q1, q2, q3]
        .iter()
        .take(count)
        .map(|b| {
            let requests = 1 + u32::from(b % 8);
            let window = Duration::from_secs(1 + u64::from(b / 8 % 8) * 7);
            let burst = 1 + u32::from(b / 64);
            Quota::new("q", requests, window, burst)
        })
        .collect();
    let step = quotas.iter().map(interval).min().unwrap_or(1) / 4 + 1;
    let sim = Sim {
        host: MockHost::new(),
        table: SlotTable::new(4, quotas.len()),
        quotas,
        plan: RefCell::new(ops.iter().rev().copied().collect()),
        now: Cell::new(1_000_000_000_000),
        depth: Cell::new(0),
        admitted: RefCell::new(Vec::new()),
    };
    assert_eq!(sim.table.buckets(), 1);
    sim.table.prepare(&sim.host, 5);
    for op in ops {
        sim.now
            .set(sim.now.get().saturating_add(u64::from(op >> 5) * step));
        sim.request(tag(*op));
    }
    let admitted = sim.admitted.borrow();
    for tag in TAGS {
        let times: Vec<u64> = admitted
            .iter()
            .filter(|(t, _)| *t == tag)
            .map(|(_, at)| *at)
            .collect();
        for q in &sim.quotas {
            check_bound(&times, q.burst(), interval(q));
        }
    }
}

fn check_bound(times: &[u64], burst: u64, interval: u64) {
    for (i, ti) in times.iter().enumerate() {
        for (j, tj) in times.iter().enumerate().skip(i) {
            let count = u128::try_from(j - i + 1).unwrap_or(u128::MAX);
            let excess = count.saturating_sub(u128::from(burst));
            assert!(
                excess * u128::from(interval) <= u128::from(tj.saturating_sub(*ti)),
                "{count} admitted in {} ns (burst {burst}, one per {interval} ns)",
                tj.saturating_sub(*ti)
            );
        }
    }
}
