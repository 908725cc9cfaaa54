//! The sessions behind open connections: a client in the world keeps its session alive, and a
//! session that ends (signed out, or past its age limit) ends its connections.
//!
//! Every [`SessionLink::every`] the world sends the sessions of its clients to the session
//! keeper on the services' side (`identity::sessions::keep_alive`, run by `lib.rs`) over a
//! channel of one batch: when the keeper is still busy with the last batch, this one is
//! skipped. Sessions that have ended come back on [`SessionLink::ended`] (from the keeper, and
//! from logout); their clients are told `session_ended` and closed.

use super::clients::{Clients, Phase, refuse};
use crate::identity::sessions::SessionKey;
use crate::metrics::WorldMetrics;
use bevy::prelude::*;
use bevy_renet::{RenetSend, RenetServer};
use madoguchi_shared::ErrorCode;
use std::collections::HashSet;
use std::time::Duration;
use tokio::sync::mpsc::{Sender, UnboundedReceiver};

/// The world's end of the session keeper's channels.
#[derive(Resource)]
pub struct SessionLink {
    /// Sessions in use, for the keeper (a channel of one batch).
    pub alive: Sender<Vec<SessionKey>>,
    /// Sessions that have ended.
    pub ended: UnboundedReceiver<SessionKey>,
    /// How often the sessions in use are sent.
    pub every: Duration,
    next: Duration,
}

impl SessionLink {
    pub fn new(alive: Sender<Vec<SessionKey>>, ended: UnboundedReceiver<SessionKey>, every: Duration) -> Self {
        SessionLink { alive, ended, every, next: Duration::ZERO }
    }
}

/// Closes the connections of ended sessions, and sends the sessions in use when it is time.
fn keep_sessions(
    time: Res<Time<Real>>,
    metrics: Res<WorldMetrics>,
    link: Option<ResMut<SessionLink>>,
    mut clients: ResMut<Clients>,
    mut server: ResMut<RenetServer>,
) {
    let Some(mut link) = link else { return };
    let now = time.elapsed();
    let mut ended = HashSet::new();
    while let Ok(key) = link.ended.try_recv() {
        ended.insert(key);
    }
    if !ended.is_empty() {
        for (&client_id, client) in clients.iter_mut() {
            let gone = client.session.as_ref().is_some_and(|s| ended.contains(s));
            if gone && !matches!(client.phase, Phase::Closing { .. }) {
                refuse(
                    &mut server,
                    &metrics,
                    client,
                    client_id,
                    ErrorCode::SessionEnded,
                    "your session has ended, and your waiting tickets were cancelled; join again to continue".into(),
                    now,
                );
            }
        }
    }
    if now < link.next {
        return;
    }
    link.next = now + link.every;
    let keys: HashSet<SessionKey> = clients
        .values()
        .filter(|c| !matches!(c.phase, Phase::Closing { .. }))
        .filter_map(|c| c.session.clone())
        .collect();
    if !keys.is_empty() {
        // Full: the keeper is still at the last batch; the next one comes soon enough.
        let _ = link.alive.try_send(keys.into_iter().collect());
    }
}

pub(super) fn plugin(app: &mut App) {
    app.add_systems(PostUpdate, keep_sessions.before(super::clients::expire_phases).before(RenetSend));
}
