//! Per-key rate limits (governor's keyed GCRA limiter, which is a token bucket), for requests
//! that create server state (guest sessions, connect tokens, queue tickets) or guess secrets
//! (staff login): keyed by address, one address cannot flood the database or spray passwords;
//! keyed by session or resident, one cannot hoard connect tokens or tickets.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

/// `burst` requests per key, refilled at `per_minute`. Zero disables it.
///
/// Each key has its own bucket while fewer than [`MAX_KEYS`] keys are remembered (keys whose
/// buckets are full again are forgotten first). When a flood of distinct keys fills the table,
/// a request is not refused for that alone: its key shares one of [`OVERFLOW_BUCKETS`] buckets,
/// picked by a hash keyed at random per process (so nobody can aim at another's bucket), until
/// the table has room again. Memory stays bounded either way. While the flood goes on, though,
/// its keys drain the shared buckets too, and a newcomer sharing one is refused: this bounds
/// memory, it does not keep newcomers served through a flood.
pub struct RateLimiter<K: Hash + Eq + Clone = IpAddr> {
    limiter: Option<Limiters<K>>,
}

struct Limiters<K: Hash + Eq + Clone> {
    keyed: DefaultKeyedRateLimiter<K>,
    overflow: Box<[governor::DefaultDirectRateLimiter]>,
    hasher: std::collections::hash_map::RandomState,
}

/// Keys remembered at most; beyond this, keys whose buckets are full again are forgotten.
const MAX_KEYS: usize = 50_000;
/// Shared buckets for keys that find the table full.
const OVERFLOW_BUCKETS: usize = 4096;

/// The key for an address: IPv6 addresses by their /64, since one host usually holds a whole /64.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
        v4 => v4,
    }
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(burst: u32, per_minute: u32) -> Self {
        let quota = NonZeroU32::new(per_minute)
            .map(|rate| Quota::per_minute(rate).allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN)));
        Self {
            limiter: quota.map(|q| Limiters {
                keyed: governor::RateLimiter::keyed(q),
                overflow: (0..OVERFLOW_BUCKETS).map(|_| governor::RateLimiter::direct(q)).collect(),
                hasher: std::collections::hash_map::RandomState::new(),
            }),
        }
    }

    /// Takes one request's worth for `key`; `Err(seconds to wait)` when the bucket is empty.
    pub fn check(&self, key: K) -> Result<(), u64> {
        let Some(l) = &self.limiter else { return Ok(()) };
        let wait = |not_until: governor::NotUntil<_>| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        };
        if l.keyed.len() >= MAX_KEYS {
            l.keyed.retain_recent();
        }
        if l.keyed.len() >= MAX_KEYS {
            // Flooded by keys still draining: share a bucket rather than grow or refuse.
            use std::hash::BuildHasher;
            let i = (l.hasher.hash_one(&key) % OVERFLOW_BUCKETS as u64) as usize;
            return l.overflow[i].check().map_err(wait);
        }
        l.keyed.check_key(&key).map_err(wait)
    }
}

/// Things held at once per key (open connections of an address, event streams of a session):
/// at most `max` each. A [`Slot`] is one of them, given back when dropped; the table holds only
/// keys with a slot taken.
pub struct Slots<K: Hash + Eq + Clone> {
    max: usize,
    held: Mutex<HashMap<K, usize>>,
}

/// One slot of a key in [`Slots`]; given back when dropped.
pub struct Slot<K: Hash + Eq + Clone> {
    table: Arc<Slots<K>>,
    key: K,
}

impl<K: Hash + Eq + Clone> Slots<K> {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self { max, held: Mutex::new(HashMap::new()) })
    }

    /// A slot for `key`, or `None` if it holds `max` already.
    pub fn take(self: &Arc<Self>, key: K) -> Option<Slot<K>> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let n = held.entry(key.clone()).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Slot { table: self.clone(), key })
    }
}

impl<K: Hash + Eq + Clone> Drop for Slot<K> {
    fn drop(&mut self) {
        let mut held = self.table.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_holds_at_most_its_share_and_gets_it_back() {
        let t = Slots::new(2);
        let s1 = t.take("a").unwrap();
        let _s2 = t.take("a").unwrap();
        assert!(t.take("a").is_none());
        assert!(t.take("b").is_some(), "another key has its own count");
        drop(s1);
        assert!(t.take("a").is_some());
        drop(_s2);
        assert!(t.held.lock().unwrap().is_empty(), "keys without slots are forgotten");
    }

    #[test]
    fn a_burst_then_refusal_per_address() {
        let l = RateLimiter::new(3, 60);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!((0..3).all(|_| l.check(a).is_ok()));
        assert_eq!(l.check(a), Err(1));
        assert!(l.check(b).is_ok(), "another address has its own bucket");
        assert!(RateLimiter::<IpAddr>::new(0, 0).check(a).is_ok(), "zero disables");
    }

    #[test]
    fn a_full_key_table_still_admits_newcomers_and_still_limits_them() {
        let l = RateLimiter::<u32>::new(2, 1);
        // A flood of distinct keys, each holding a drained bucket, fills the table.
        for k in 0..MAX_KEYS as u32 {
            let _ = l.check(k);
            let _ = l.check(k);
        }
        let newcomer = u32::MAX;
        assert!(l.check(newcomer).is_ok(), "a newcomer is not refused because the table is full");
        assert!(l.check(newcomer).is_ok());
        assert!(l.check(newcomer).is_err(), "and is still limited");
    }

    #[test]
    fn a_continuing_flood_drains_the_shared_buckets_and_a_newcomer_is_refused() {
        let l = RateLimiter::<u32>::new(1, 1);
        for k in 0..MAX_KEYS as u32 {
            let _ = l.check(k);
        }
        // The flood goes on with more new keys than there are shared buckets.
        for k in MAX_KEYS as u32..MAX_KEYS as u32 + 20 * OVERFLOW_BUCKETS as u32 {
            let _ = l.check(k);
        }
        let refused = (0..100u32).filter(|i| l.check(u32::MAX - i).is_err()).count();
        assert!(refused > 90, "newcomers share drained buckets: {refused} of 100 refused");
    }

    #[test]
    fn ipv6_hosts_are_keyed_by_their_slash_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
    }
}
