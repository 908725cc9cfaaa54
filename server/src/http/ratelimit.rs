//! Token buckets per key, for endpoints that create server state (guest sessions, connect
//! tokens) or guess secrets (staff login): keyed by address, one address cannot flood the
//! database or spray passwords; keyed by session, one session cannot hoard connect tokens.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// A bucket of `burst` requests per key, refilled at `per_minute`. Zero disables it.
pub struct RateLimiter<K = IpAddr> {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

/// Keys remembered at most; beyond this, full buckets are forgotten.
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

impl<K: Hash + Eq> RateLimiter<K> {
    pub fn new(burst: u32, per_minute: u32) -> Self {
        Self { burst: f64::from(burst), per_second: f64::from(per_minute) / 60.0, buckets: Mutex::default() }
    }

    /// Takes one request's worth for `key`; `Err(seconds to wait)` when the bucket is empty.
    pub fn check(&self, key: K) -> Result<(), u64> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_KEYS {
            let (burst, rate) = (self.burst, self.per_second);
            map.retain(|_, (tokens, last)| *tokens + now.duration_since(*last).as_secs_f64() * rate < burst);
            if map.len() >= MAX_KEYS {
                // Flooded by keys still draining: refuse newcomers rather than grow or rescan.
                if !map.contains_key(&key) {
                    return Err(1);
                }
            }
        }
        let (tokens, last) = map.entry(key).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_second).ceil() as u64)
        }
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
