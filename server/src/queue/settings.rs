//! The queue's flags: ticket limits, opening hours, no-shows and desks.

use super::model::QueueSettings;
use std::time::Duration;

/// Tickets and desks.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Queue")]
pub struct QueueFlags {
    /// Tickets one resident may take per minute (after a burst of 5). 0 turns the limit off.
    #[arg(long, env = "MADOGUCHI_TICKETS_PER_MINUTE", default_value_t = 10)]
    pub tickets_per_minute: u32,

    /// Take tickets at any hour, ignoring the opening hours in office.toml (demonstrations, tests).
    #[arg(long, env = "MADOGUCHI_ALWAYS_OPEN")]
    pub always_open: bool,

    /// Seconds a called resident has to reach the desk before they are a no-show and the desk
    /// calls the next ticket.
    #[arg(long, env = "MADOGUCHI_NO_SHOW_SECS", default_value_t = 180, value_parser = clap::value_parser!(u16).range(1..))]
    pub no_show_secs: u16,

    /// Seconds a desk staffed from the console (no avatar at it) counts as attended after the
    /// clerk's last desk action or presence heartbeat (`POST /api/v1/staff/desk/heartbeat`);
    /// an unattended desk does not call the next number when a called resident does not come.
    #[arg(long, env = "MADOGUCHI_DESK_PRESENCE_SECS", default_value_t = 60, value_parser = clap::value_parser!(u16).range(1..))]
    pub desk_presence_secs: u16,

    /// Seconds a clerk who leaves their desk or disconnects keeps it before it closes.
    #[arg(long, env = "MADOGUCHI_DESK_GRACE_SECS", default_value_t = 60)]
    pub desk_grace_secs: u16,
}

impl QueueFlags {
    pub fn settings(&self) -> QueueSettings {
        QueueSettings {
            no_show_after: Duration::from_secs(self.no_show_secs.into()),
            desk_grace: Duration::from_secs(self.desk_grace_secs.into()),
            desk_presence: Duration::from_secs(self.desk_presence_secs.into()),
            take_burst: 5,
            take_per_minute: self.tickets_per_minute,
        }
    }
}
