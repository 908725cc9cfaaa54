//! Our tickets, as the server says.

use crate::connection::FromServer;
use bevy::prelude::*;
use madoguchi_shared::protocol::{ServerMessage, TicketInfo};
use std::collections::BTreeMap;

/// Our tickets by id.
#[derive(Resource, Debug, Default)]
pub struct Tickets(pub BTreeMap<i64, TicketInfo>);

/// Calls already announced, as (ticket, recalls): a reconnect that reports the same call again
/// does not ring again.
#[derive(Resource, Debug, Default)]
pub struct Announced(pub std::collections::HashSet<(i64, u32)>);

/// A ticket just got called (not a repeat of the same call): the banner shows, the chime plays.
#[derive(Message, Debug, Clone)]
pub struct Called(pub TicketInfo);

/// Whether a ticket update is a call to announce: called (again, for a recall), or straight
/// from waiting to being served (a resident already at the desk skips "called").
pub fn is_new_call(old: Option<&TicketInfo>, new: &TicketInfo) -> bool {
    use madoguchi_shared::protocol::TicketStatus::{Called, Serving, Waiting};
    match (old.map(|o| (o.status, o.recalls)), new.status) {
        (Some((Called, recalls)), Called) => recalls != new.recalls,
        (_, Called) => true,
        (Some((Waiting, _)), Serving) => true,
        _ => false,
    }
}

/// The server's word on our tickets.
pub(super) fn apply_server_messages(
    mut inbox: MessageReader<FromServer>,
    mut tickets: ResMut<Tickets>,
    mut announced: ResMut<Announced>,
    mut calls: MessageWriter<Called>,
) {
    for FromServer(msg) in inbox.read() {
        match msg {
            // The server reports our tickets afresh after `Welcome`: one cancelled while we were
            // away is not kept.
            ServerMessage::Welcome { .. } => tickets.0.clear(),
            ServerMessage::Ticket(t) => {
                if is_new_call(tickets.0.get(&t.id), t) && announced.0.insert((t.id, t.recalls)) {
                    calls.write(Called(t.clone()));
                }
                tickets.0.insert(t.id, t.clone());
            }
            _ => {}
        }
    }
}

/// The session ended and its tickets were cancelled: what we knew of them goes too, so the next
/// join (a new guest) starts clean.
pub(super) fn forget_tickets(mut tickets: ResMut<Tickets>, mut announced: ResMut<Announced>) {
    tickets.0.clear();
    announced.0.clear();
}
