//! What one avatar may ask for, how often: token buckets on the world's clock for chat lines
//! and for counter requests (each of which touches the database). Every new avatar gets full
//! buckets.

use super::avatar::Avatar;
use bevy::prelude::*;
use madoguchi_shared::bucket::TokenBucket;
use madoguchi_shared::limits::{CHAT_BURST, CHAT_REFILL, COUNTER_BURST, COUNTER_REFILL};

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
