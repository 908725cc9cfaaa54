//! The desk rules, without any I/O: one desk per clerk, only their own department's, the grace
//! period of a clerk who walks away, the idle limit of a console-only desk, and whether someone
//! attends a desk (else the no-show timer does not call the next). A desk is attended while its
//! clerk's avatar is at it, or for `presence` (`--desk-presence-secs`) after the clerk's last
//! desk action or explicit presence heartbeat from the console; reading the desks or the queue
//! does not count. Desks are presence, kept in memory: after a restart every desk is closed.

use super::model::QueueError;
use crate::identity::Clerk;
use madoguchi_shared::protocol::DeskSign;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A desk opened only from the staff console (no avatar at it) closes after this long without
/// any action or refresh from its clerk.
pub const CONSOLE_DESK_IDLE: Duration = Duration::from_secs(30 * 60);

/// One open desk.
#[derive(Debug, Clone)]
struct Desk {
    staff_id: i64,
    clerk: String,
    department: String,
    /// When the clerk walked away or disconnected; the desk closes `desk_grace` later.
    away_since: Option<Instant>,
    /// Whether the clerk's avatar has been seen at the desk (else: a console-only desk).
    in_world: bool,
    /// The clerk's last desk action or presence heartbeat.
    last_active: Instant,
}

impl Desk {
    /// Someone is there to serve the next resident if a called one does not come: the clerk's
    /// avatar is at the desk, or their console acted or sent a heartbeat within `presence`.
    fn attended(&self, presence: Duration, now: Instant) -> bool {
        self.away_since.is_none() && (self.in_world || now.duration_since(self.last_active) < presence)
    }

    /// Why this desk should close now, if it should.
    fn stale(&self, grace: Duration, now: Instant) -> Option<&'static str> {
        if self.away_since.is_some_and(|t| now.duration_since(t) >= grace) {
            Some("clerk away past the grace period")
        } else if !self.in_world && now.duration_since(self.last_active) >= CONSOLE_DESK_IDLE {
            Some("console desk idle")
        } else {
            None
        }
    }
}

/// Every open desk, by counter id.
#[derive(Debug, Default)]
pub struct DeskBoard {
    desks: HashMap<String, Desk>,
}

impl DeskBoard {
    /// Opens `counter` (of `department`) for `clerk`, who lets go of any other desk they held:
    /// that counter is returned, to be released. Taking one's own desk again only marks the
    /// clerk back.
    pub fn take(
        &mut self,
        clerk: &Clerk,
        counter: &str,
        department: &str,
        now: Instant,
    ) -> Result<Option<String>, QueueError> {
        if department != clerk.department {
            return Err(QueueError::WrongDepartment);
        }
        if let Some(d) = self.desks.get_mut(counter) {
            if d.staff_id != clerk.id {
                return Err(QueueError::DeskTaken);
            }
            d.away_since = None;
            d.last_active = now;
            return Ok(None);
        }
        let previous = self.held_by(clerk.id);
        if let Some(p) = &previous {
            self.desks.remove(p);
        }
        let desk = Desk {
            staff_id: clerk.id,
            clerk: clerk.name.clone(),
            department: department.into(),
            away_since: None,
            in_world: false,
            last_active: now,
        };
        self.desks.insert(counter.into(), desk);
        Ok(previous)
    }

    /// Closes a desk; false if it was not open.
    pub fn close(&mut self, counter: &str) -> bool {
        self.desks.remove(counter).is_some()
    }

    /// The counter `staff_id` holds, if any.
    pub fn held_by(&self, staff_id: i64) -> Option<String> {
        self.desks.iter().find(|(_, d)| d.staff_id == staff_id).map(|(k, _)| k.clone())
    }

    /// Records a desk action or presence heartbeat of a clerk at their desk; false if the clerk
    /// holds no desk.
    pub fn touch(&mut self, staff_id: i64, now: Instant) -> bool {
        match self.desks.values_mut().find(|d| d.staff_id == staff_id) {
            Some(d) => {
                d.last_active = now;
                true
            }
            None => false,
        }
    }

    /// A clerk's avatar is at their desk, or has walked away or disconnected.
    pub fn presence(&mut self, staff_id: i64, present: bool, now: Instant) {
        if let Some(d) = self.desks.values_mut().find(|d| d.staff_id == staff_id) {
            d.away_since = if present { None } else { d.away_since.or(Some(now)) };
            if present {
                d.in_world = true;
                d.last_active = now;
            }
        }
    }

    /// The sign of `counter`.
    pub fn sign(&self, counter: &str) -> DeskSign {
        let d = self.desks.get(counter);
        DeskSign { counter: counter.into(), open: d.is_some(), clerk: d.map(|d| d.clerk.clone()), serving: None }
    }

    /// The staff account holding `counter`, if open.
    pub fn holder(&self, counter: &str) -> Option<i64> {
        self.desks.get(counter).map(|d| d.staff_id)
    }

    /// The clerk's name at `counter`, if open.
    pub fn clerk_at(&self, counter: &str) -> Option<String> {
        self.desks.get(counter).map(|d| d.clerk.clone())
    }

    /// Open desks of a department.
    pub fn open_in(&self, department: &str) -> u32 {
        self.desks.values().filter(|d| d.department == department).count() as u32
    }

    /// Who holds `counter` and attends it now (see [`Desk::attended`]).
    pub fn attended_by(&self, counter: &str, presence: Duration, now: Instant) -> Option<i64> {
        self.desks.get(counter).filter(|d| d.attended(presence, now)).map(|d| d.staff_id)
    }

    /// Desks to close now, and why: a clerk away past `grace`, or a console-only desk idle for
    /// [`CONSOLE_DESK_IDLE`].
    pub fn stale(&self, grace: Duration, now: Instant) -> Vec<(String, &'static str)> {
        self.desks.iter().filter_map(|(k, d)| Some((k.clone(), d.stale(grace, now)?))).collect()
    }

    /// Whether `counter` should close now (asked again under its lock, just before closing: the
    /// clerk may have come back since [`DeskBoard::stale`] listed it).
    pub fn is_stale(&self, counter: &str, grace: Duration, now: Instant) -> bool {
        self.desks.get(counter).is_some_and(|d| d.stale(grace, now).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clerk(id: i64, department: &str) -> Clerk {
        Clerk { id, login: format!("c{id}"), name: format!("Clerk {id}"), department: department.into() }
    }

    const GRACE: Duration = Duration::from_secs(60);
    const PRESENCE: Duration = Duration::from_secs(60);

    #[test]
    fn a_clerk_takes_only_their_departments_free_desks() {
        let mut b = DeskBoard::default();
        let t0 = Instant::now();
        let (a, z) = (clerk(1, "tax"), clerk(2, "tax"));
        assert!(matches!(b.take(&a, "T1", "welfare", t0), Err(QueueError::WrongDepartment)));
        assert_eq!(b.take(&a, "T1", "tax", t0).unwrap(), None);
        assert!(matches!(b.take(&z, "T1", "tax", t0), Err(QueueError::DeskTaken)));
        assert_eq!(b.take(&a, "T1", "tax", t0).unwrap(), None, "taking one's own desk again is fine");
        assert_eq!(
            b.sign("T1"),
            DeskSign { counter: "T1".into(), open: true, clerk: Some("Clerk 1".into()), serving: None }
        );
        assert_eq!(b.open_in("tax"), 1);
        assert_eq!(b.open_in("welfare"), 0);
    }

    #[test]
    fn one_desk_per_clerk_the_old_one_is_let_go() {
        let mut b = DeskBoard::default();
        let t0 = Instant::now();
        let a = clerk(1, "tax");
        b.take(&a, "T1", "tax", t0).unwrap();
        assert_eq!(b.take(&a, "T2", "tax", t0).unwrap(), Some("T1".into()));
        assert_eq!(b.held_by(1).as_deref(), Some("T2"));
        assert!(!b.sign("T1").open);
        assert_eq!(b.open_in("tax"), 1);
        assert!(b.close("T2"));
        assert!(!b.close("T2"), "closing twice closes nothing");
        assert_eq!(b.held_by(1), None);
    }

    #[test]
    fn a_clerk_who_walks_away_keeps_the_desk_for_the_grace_period() {
        let mut b = DeskBoard::default();
        let t0 = Instant::now();
        b.take(&clerk(1, "tax"), "T1", "tax", t0).unwrap();
        b.presence(1, true, t0);
        b.presence(1, false, t0 + Duration::from_secs(10));
        // Reported away again later: the grace period still counts from the first time.
        b.presence(1, false, t0 + Duration::from_secs(40));
        assert!(b.stale(GRACE, t0 + Duration::from_secs(69)).is_empty());
        assert_eq!(
            b.stale(GRACE, t0 + Duration::from_secs(70)),
            vec![("T1".into(), "clerk away past the grace period")]
        );
        // Coming back in time keeps it.
        b.presence(1, true, t0 + Duration::from_secs(65));
        assert!(b.stale(GRACE, t0 + Duration::from_secs(200)).is_empty());
    }

    #[test]
    fn a_console_desk_closes_when_idle_and_stays_open_while_used() {
        let mut b = DeskBoard::default();
        let t0 = Instant::now();
        b.take(&clerk(1, "tax"), "T1", "tax", t0).unwrap();
        assert!(b.touch(1, t0 + Duration::from_secs(600)));
        assert!(!b.touch(2, t0), "a clerk without a desk has nothing to touch");
        assert!(b.stale(GRACE, t0 + CONSOLE_DESK_IDLE).is_empty(), "a heartbeat counts as activity");
        assert!(!b.is_stale("T1", GRACE, t0 + CONSOLE_DESK_IDLE));
        assert!(b.is_stale("T1", GRACE, t0 + Duration::from_secs(600) + CONSOLE_DESK_IDLE));
        let idle = t0 + Duration::from_secs(600) + CONSOLE_DESK_IDLE;
        assert_eq!(b.stale(GRACE, idle), vec![("T1".into(), "console desk idle")]);
        // A desk whose clerk's avatar has been at it never idles out.
        b.presence(1, true, t0);
        assert!(b.stale(GRACE, idle + CONSOLE_DESK_IDLE).is_empty());
    }

    #[test]
    fn a_desk_is_attended_by_an_avatar_or_a_recent_heartbeat() {
        let mut b = DeskBoard::default();
        let t0 = Instant::now();
        b.take(&clerk(1, "tax"), "T1", "tax", t0).unwrap();
        assert_eq!(b.attended_by("T1", PRESENCE, t0 + Duration::from_secs(59)), Some(1));
        assert_eq!(b.attended_by("T1", PRESENCE, t0 + Duration::from_secs(60)), None, "console silent too long");
        b.touch(1, t0 + Duration::from_secs(100));
        assert_eq!(b.attended_by("T1", PRESENCE, t0 + Duration::from_secs(130)), Some(1), "a heartbeat");
        b.presence(1, true, t0);
        assert_eq!(b.attended_by("T1", PRESENCE, t0 + Duration::from_secs(3600)), Some(1), "the avatar is there");
        b.presence(1, false, t0 + Duration::from_secs(10));
        assert_eq!(b.attended_by("T1", PRESENCE, t0 + Duration::from_secs(11)), None, "walked away");
        assert_eq!(b.attended_by("T2", PRESENCE, t0), None);
    }
}
