//! `madoguchi-client`: the desktop client. For now a headless shell that checks it links the
//! shared protocol; rendering, input and the browser build come with the client issue.

use bevy::prelude::*;
use madoguchi_shared::PROTOCOL_VERSION;

fn main() -> AppExit {
    let mut app = madoguchi_client::app();
    app.add_systems(Startup, || {
        println!("madoguchi-client speaks protocol {PROTOCOL_VERSION}; the 3D client is not built yet");
    });
    app.run()
}
