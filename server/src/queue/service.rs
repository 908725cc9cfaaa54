//! The queue service: one value, cheap to clone, shared by the HTTP handlers, the world link
//! and the timer. It holds the ticket store, the desk board, the per-counter and per-department
//! locks, and the channels its notices go out on; the operations live in the files named for
//! them (`tickets`, `desks`, `calling`, `notices`, `no_show`, `requests`).

use super::desk_rules::DeskBoard;
use super::model::{DepartmentQueue, QueueError, QueueSettings, local_rfc3339};
use super::store::TicketStore;
use crate::db::{Db, now_ms};
use crate::events::{OfficeEvent, OfficeEvents};
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::world::link::WorldNotice;
use madoguchi_shared::hours::LocalTime;
use madoguchi_shared::layout::Office;
use madoguchi_shared::protocol::TicketInfo;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{OwnedMutexGuard, mpsc};

/// The queue service.
#[derive(Clone)]
pub struct Queues(Arc<Inner>);

struct Inner {
    store: TicketStore,
    office: Arc<Office>,
    settings: QueueSettings,
    desks: Mutex<DeskBoard>,
    world: mpsc::UnboundedSender<WorldNotice>,
    events: OfficeEvents,
    take_limit: RateLimiter<String>,
    metrics: Arc<Metrics>,
    /// One lock per counter: every action on a desk (call, recall, finish, close) holds it, so
    /// a double click or the no-show timer cannot interleave with the clerk.
    counter_locks: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
    /// One lock per department around reading and sending its positions, so notices of one
    /// department go out in the order the queue changed.
    dept_locks: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
}

impl Queues {
    pub fn new(
        db: Db,
        office: Arc<Office>,
        settings: QueueSettings,
        world: mpsc::UnboundedSender<WorldNotice>,
        events: OfficeEvents,
        metrics: Arc<Metrics>,
    ) -> Queues {
        let take_limit = RateLimiter::new(settings.take_burst, settings.take_per_minute);
        let counter_locks = office.counters().map(|(_, c)| (c.id.clone(), Arc::default())).collect();
        let dept_locks = office.departments.iter().map(|d| (d.id.clone(), Arc::default())).collect();
        Queues(Arc::new(Inner {
            store: TicketStore::new(db),
            office,
            settings,
            desks: Mutex::default(),
            world,
            events,
            take_limit,
            metrics,
            counter_locks,
            dept_locks,
        }))
    }

    pub fn office(&self) -> &Office {
        &self.0.office
    }

    /// How long a called resident has to reach the desk.
    pub fn no_show_after(&self) -> Duration {
        self.0.settings.no_show_after
    }

    pub(super) fn settings(&self) -> &QueueSettings {
        &self.0.settings
    }

    pub(super) fn store(&self) -> &TicketStore {
        &self.0.store
    }

    pub(super) fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    pub(super) fn take_limit(&self) -> &RateLimiter<String> {
        &self.0.take_limit
    }

    /// The desk board, locked for a moment (never across an await).
    pub(super) fn board(&self) -> MutexGuard<'_, DeskBoard> {
        self.0.desks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tells the world something; a world that has stopped is not an error here.
    pub(super) fn notify_world(&self, notice: WorldNotice) {
        let _ = self.0.world.send(notice);
    }

    /// Tells the office of a change (after its transaction committed).
    pub(super) fn tell_office(&self, event: OfficeEvent) {
        self.0.events.publish(event);
    }

    /// Tells the office a department's tickets changed ([`OfficeEvent::Tickets`]).
    pub(super) fn tickets_changed(&self, department: &str, tickets: Vec<(String, TicketInfo)>) {
        self.0.events.publish(OfficeEvent::Tickets { department: department.to_string(), tickets });
    }

    /// The office's local date at `now`, which numbers tickets.
    pub(super) fn today(&self, now: i64) -> String {
        LocalTime::at(now, self.0.office.utc_offset_min).date()
    }

    /// Holds `counter`'s lock (see [`Inner::counter_locks`]).
    pub(super) async fn lock_counter(&self, counter: &str) -> Option<OwnedMutexGuard<()>> {
        match self.0.counter_locks.get(counter) {
            Some(m) => Some(m.clone().lock_owned().await),
            None => None,
        }
    }

    /// Holds `department`'s lock (see [`Inner::dept_locks`]).
    pub(super) async fn lock_department(&self, department: &str) -> Option<OwnedMutexGuard<()>> {
        match self.0.dept_locks.get(department) {
            Some(m) => Some(m.clone().lock_owned().await),
            None => None,
        }
    }

    pub(super) fn department_of_counter(&self, counter: &str) -> Option<String> {
        self.0.office.counter(counter).map(|(_, c)| c.department.clone())
    }

    /// Whether a department takes tickets now, and if not, why (with the next opening time).
    pub fn check_open(&self, department: &str, now: i64) -> Result<(), QueueError> {
        let office = &self.0.office;
        let (Some(dept), Some(hours)) = (office.department(department), office.hours_of(department)) else {
            return Err(QueueError::UnknownDepartment);
        };
        if hours.is_open(now, office.utc_offset_min) {
            return Ok(());
        }
        let next = hours.next_opening(now, office.utc_offset_min);
        let message = match next {
            Some(ms) => {
                let t = LocalTime::at(ms, office.utc_offset_min);
                let day = madoguchi_shared::hours::WEEKDAYS[t.weekday as usize];
                format!(
                    "{} is closed now (hours: {}); tickets are taken again from {} ({day}) {}",
                    dept.name.en,
                    hours.describe(),
                    t.date(),
                    t.clock()
                )
            }
            None => format!("{} is closed and has no opening hours set", dept.name.en),
        };
        Err(QueueError::Closed { message, next_opening_ms: next })
    }

    /// Every department's queue.
    pub async fn departments(&self) -> Result<Vec<DepartmentQueue>, QueueError> {
        let now = now_ms();
        let today = self.today(now);
        let waiting: HashMap<String, i64> = self.store().waiting_counts(&today).await?.into_iter().collect();
        let office = &self.0.office;
        Ok(office
            .departments
            .iter()
            .zip(&office.hours)
            .map(|(d, h)| DepartmentQueue {
                id: d.id.clone(),
                name_ja: d.name.ja.clone(),
                name_en: d.name.en.clone(),
                ticket_prefix: d.ticket_prefix.clone(),
                open: h.is_open(now, office.utc_offset_min),
                hours: h.describe(),
                next_opening: h
                    .next_opening(now, office.utc_offset_min)
                    .map(|ms| local_rfc3339(ms, office.utc_offset_min)),
                waiting: waiting.get(&d.id).copied().unwrap_or(0).max(0) as u32,
                open_desks: self.open_desks(&d.id),
            })
            .collect())
    }
}
