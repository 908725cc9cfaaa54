//! The desks as the server reports them: open or closed, who staffs them, the ticket served.

use crate::connection::FromServer;
use crate::frame::Step;
use bevy::prelude::*;
use madoguchi_shared::protocol::{DeskSign, ServerMessage};
use std::collections::HashMap;

/// Desk signs by counter id.
#[derive(Resource, Debug, Default)]
pub struct Desks(pub HashMap<String, DeskSign>);

/// The server's word on the desks; it reports them afresh after `Welcome` (one closed while we
/// were away is not kept).
fn apply_server_messages(mut inbox: MessageReader<FromServer>, mut desks: ResMut<Desks>) {
    for FromServer(msg) in inbox.read() {
        match msg {
            ServerMessage::Welcome { .. } => desks.0.clear(),
            ServerMessage::Desk(d) => {
                desks.0.insert(d.counter.clone(), d.clone());
            }
            _ => {}
        }
    }
}

/// The desks, for every app (the headless tests too).
pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<Desks>().add_systems(Update, apply_server_messages.in_set(Step::Receive));
}
