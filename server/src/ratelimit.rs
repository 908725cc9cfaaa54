//! Per-key rate limits (governor's keyed GCRA limiter, which is a token bucket), for requests
//! that create server state (guest sessions, connect tokens, queue tickets) or guess secrets
//! (staff login): keyed by address, one address cannot flood the database or spray passwords;
//! keyed by session or resident, one cannot hoard connect tokens or tickets.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;

/// `burst` requests per key, refilled at `per_minute`. Zero disables it.
pub struct RateLimiter<K: Hash + Eq + Clone = IpAddr> {
    limiter: Option<DefaultKeyedRateLimiter<K>>,
}

/// Keys remembered at most; beyond this, keys whose buckets are full again are forgotten.
const MAX_KEYS: usize = 50_000;

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
        Self { limiter: quota.map(governor::RateLimiter::keyed) }
    }

    /// Takes one request's worth for `key`; `Err(seconds to wait)` when the bucket is empty.
    pub fn check(&self, key: K) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        if limiter.len() >= MAX_KEYS {
            limiter.retain_recent();
            if limiter.len() >= MAX_KEYS {
                // Flooded by keys still draining: refuse rather than grow.
                return Err(1);
            }
        }
        limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
