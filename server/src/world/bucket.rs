//! What one avatar may ask for, how often: token buckets on the world's clock for chat lines
//! and for counter requests (each of which touches the database). Every new avatar gets full
//! buckets.

use super::avatar::Avatar;
use bevy::prelude::*;
use madoguchi_shared::limits::{CHAT_BURST, CHAT_REFILL, COUNTER_BURST, COUNTER_REFILL};
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

/// Chat lines: [`CHAT_BURST`], then one per [`CHAT_REFILL`].
#[derive(Component, Debug, Clone, Deref, DerefMut)]
pub struct ChatBucket(pub TokenBucket);

/// Counter requests: [`COUNTER_BURST`], then one per [`COUNTER_REFILL`].
#[derive(Component, Debug, Clone, Deref, DerefMut)]
pub struct CounterBucket(pub TokenBucket);

/// Gives every new avatar full buckets.
fn fill_buckets(add: On<Add, Avatar>, time: Res<Time<Real>>, mut commands: Commands) {
    let now = time.elapsed();
    commands.entity(add.entity).insert((
        ChatBucket(TokenBucket::new(CHAT_BURST, CHAT_REFILL, now)),
        CounterBucket(TokenBucket::new(COUNTER_BURST, COUNTER_REFILL, now)),
    ));
}

pub(crate) fn plugin(app: &mut App) {
    app.add_observer(fill_buckets);
}

#[cfg(test)]
mod tests {
    use super::*;

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
