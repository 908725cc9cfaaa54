//! The Madoguchi client as a library, so tests can build the same app headless.

use bevy::prelude::*;

/// The client app. Headless for now: rendering arrives with the 3D client issue.
pub fn app() -> App {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins.set(bevy::app::ScheduleRunnerPlugin::run_once()));
    app
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_app_builds_and_updates_headless() {
        let mut app = super::app();
        app.update();
        assert!(app.world().contains_resource::<bevy::prelude::Time>());
    }
}
