//! Verified tokens, so a reused token is not verified again: keyed by the token itself (a hit
//! compares the whole token, so no two tokens can share an entry), bounded, dropped at `exp`
//! (plus skew) and whenever the provider's key set changes.
//!
//! The map hashes with std's randomly keyed SipHash, so a client cannot choose colliding tokens;
//! a cryptographic digest of every token (SHA-256 before) is not needed when the key is compared
//! in full, and cost several microseconds per request in Wasm.

use crate::verifier::VerifiedToken;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

/// How long a token without `exp` stays cached, in seconds.
pub const MAX_AGE_WITHOUT_EXP: u64 = 300;

#[derive(Debug)]
struct Entry {
    token: Rc<VerifiedToken>,
    key_version: u64,
    expires_at: u64,
}

/// A bounded cache of verified tokens for one provider.
#[derive(Debug)]
pub struct TokenCache {
    capacity: usize,
    entries: HashMap<Rc<str>, Entry>,
    /// Insertion order, for eviction; may hold tokens already gone (shared with `entries`).
    order: VecDeque<Rc<str>>,
}

impl TokenCache {
    /// A cache of `capacity` tokens (0 turns it off).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Number of cached tokens.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The verified token, if cached under the same key set and not past its expiry.
    pub fn get(&mut self, token: &str, key_version: u64, now: u64) -> Option<Rc<VerifiedToken>> {
        if self.capacity == 0 {
            return None;
        }
        let entry = self.entries.get(token)?;
        if entry.key_version != key_version || now >= entry.expires_at {
            self.entries.remove(token);
            return None;
        }
        Some(Rc::clone(&entry.token))
    }

    /// Caches a token verified with key set `key_version`; `skew` extends `exp` as the check does.
    pub fn insert(
        &mut self,
        token: &str,
        verified: Rc<VerifiedToken>,
        key_version: u64,
        skew: u64,
        now: u64,
    ) {
        if self.capacity == 0 {
            return;
        }
        let expires_at = match verified.time.exp {
            Some(exp) => exp.saturating_add(skew),
            None => now.saturating_add(MAX_AGE_WITHOUT_EXP),
        };
        while self.entries.len() >= self.capacity && !self.entries.contains_key(token) {
            match self.order.pop_front() {
                Some(old) => {
                    self.entries.remove(&old);
                }
                None => break,
            }
        }
        let key: Rc<str> = Rc::from(token);
        self.entries.insert(
            Rc::clone(&key),
            Entry {
                token: verified,
                key_version,
                expires_at,
            },
        );
        self.order.push_back(key);
        if self.order.len() > self.capacity.saturating_mul(2) {
            let entries = &self.entries;
            let mut seen = std::collections::HashSet::new();
            self.order
                .retain(|t| entries.contains_key(t) && seen.insert(Rc::clone(t)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::TimeClaims;
    use serde_json::Map;

    fn verified(exp: Option<u64>) -> Rc<VerifiedToken> {
        Rc::new(VerifiedToken::new(
            Map::new(),
            String::new(),
            TimeClaims {
                exp,
                ..TimeClaims::default()
            },
        ))
    }

    #[test]
    fn hits_until_exp_plus_skew() {
        let mut c = TokenCache::new(10);
        c.insert("t", verified(Some(1000)), 1, 60, 900);
        assert!(c.get("t", 1, 1059).is_some());
        assert!(c.get("t", 1, 1060).is_none());
        assert!(c.is_empty(), "an expired entry is dropped");
    }

    #[test]
    fn a_new_key_set_invalidates() {
        let mut c = TokenCache::new(10);
        c.insert("t", verified(Some(1000)), 1, 0, 0);
        assert!(c.get("t", 2, 1).is_none());
        assert!(c.get("t", 1, 1).is_none(), "dropped for good");
    }

    #[test]
    fn bounded_with_oldest_evicted_first() {
        let mut c = TokenCache::new(3);
        for t in ["a", "b", "c", "d"] {
            c.insert(t, verified(Some(1000)), 1, 0, 0);
        }
        assert_eq!(c.len(), 3);
        assert!(c.get("a", 1, 1).is_none());
        assert!(c.get("d", 1, 1).is_some());
        for i in 0..100 {
            c.insert(&format!("x{i}"), verified(Some(1000)), 1, 0, 0);
        }
        assert_eq!(c.len(), 3);
        assert!(c.order.len() <= 6);
    }

    #[test]
    fn tokens_without_exp_age_out() {
        let mut c = TokenCache::new(3);
        c.insert("t", verified(None), 1, 0, 100);
        assert!(c.get("t", 1, 100 + MAX_AGE_WITHOUT_EXP - 1).is_some());
        assert!(c.get("t", 1, 100 + MAX_AGE_WITHOUT_EXP).is_none());
    }

    #[test]
    fn capacity_zero_turns_it_off() {
        let mut c = TokenCache::new(0);
        c.insert("t", verified(Some(1000)), 1, 0, 0);
        assert!(c.get("t", 1, 1).is_none());
    }
}
