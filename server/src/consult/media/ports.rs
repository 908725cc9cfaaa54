//! The UDP ports media may use (`--media-ports 40000-40999`): webrtc 0.21 binds its own sockets
//! for each peer connection and has no port-range option, so each leg leases a port here and
//! gives it back when it closes. A returned port goes to the back of the line, so a late packet
//! for a closed leg does not reach the next one at once.

use std::collections::VecDeque;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};

/// The pool.
#[derive(Debug)]
pub struct PortPool {
    free: Mutex<VecDeque<u16>>,
    total: usize,
}

/// A leased port; dropping it gives it back.
#[derive(Debug)]
pub struct PortLease {
    port: u16,
    pool: Arc<PortPool>,
}

impl PortLease {
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        self.pool.free.lock().unwrap_or_else(|e| e.into_inner()).push_back(self.port);
    }
}

impl PortPool {
    pub fn new(range: RangeInclusive<u16>) -> Arc<PortPool> {
        let free: VecDeque<u16> = range.collect();
        Arc::new(PortPool { total: free.len(), free: Mutex::new(free) })
    }

    /// The port free longest, if any is.
    pub fn lease(self: &Arc<Self>) -> Option<PortLease> {
        let port = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop_front()?;
        Some(PortLease { port, pool: self.clone() })
    }

    pub fn total(&self) -> usize {
        self.total
    }

    pub fn in_use(&self) -> usize {
        self.total - self.free.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Reads `40000-40999` (or one port, `40000`).
pub fn parse_range(s: &str) -> Result<RangeInclusive<u16>, String> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.trim().parse().map_err(|_| format!("\"{s}\": ports are numbers, as in 40000-40999"))?;
    let b: u16 = b.trim().parse().map_err(|_| format!("\"{s}\": ports are numbers, as in 40000-40999"))?;
    if a == 0 || b < a {
        return Err(format!("\"{s}\": give a range low-high of ports above 0"));
    }
    Ok(a..=b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_are_given_back_and_reused_last() {
        let pool = PortPool::new(40000..=40002);
        let a = pool.lease().unwrap();
        let b = pool.lease().unwrap();
        assert_eq!((a.port(), b.port()), (40000, 40001));
        assert_eq!(pool.in_use(), 2);
        drop(a);
        let c = pool.lease().unwrap();
        assert_eq!(c.port(), 40002, "the port free longest comes first");
        let d = pool.lease().unwrap();
        assert_eq!(d.port(), 40000);
        assert!(pool.lease().is_none(), "three ports, three leases");
        drop((b, c, d));
        assert_eq!(pool.in_use(), 0);
        assert_eq!(pool.total(), 3);
    }

    #[test]
    fn ranges_parse() {
        assert_eq!(parse_range("40000-40999").unwrap(), 40000..=40999);
        assert_eq!(parse_range("5000").unwrap(), 5000..=5000);
        assert!(parse_range("9-1").is_err());
        assert!(parse_range("0-10").is_err());
        assert!(parse_range("a-b").is_err());
    }
}
