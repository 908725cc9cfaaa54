//! The office's layout as the client has it: built in from `assets/` at compile time.

use bevy::prelude::*;
use madoguchi_shared::layout::Office;
use std::sync::Arc;

/// The office layout, the same files the server validates.
#[derive(Resource, Clone, Deref)]
pub struct OfficeRes(pub Arc<Office>);

/// The office layout the client draws: the same files the server loads, built in.
pub fn embedded_office() -> Office {
    let office = ("office.toml", include_str!("../../assets/office.toml"));
    let rooms = [
        ("layouts/counters.toml", include_str!("../../assets/layouts/counters.toml")),
        ("layouts/lobby.toml", include_str!("../../assets/layouts/lobby.toml")),
    ];
    let rooms: Vec<(String, String)> = rooms.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    // The build checks these files with the server's own validation (see the tests); a bad
    // layout fails the build's tests, not a resident's browser.
    Office::parse(office, &rooms).unwrap_or_else(|e| panic!("built-in layout: {e}"))
}
