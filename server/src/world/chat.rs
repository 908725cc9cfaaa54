//! Room chat: cleaned, length-limited, rate-limited, and delivered to everyone in the room.

use super::avatar::{Avatar, Position};
use super::bucket::ChatBucket;
use super::receive::{ChatRequest, receive_messages};
use super::tick::TickSet;
use crate::metrics::WorldMetrics;
use crate::net::outbox::{send_error, send_to};
use bevy::prelude::*;
use bevy_renet::RenetServer;
use madoguchi_shared::ErrorCode;
use madoguchi_shared::protocol::ServerMessage;
use madoguchi_shared::text::{check_chat, clean_text};

/// Checks each chat line and delivers accepted ones to every avatar in the sender's room
/// (the sender included, as the confirmation that it was sent).
fn handle_chat(
    mut requests: MessageReader<ChatRequest>,
    time: Res<Time<Real>>,
    metrics: Res<WorldMetrics>,
    mut server: ResMut<RenetServer>,
    mut senders: Query<&mut ChatBucket>,
    avatars: Query<(&Avatar, &Position)>,
) {
    let now = time.elapsed();
    for req in requests.read() {
        let Ok((sender, pos)) = avatars.get(req.avatar) else { continue };
        let text = clean_text(&req.text);
        if let Err((code, message)) = check_chat(&text) {
            send_error(&mut server, &metrics, sender.client_id, code, message);
            continue;
        }
        let Ok(mut bucket) = senders.get_mut(req.avatar) else { continue };
        if !bucket.take(now) {
            let wait = bucket.wait().as_secs_f32();
            send_error(
                &mut server,
                &metrics,
                sender.client_id,
                ErrorCode::ChatRateLimited,
                format!("too many messages; wait {wait:.1} s"),
            );
            continue;
        }
        let msg = ServerMessage::Chat { from: sender.net_id, name: sender.name.clone(), text };
        let bytes = madoguchi_shared::protocol::encode(&msg);
        for (a, p) in &avatars {
            if p.room == pos.room {
                send_to(&mut server, a.client_id, bytes.clone());
            }
        }
        metrics.chat_messages_total.inc();
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.add_systems(Update, handle_chat.in_set(TickSet::Receive).after(receive_messages));
}
