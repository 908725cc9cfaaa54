//! Token buckets: how often someone may do something, on any clock the caller reads (the world's
//! tick clock, or a tokio instant as a duration since a start).

use std::time::Duration;

/// A token bucket: `burst` tokens, refilled one per `refill`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f32,
    burst: u32,
    refill: Duration,
    last: Duration,
}

impl TokenBucket {
    pub fn new(burst: u32, refill: Duration, now: Duration) -> Self {
        Self { tokens: burst as f32, burst, refill, last: now }
    }

    /// Takes a token if one is left.
    pub fn take(&mut self, now: Duration) -> bool {
        let refill = now.saturating_sub(self.last).as_secs_f32() / self.refill.as_secs_f32();
        self.tokens = (self.tokens + refill).min(self.burst as f32);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until the next token.
    pub fn wait(&self) -> Duration {
        self.refill.mul_f32((1.0 - self.tokens).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{CHAT_BURST, CHAT_REFILL};

    #[test]
    fn a_bucket_allows_a_burst_then_refills() {
        let mut b = TokenBucket::new(CHAT_BURST, CHAT_REFILL, Duration::ZERO);
        for _ in 0..CHAT_BURST {
            assert!(b.take(Duration::ZERO));
        }
        assert!(!b.take(Duration::ZERO));
        assert_eq!(b.wait(), CHAT_REFILL);
        assert!(b.take(CHAT_REFILL));
        assert!(!b.take(CHAT_REFILL));
        // A long pause refills up to the burst, not beyond.
        let later = CHAT_REFILL * 100;
        for _ in 0..CHAT_BURST {
            assert!(b.take(later));
        }
        assert!(!b.take(later));
    }
}
