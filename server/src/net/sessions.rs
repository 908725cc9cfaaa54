//! The sessions behind open connections: a client in the world keeps its session alive, and a
//! session that ends (signed out, or past its age limit) ends its connections.
//!
//! Every [`SessionLink::every`] the world sends the sessions of its clients to the session
//! keeper on the services' side (`identity::sessions::spawn_keeper`, started by `app::Office::start`) over a
//! channel of one batch: when the keeper is still busy with the last batch, this one is
//! skipped. Sessions whose connections must end come on [`SessionLink::ended`], the office's
//! [`SessionEnds`] (from the keeper, logout, sign-in, an admin's change to a staff account);
//! their clients are told why and closed. A link that fell behind asks the keeper about every
//! session at once.

use super::clients::{Clients, Phase, refuse};
use crate::identity::sessions::{SessionKey, SessionsEnded};
use crate::metrics::WorldMetrics;
use bevy::prelude::*;
use bevy_renet::{RenetSend, RenetServer};
use madoguchi_shared::ErrorCode;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::sync::mpsc::Sender;

/// The world's end of the session keeper's channels.
#[derive(Resource)]
pub struct SessionLink {
    /// Sessions in use, for the keeper (a channel of one batch).
    pub alive: Sender<Vec<SessionKey>>,
    /// Sessions whose connections must end.
    pub ended: broadcast::Receiver<Arc<SessionsEnded>>,
    /// How often the sessions in use are sent.
    pub every: Duration,
    next: Duration,
}

impl SessionLink {
    pub fn new(
        alive: Sender<Vec<SessionKey>>,
        ended: broadcast::Receiver<Arc<SessionsEnded>>,
        every: Duration,
    ) -> Self {
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
    let mut ended = HashMap::new();
    loop {
        match link.ended.try_recv() {
            Ok(e) => ended.extend(e.keys.iter().map(|k| (k.clone(), e.reason))),
            // Missed some: ask the keeper about every session now.
            Err(broadcast::error::TryRecvError::Lagged(_)) => link.next = Duration::ZERO,
            Err(_) => break,
        }
    }
    if !ended.is_empty() {
        for (&client_id, client) in clients.iter_mut() {
            let why = client.session.as_ref().and_then(|s| ended.get(s));
            if let Some(why) = why
                && !matches!(client.phase, Phase::Closing { .. })
            {
                refuse(&mut server, &metrics, client, client_id, ErrorCode::SessionEnded, why.message().into(), now);
            }
        }
    }
    if now < link.next {
        return;
    }
    link.next = now + link.every;
    let keys: std::collections::HashSet<SessionKey> = clients
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
