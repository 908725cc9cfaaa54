//! Queues: tickets (番号札), desks, and calling the next number.
//!
//! The database arbitrates: ticket numbers come from a per-department, per-day counter row; a
//! partial unique index allows one active ticket per resident and department; "call next" is a
//! single `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED)` on PostgreSQL (a write
//! transaction on SQLite), so two clerks calling at once never get the same ticket, and a
//! restart loses nothing. Desks (who staffs which counter) are presence, kept in memory.
//!
//! Every change is published: the world forwards each resident's ticket to their client, and
//! the text mode's live page listens on [`Queues::subscribe`].

use crate::audit::Actor;
use crate::db::{Db, now_ms};
use crate::http::ratelimit::RateLimiter;
use madoguchi_shared::ErrorCode;
use madoguchi_shared::hours::LocalTime;
use madoguchi_shared::layout::Office;
use madoguchi_shared::protocol::{DeskSign, TicketInfo, TicketStatus};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc};

/// Tunables from the process config.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// A called resident who has not come after this long is a no-show; the desk calls the next.
    pub no_show_after: Duration,
    /// A clerk who walks away from their desk or disconnects keeps it this long.
    pub desk_grace: Duration,
    /// Tickets one resident may take: a burst of this many...
    pub take_burst: u32,
    /// ...refilled at this many per minute.
    pub take_per_minute: u32,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            no_show_after: Duration::from_secs(180),
            desk_grace: Duration::from_secs(60),
            take_burst: 5,
            take_per_minute: 10,
        }
    }
}

/// A staff member as the queue needs to know them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clerk {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub department: String,
}

impl Clerk {
    fn actor(&self) -> Actor {
        Actor::Staff { id: self.id, login: self.login.clone(), department: self.department.clone() }
    }
}

/// What the queue tells the world.
#[derive(Debug, Clone)]
pub enum WorldNotice {
    /// Deliver to every client of this resident.
    Ticket { resident_id: String, info: TicketInfo },
    /// A counter's sign changed; `staff_id` holds it now (their avatar goes behind the desk).
    Desk { sign: DeskSign, staff_id: Option<i64> },
    /// A request from this client was refused.
    Error { client_id: u64, code: ErrorCode, message: String },
}

/// What the world asks of the queue.
#[derive(Debug, Clone)]
pub enum QueueRequest {
    Take {
        client_id: u64,
        resident_id: String,
        counter: String,
    },
    Cancel {
        client_id: u64,
        resident_id: String,
        ticket: i64,
    },
    /// A resident joined the world: send them their active tickets.
    Joined {
        resident_id: String,
    },
    /// A resident's avatar reached the counter their ticket was called to.
    Arrived {
        resident_id: String,
        ticket: i64,
    },
    Staff {
        client_id: u64,
        clerk: Clerk,
        command: StaffCommand,
    },
    /// A clerk's avatar is at their desk (true) or has walked away or disconnected (false).
    Presence {
        staff_id: i64,
        present: bool,
    },
}

/// What a clerk in the world asks for.
#[derive(Debug, Clone)]
pub enum StaffCommand {
    TakeDesk(String),
    LeaveDesk,
    CallNext,
}

/// A change for live pages: tickets of these residents changed.
#[derive(Debug, Clone)]
pub struct QueueChange {
    pub tickets: Vec<(String, TicketInfo)>,
}

/// Why a queue operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("no such department")]
    UnknownDepartment,
    #[error("no such counter")]
    UnknownCounter,
    #[error("{message}")]
    Closed { message: String, next_opening_ms: Option<i64> },
    #[error("you already hold ticket {} for this department", .0.label)]
    Exists(Box<TicketInfo>),
    #[error("too many tickets taken; try again in {0} s")]
    RateLimited(u64),
    #[error("another clerk holds this desk")]
    DeskTaken,
    #[error("this counter belongs to another department")]
    WrongDepartment,
    #[error("you hold no desk; take one first")]
    NoDesk,
    #[error("no such ticket")]
    NoTicket,
    #[error("the resident already holds a ticket for that department")]
    TargetHasTicket,
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

impl QueueError {
    /// The wire code for world clients.
    pub fn code(&self) -> ErrorCode {
        match self {
            QueueError::UnknownDepartment | QueueError::UnknownCounter => ErrorCode::CounterUnknown,
            QueueError::Closed { .. } => ErrorCode::QueueClosed,
            QueueError::Exists(_) | QueueError::TargetHasTicket => ErrorCode::TicketExists,
            QueueError::RateLimited(_) => ErrorCode::RateLimited,
            QueueError::DeskTaken => ErrorCode::DeskTaken,
            QueueError::WrongDepartment => ErrorCode::WrongDepartment,
            QueueError::NoDesk => ErrorCode::NoDesk,
            QueueError::NoTicket => ErrorCode::NoTicket,
            QueueError::Db(_) => ErrorCode::Unavailable,
        }
    }
}

/// A department's queue at a glance.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DepartmentQueue {
    pub id: String,
    pub name_ja: String,
    pub name_en: String,
    pub ticket_prefix: String,
    /// Taking tickets now.
    pub open: bool,
    /// `mon-fri 08:30-17:15`.
    pub hours: String,
    /// When it next opens (RFC 3339, local offset), if closed now, or when tomorrow's opening is.
    pub next_opening: Option<String>,
    pub waiting: u32,
    pub open_desks: u32,
}

/// A desk (counter) as staff see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeskView {
    pub counter: String,
    pub department: String,
    pub open: bool,
    pub clerk: Option<String>,
    /// The ticket at the desk, if any.
    pub ticket: Option<StaffTicket>,
}

/// A ticket as staff see it: no more about the resident than their display name.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StaffTicket {
    pub id: i64,
    pub label: String,
    pub department: String,
    #[schema(value_type = String)]
    pub status: String,
    pub resident_name: String,
    /// When it was first taken (kept through transfers), RFC 3339.
    pub queued_at: String,
    pub counter: Option<String>,
    pub recalls: u32,
    pub transferred_from: Option<String>,
}

/// The ticket as a JSON API body (residents).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TicketBody {
    pub id: i64,
    pub department: String,
    pub label: String,
    #[schema(value_type = String)]
    pub status: String,
    pub position: Option<u32>,
    /// Estimated wait in seconds; null means unknown (no recent service times).
    pub wait_s: Option<u32>,
    pub counter: Option<String>,
    pub recalls: u32,
}

impl From<&TicketInfo> for TicketBody {
    fn from(t: &TicketInfo) -> Self {
        TicketBody {
            id: t.id,
            department: t.department.clone(),
            label: t.label.clone(),
            status: t.status.as_str().into(),
            position: t.position,
            wait_s: t.wait_s,
            counter: t.counter.clone(),
            recalls: t.recalls,
        }
    }
}

struct Desk {
    staff_id: i64,
    clerk: String,
    /// When the clerk walked away or disconnected; the desk closes `desk_grace` later.
    away_since: Option<Instant>,
    /// Whether the clerk's avatar has been seen at the desk (else: a console-only desk).
    in_world: bool,
    /// The clerk's last action or console refresh.
    last_active: Instant,
}

impl Desk {
    /// Someone is there to serve the next resident if a called one does not come: the clerk's
    /// avatar is at the desk, or their console acted or refreshed within the no-show period
    /// (and a minute).
    fn attended(&self, no_show_after: Duration) -> bool {
        self.away_since.is_none()
            && (self.in_world || self.last_active.elapsed() < no_show_after + Duration::from_secs(60))
    }
}

/// The queue service: cheap to clone, shared by HTTP handlers, the world link and the timer.
#[derive(Clone)]
pub struct Queues(Arc<Inner>);

struct Inner {
    db: Db,
    office: Arc<Office>,
    settings: QueueSettings,
    desks: Mutex<HashMap<String, Desk>>,
    world: mpsc::UnboundedSender<WorldNotice>,
    changes: broadcast::Sender<Arc<QueueChange>>,
    take_limit: RateLimiter<String>,
    metrics: Arc<crate::metrics::Metrics>,
    /// One lock per counter: every action on a desk (call, recall, finish, close) holds it, so
    /// a double click or the no-show timer cannot interleave with the clerk.
    counter_locks: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
    /// One lock per department around reading and sending its positions, so notices of one
    /// department go out in the order the queue changed.
    dept_locks: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
}

/// A desk opened only from the staff console (no avatar at it) closes after this long without
/// any action or refresh from its clerk.
pub const CONSOLE_DESK_IDLE: Duration = Duration::from_secs(30 * 60);

const ACTIVE: &str = "('waiting', 'called', 'serving')";
const COLS: &str = "t.id, t.department_id, t.resident_id, t.label, t.status, t.queued_at, t.counter_id, t.recalls, t.transferred_from, t.called_at";

/// A ticket row.
#[derive(Debug, Clone)]
struct Row_ {
    id: i64,
    department: String,
    resident: String,
    label: String,
    status: TicketStatus,
    queued_at: i64,
    counter: Option<String>,
    recalls: i64,
    transferred_from: Option<String>,
}

fn row(r: &AnyRow) -> Result<Row_, sqlx::Error> {
    let status: String = r.try_get(4)?;
    Ok(Row_ {
        id: r.try_get(0)?,
        department: r.try_get(1)?,
        resident: r.try_get(2)?,
        label: r.try_get(3)?,
        status: TicketStatus::parse(&status).unwrap_or(TicketStatus::Expired),
        queued_at: r.try_get(5)?,
        counter: r.try_get(6)?,
        recalls: r.try_get(7)?,
        transferred_from: r.try_get(8)?,
    })
}

impl Row_ {
    fn info(&self, position: Option<u32>, wait_s: Option<u32>) -> TicketInfo {
        TicketInfo {
            id: self.id,
            department: self.department.clone(),
            label: self.label.clone(),
            status: self.status,
            position,
            wait_s,
            counter: self.counter.clone(),
            recalls: self.recalls.max(0) as u32,
        }
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| d.is_unique_violation())
}

/// RFC 3339 in the office's local offset.
pub fn local_rfc3339(ms: i64, offset_min: i32) -> String {
    let t = LocalTime::at(ms, offset_min);
    let sign = if offset_min < 0 { '-' } else { '+' };
    let o = offset_min.unsigned_abs();
    format!("{}T{}:00{sign}{:02}:{:02}", t.date(), t.clock(), o / 60, o % 60)
}

async fn event(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    ticket: i64,
    actor: &Actor,
    action: &str,
    detail: serde_json::Value,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO ticket_events (ticket_id, at, actor_kind, actor_id, action, detail) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(ticket)
        .bind(at)
        .bind(actor.kind())
        .bind(actor.id())
        .bind(action)
        .bind(detail.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Queues {
    pub fn new(
        db: Db,
        office: Arc<Office>,
        settings: QueueSettings,
        world: mpsc::UnboundedSender<WorldNotice>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Queues {
        let take_limit = RateLimiter::new(settings.take_burst, settings.take_per_minute);
        let counter_locks = office.counters().map(|(_, c)| (c.id.clone(), Arc::default())).collect();
        let dept_locks = office.departments.iter().map(|d| (d.id.clone(), Arc::default())).collect();
        let (changes, _) = broadcast::channel(1024);
        Queues(Arc::new(Inner {
            db,
            office,
            settings,
            desks: Mutex::default(),
            world,
            changes,
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

    /// Live changes, for pages that update themselves.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<QueueChange>> {
        self.0.changes.subscribe()
    }

    fn today(&self, now: i64) -> String {
        LocalTime::at(now, self.0.office.utc_offset_min).date()
    }

    async fn lock_counter(&self, counter: &str) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match self.0.counter_locks.get(counter) {
            Some(m) => Some(m.clone().lock_owned().await),
            None => None,
        }
    }

    /// Records activity of a clerk at their desk (console refreshes count).
    pub fn touch(&self, staff_id: i64) {
        if let Some(d) = self.desks().values_mut().find(|d| d.staff_id == staff_id) {
            d.last_active = Instant::now();
        }
    }

    fn department_of_counter(&self, counter: &str) -> Option<String> {
        self.0.office.counter(counter).map(|(_, c)| c.department.clone())
    }

    fn desks(&self) -> std::sync::MutexGuard<'_, HashMap<String, Desk>> {
        self.0.desks.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn open_desks(&self, department: &str) -> u32 {
        let office = &self.0.office;
        self.desks().keys().filter(|c| office.counter(c).is_some_and(|(_, c)| c.department == department)).count()
            as u32
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
        let rows = sqlx::query(
            "SELECT department_id, COUNT(*) FROM tickets WHERE status = 'waiting' AND service_day = $1 GROUP BY department_id",
        )
        .bind(&today)
        .fetch_all(&self.0.db.pool)
        .await?;
        let mut waiting: HashMap<String, i64> = HashMap::new();
        for r in rows {
            waiting.insert(r.try_get(0)?, r.try_get(1)?);
        }
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

    /// Takes a ticket for `resident` in `department`.
    pub async fn take(&self, resident: &str, department: &str) -> Result<TicketInfo, QueueError> {
        let now = now_ms();
        self.check_open(department, now)?;
        self.0.take_limit.check(resident.to_string()).map_err(QueueError::RateLimited)?;
        let today = self.today(now);
        let db = &self.0.db;
        let mut tx = db.begin_write().await?;
        let sql = format!(
            "SELECT {COLS} FROM tickets t WHERE t.resident_id = $1 AND t.department_id = $2 AND t.status IN {ACTIVE} AND t.service_day = $3"
        );
        if let Some(r) = sqlx::query(AssertSqlSafe(sql))
            .bind(resident)
            .bind(department)
            .bind(&today)
            .fetch_optional(&mut *tx)
            .await?
        {
            drop(tx);
            let r = row(&r)?;
            return Err(QueueError::Exists(Box::new(self.with_position(r).await?)));
        }
        // A ticket left over from an earlier day no longer blocks a new one.
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE tickets SET status = 'expired', finished_at = $1, updated_at = $1 WHERE resident_id = $2 AND department_id = $3 AND status IN {ACTIVE} AND service_day <> $4"
        )))
        .bind(now)
        .bind(resident)
        .bind(department)
        .bind(&today)
        .execute(&mut *tx)
        .await?;
        let (label, number) = next_number(&mut tx, &self.0.office, department, &today).await?;
        let inserted = sqlx::query(
            "INSERT INTO tickets (department_id, resident_id, service_day, number, status, created_at, label, queued_at, updated_at)
             VALUES ($1, $2, $3, $4, 'waiting', $5, $6, $5, $5) RETURNING id",
        )
        .bind(department)
        .bind(resident)
        .bind(&today)
        .bind(number)
        .bind(now)
        .bind(&label)
        .fetch_one(&mut *tx)
        .await;
        let id: i64 = match inserted {
            Ok(r) => r.try_get(0)?,
            Err(e) if is_unique_violation(&e) => {
                // Taken at the same moment by another request of the same resident.
                drop(tx);
                let mine = self.mine(resident).await?;
                let t = mine.into_iter().find(|t| t.department == department && t.status.is_active());
                return Err(match t {
                    Some(t) => QueueError::Exists(Box::new(t)),
                    None => QueueError::Db(e),
                });
            }
            Err(e) => return Err(e.into()),
        };
        event(
            &mut tx,
            id,
            &Actor::Resident { id: resident.into() },
            "taken",
            serde_json::json!({ "label": label }),
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(ticket = id, %label, department, "ticket taken");
        crate::metrics::Metrics::add(&self.0.metrics.tickets_taken_total, 1);
        let infos = self.publish(department, vec![]).await?;
        Ok(infos.into_iter().find(|t| t.id == id).unwrap_or_else(|| TicketInfo {
            id,
            department: department.into(),
            label,
            status: TicketStatus::Waiting,
            position: None,
            wait_s: None,
            counter: None,
            recalls: 0,
        }))
    }

    /// The resident's tickets of today, active first.
    pub async fn mine(&self, resident: &str) -> Result<Vec<TicketInfo>, QueueError> {
        let today = self.today(now_ms());
        let sql = format!(
            "SELECT {COLS} FROM tickets t WHERE t.resident_id = $1 AND t.service_day = $2 ORDER BY t.id DESC LIMIT 50"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(resident).bind(&today).fetch_all(&self.0.db.pool).await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(self.with_position(row(&r)?).await?);
        }
        out.sort_by_key(|t| !t.status.is_active());
        Ok(out)
    }

    /// One ticket, with its position and wait if waiting.
    async fn with_position(&self, r: Row_) -> Result<TicketInfo, QueueError> {
        if r.status != TicketStatus::Waiting {
            return Ok(r.info(None, None));
        }
        let pos: i64 = sqlx::query(
            "SELECT COUNT(*) FROM tickets WHERE department_id = $1 AND status = 'waiting' AND (queued_at < $2 OR (queued_at = $2 AND id <= $3))",
        )
        .bind(&r.department)
        .bind(r.queued_at)
        .bind(r.id)
        .fetch_one(&self.0.db.pool)
        .await?
        .try_get(0)?;
        let pos = pos.max(1) as u32;
        let wait = self.estimate(&r.department, pos).await?;
        Ok(r.info(Some(pos), wait))
    }

    /// Mean service time of the department's last 20 served tickets (within a week), ms.
    async fn mean_service_ms(&self, department: &str) -> Result<Option<f64>, QueueError> {
        let since = now_ms() - 7 * 24 * 3_600_000;
        let rows = sqlx::query(
            "SELECT finished_at - called_at FROM tickets WHERE department_id = $1 AND status = 'served' AND finished_at > $2 AND called_at IS NOT NULL ORDER BY finished_at DESC LIMIT 20",
        )
        .bind(department)
        .bind(since)
        .fetch_all(&self.0.db.pool)
        .await?;
        let d: Vec<i64> = rows.iter().filter_map(|r| r.try_get::<i64, _>(0).ok()).filter(|d| *d >= 0).collect();
        Ok((!d.is_empty()).then(|| d.iter().sum::<i64>() as f64 / d.len() as f64))
    }

    /// Estimated wait for position `pos`: mean recent service time × position ÷ open desks.
    /// Unknown without recent service times or without an open desk.
    async fn estimate(&self, department: &str, pos: u32) -> Result<Option<u32>, QueueError> {
        let desks = self.open_desks(department);
        if desks == 0 {
            return Ok(None);
        }
        Ok(self.mean_service_ms(department).await?.map(|m| wait_s(m, pos, desks)))
    }

    /// Recomputes positions in `department` and tells every waiting resident, plus the owners
    /// of `ended` tickets. Returns the active tickets.
    async fn publish(&self, department: &str, ended: Vec<TicketInfo>) -> Result<Vec<TicketInfo>, QueueError> {
        let _order = match self.0.dept_locks.get(department) {
            Some(m) => Some(m.clone().lock_owned().await),
            None => None,
        };
        let today = self.today(now_ms());
        let sql = format!(
            "SELECT {COLS} FROM tickets t WHERE t.department_id = $1 AND t.status IN {ACTIVE} AND t.service_day = $2 ORDER BY t.queued_at, t.id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(department).bind(&today).fetch_all(&self.0.db.pool).await?;
        let desks = self.open_desks(department);
        let mean = if desks > 0 { self.mean_service_ms(department).await? } else { None };
        let mut pos = 0;
        let mut out = Vec::new();
        let mut change = Vec::new();
        for r in rows {
            let r = row(&r)?;
            let info = if r.status == TicketStatus::Waiting {
                pos += 1;
                r.info(Some(pos), mean.map(|m| wait_s(m, pos, desks)))
            } else {
                r.info(None, None)
            };
            change.push((r.resident.clone(), info.clone()));
            out.push(info);
        }
        for t in ended {
            if let Some(owner) = self.owner(t.id).await? {
                change.push((owner, t));
            }
        }
        for (resident_id, info) in &change {
            let _ = self.0.world.send(WorldNotice::Ticket { resident_id: resident_id.clone(), info: info.clone() });
        }
        let _ = self.0.changes.send(Arc::new(QueueChange { tickets: change }));
        Ok(out)
    }

    async fn owner(&self, ticket: i64) -> Result<Option<String>, QueueError> {
        Ok(sqlx::query("SELECT resident_id FROM tickets WHERE id = $1")
            .bind(ticket)
            .fetch_optional(&self.0.db.pool)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?)
    }

    /// Ends one of the resident's own active tickets.
    pub async fn cancel(&self, resident: &str, ticket: i64) -> Result<TicketInfo, QueueError> {
        let now = now_ms();
        let mut tx = self.0.db.begin_write().await?;
        let sql = format!(
            "UPDATE tickets SET status = 'cancelled', finished_at = $1, updated_at = $1 WHERE id = $2 AND resident_id = $3 AND status IN {ACTIVE} RETURNING {}",
            COLS.replace("t.", "")
        );
        let r = sqlx::query(AssertSqlSafe(sql)).bind(now).bind(ticket).bind(resident).fetch_optional(&mut *tx).await?;
        let Some(r) = r else { return Err(QueueError::NoTicket) };
        let r = row(&r)?;
        event(&mut tx, r.id, &Actor::Resident { id: resident.into() }, "cancelled", serde_json::json!({}), now).await?;
        tx.commit().await?;
        let info = r.info(None, None);
        self.publish(&r.department, vec![info.clone()]).await?;
        Ok(info)
    }

    /// The resident's avatar (or the text page) reports arrival at the desk it was called to.
    pub async fn arrived(&self, resident: &str, ticket: i64) -> Result<TicketInfo, QueueError> {
        let now = now_ms();
        let mut tx = self.0.db.begin_write().await?;
        let sql = format!(
            "UPDATE tickets SET status = 'serving', arrived_at = $1, updated_at = $1 WHERE id = $2 AND resident_id = $3 AND status = 'called' RETURNING {}",
            COLS.replace("t.", "")
        );
        let r = sqlx::query(AssertSqlSafe(sql)).bind(now).bind(ticket).bind(resident).fetch_optional(&mut *tx).await?;
        let Some(r) = r else { return Err(QueueError::NoTicket) };
        let r = row(&r)?;
        event(&mut tx, r.id, &Actor::Resident { id: resident.into() }, "arrived", serde_json::json!({}), now).await?;
        tx.commit().await?;
        self.publish(&r.department, vec![]).await?;
        Ok(r.info(None, None))
    }

    // ---- desks --------------------------------------------------------------------------

    /// Every desk, with the ticket at it.
    pub async fn desk_views(&self) -> Result<Vec<DeskView>, QueueError> {
        let today = self.today(now_ms());
        let sql = format!(
            "SELECT {COLS}, r.display_name FROM tickets t JOIN residents r ON r.id = t.resident_id WHERE t.status IN ('called', 'serving') AND t.service_day = $1"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(&today).fetch_all(&self.0.db.pool).await?;
        let mut at_desk: HashMap<String, StaffTicket> = HashMap::new();
        for r in &rows {
            let t = self.staff_ticket(r)?;
            if let Some(c) = t.counter.clone() {
                at_desk.insert(c, t);
            }
        }
        let desks = self.desks();
        Ok(self
            .0
            .office
            .counters()
            .map(|(_, c)| {
                let d = desks.get(&c.id);
                DeskView {
                    counter: c.id.clone(),
                    department: c.department.clone(),
                    open: d.is_some(),
                    clerk: d.map(|d| d.clerk.clone()),
                    ticket: at_desk.remove(&c.id),
                }
            })
            .collect())
    }

    fn staff_ticket(&self, r: &AnyRow) -> Result<StaffTicket, sqlx::Error> {
        let t = row(r)?;
        Ok(StaffTicket {
            id: t.id,
            label: t.label,
            department: t.department,
            status: t.status.as_str().into(),
            resident_name: r.try_get(10)?,
            queued_at: local_rfc3339(t.queued_at, self.0.office.utc_offset_min),
            counter: t.counter,
            recalls: t.recalls.max(0) as u32,
            transferred_from: t.transferred_from,
        })
    }

    /// The department's waiting tickets in calling order.
    pub async fn waiting(&self, department: &str) -> Result<Vec<StaffTicket>, QueueError> {
        let today = self.today(now_ms());
        let sql = format!(
            "SELECT {COLS}, r.display_name FROM tickets t JOIN residents r ON r.id = t.resident_id WHERE t.department_id = $1 AND t.status = 'waiting' AND t.service_day = $2 ORDER BY t.queued_at, t.id LIMIT 500"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(department).bind(&today).fetch_all(&self.0.db.pool).await?;
        rows.iter().map(|r| self.staff_ticket(r).map_err(QueueError::from)).collect()
    }

    fn sign(&self, counter: &str) -> DeskSign {
        let desks = self.desks();
        let d = desks.get(counter);
        DeskSign { counter: counter.into(), open: d.is_some(), clerk: d.map(|d| d.clerk.clone()) }
    }

    /// Opens `counter` for `clerk` (who leaves any other desk they held).
    pub async fn take_desk(&self, clerk: &Clerk, counter: &str) -> Result<DeskSign, QueueError> {
        let Some((_, c)) = self.0.office.counter(counter) else { return Err(QueueError::UnknownCounter) };
        if c.department != clerk.department {
            return Err(QueueError::WrongDepartment);
        }
        let previous = {
            let mut desks = self.desks();
            if let Some(d) = desks.get_mut(counter) {
                if d.staff_id != clerk.id {
                    return Err(QueueError::DeskTaken);
                }
                d.away_since = None;
                d.last_active = Instant::now();
                None
            } else {
                // One desk per clerk: the old one is let go in the same step.
                let prev = desks.iter().find(|(_, d)| d.staff_id == clerk.id).map(|(k, _)| k.clone());
                if let Some(p) = &prev {
                    desks.remove(p);
                }
                let desk = Desk {
                    staff_id: clerk.id,
                    clerk: clerk.name.clone(),
                    away_since: None,
                    in_world: false,
                    last_active: Instant::now(),
                };
                desks.insert(counter.into(), desk);
                prev
            }
        };
        if let Some(prev) = previous {
            let _g = self.lock_counter(&prev).await;
            let _ = self.0.world.send(WorldNotice::Desk { sign: self.sign(&prev), staff_id: None });
            self.release_counter(&prev, &clerk.actor(), "clerk moved to another desk").await?;
        }
        tracing::info!(counter, clerk = %clerk.login, "desk open");
        let sign = self.sign(counter);
        let _ = self.0.world.send(WorldNotice::Desk { sign: sign.clone(), staff_id: Some(clerk.id) });
        self.publish(&c.department, vec![]).await?;
        Ok(sign)
    }

    /// The desk `clerk` holds, if any.
    pub fn desk_of(&self, staff_id: i64) -> Option<String> {
        self.desks().iter().find(|(_, d)| d.staff_id == staff_id).map(|(k, _)| k.clone())
    }

    /// Closes the clerk's desk now.
    pub async fn leave_desk(&self, clerk: &Clerk) -> Result<DeskSign, QueueError> {
        let counter = self.desk_of(clerk.id).ok_or(QueueError::NoDesk)?;
        self.close_desk(&counter, &clerk.actor()).await?;
        Ok(self.sign(&counter))
    }

    /// Closes a desk: a ticket called to it goes back to the front of the queue (it keeps its
    /// original time); one being served is finished.
    async fn close_desk(&self, counter: &str, actor: &Actor) -> Result<(), QueueError> {
        let _g = self.lock_counter(counter).await;
        if self.desks().remove(counter).is_none() {
            return Ok(());
        }
        tracing::info!(counter, "desk closed");
        let _ = self.0.world.send(WorldNotice::Desk { sign: self.sign(counter), staff_id: None });
        self.release_counter(counter, actor, "desk closed").await
    }

    /// Desks live in memory, so after a restart none is open: tickets left called or being
    /// served at a desk are released as when a desk closes. Run once at start.
    pub async fn recover(&self) -> Result<(), QueueError> {
        let rows = sqlx::query(
            "SELECT DISTINCT counter_id FROM tickets WHERE status IN ('called', 'serving') AND counter_id IS NOT NULL",
        )
        .fetch_all(&self.0.db.pool)
        .await?;
        for r in rows {
            let counter: String = r.try_get(0)?;
            self.release_counter(&counter, &Actor::System, "server restarted").await?;
        }
        Ok(())
    }

    /// Puts a ticket called to `counter` back in the queue (it keeps its time, so it is next)
    /// and finishes one being served there.
    async fn release_counter(&self, counter: &str, actor: &Actor, why: &str) -> Result<(), QueueError> {
        let now = now_ms();
        let mut tx = self.0.db.begin_write().await?;
        let sql = format!("SELECT {COLS} FROM tickets t WHERE t.counter_id = $1 AND t.status IN ('called', 'serving')");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(counter).fetch_all(&mut *tx).await?;
        let mut ended = Vec::new();
        for r in &rows {
            let mut t = row(r)?;
            if t.status == TicketStatus::Called {
                sqlx::query("UPDATE tickets SET status = 'waiting', counter_id = NULL, staff_id = NULL, called_at = NULL, updated_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(t.id)
                    .execute(&mut *tx)
                    .await?;
                event(&mut tx, t.id, actor, "requeued", serde_json::json!({ "counter": counter, "why": why }), now)
                    .await?;
            } else {
                sqlx::query("UPDATE tickets SET status = 'served', finished_at = $1, updated_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(t.id)
                    .execute(&mut *tx)
                    .await?;
                event(&mut tx, t.id, actor, "served", serde_json::json!({ "counter": counter, "why": why }), now)
                    .await?;
                t.status = TicketStatus::Served;
                ended.push(t.info(None, None));
            }
        }
        tx.commit().await?;
        if let Some((_, c)) = self.0.office.counter(counter) {
            let dept = c.department.clone();
            self.publish(&dept, ended).await?;
        }
        Ok(())
    }

    fn require_desk(&self, clerk: &Clerk) -> Result<String, QueueError> {
        self.desk_of(clerk.id).ok_or(QueueError::NoDesk)
    }

    /// Finishes the desk's current ticket (served if the resident came, no-show if not) and
    /// calls the department's longest-waiting ticket to it. `None` when nobody waits.
    pub async fn call_next(&self, clerk: &Clerk) -> Result<Option<TicketInfo>, QueueError> {
        let (counter, _g) = self.hold_desk(clerk).await?;
        let department = self.department_of_counter(&counter).ok_or(QueueError::UnknownCounter)?;
        self.call_next_at(&counter, clerk.id, &clerk.actor(), &department).await
    }

    /// The clerk's desk, locked; checked again once the lock is held (the desk may have closed
    /// while this waited).
    async fn hold_desk(&self, clerk: &Clerk) -> Result<(String, Option<tokio::sync::OwnedMutexGuard<()>>), QueueError> {
        let counter = self.require_desk(clerk)?;
        let guard = self.lock_counter(&counter).await;
        if self.desk_of(clerk.id).as_deref() != Some(counter.as_str()) {
            return Err(QueueError::NoDesk);
        }
        self.touch(clerk.id);
        Ok((counter, guard))
    }

    async fn call_next_at(
        &self,
        counter: &str,
        staff_id: i64,
        actor: &Actor,
        department: &str,
    ) -> Result<Option<TicketInfo>, QueueError> {
        let now = now_ms();
        let today = self.today(now);
        let db = &self.0.db;
        let mut tx = db.begin_write().await?;
        let mut ended = Vec::new();
        for (from, to) in [("serving", "served"), ("called", "no_show")] {
            let sql = format!(
                "UPDATE tickets SET status = '{to}', finished_at = $1, updated_at = $1 WHERE counter_id = $2 AND status = '{from}' RETURNING {}",
                COLS.replace("t.", "")
            );
            for r in sqlx::query(AssertSqlSafe(sql)).bind(now).bind(counter).fetch_all(&mut *tx).await? {
                let t = row(&r)?;
                event(&mut tx, t.id, actor, to, serde_json::json!({ "counter": counter }), now).await?;
                ended.push(t.info(None, None));
            }
        }
        let skip = match db.backend {
            crate::db::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::db::Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE tickets SET status = 'called', counter_id = $1, staff_id = $2, called_at = $3, updated_at = $3
             WHERE status = 'waiting' AND id = (SELECT id FROM tickets WHERE department_id = $4 AND status = 'waiting' AND service_day = $5 ORDER BY queued_at, id LIMIT 1{skip})
             RETURNING {}",
            COLS.replace("t.", "")
        );
        let called = sqlx::query(AssertSqlSafe(sql))
            .bind(counter)
            .bind(staff_id)
            .bind(now)
            .bind(department)
            .bind(&today)
            .fetch_optional(&mut *tx)
            .await?;
        let called = match called {
            Some(r) => {
                let t = row(&r)?;
                event(&mut tx, t.id, actor, "called", serde_json::json!({ "counter": counter }), now).await?;
                Some(t.info(None, None))
            }
            None => None,
        };
        tx.commit().await?;
        if let Some(t) = &called {
            tracing::info!(ticket = t.id, label = %t.label, counter, "called");
            crate::metrics::Metrics::add(&self.0.metrics.tickets_called_total, 1);
        }
        let no_shows = ended.iter().filter(|t| t.status == TicketStatus::NoShow).count() as u64;
        crate::metrics::Metrics::add(&self.0.metrics.tickets_no_show_total, no_shows);
        // The called ticket's owner hears of it first; the rest see the queue move up.
        let mut first = ended;
        first.extend(called.clone());
        self.publish(department, first).await?;
        Ok(called)
    }

    /// The ticket called to the clerk's desk and not yet finished.
    async fn at_desk(&self, counter: &str, status: &str) -> Result<Row_, QueueError> {
        let sql = format!("SELECT {COLS} FROM tickets t WHERE t.counter_id = $1 AND t.status IN {status}");
        let r = sqlx::query(AssertSqlSafe(sql)).bind(counter).fetch_optional(&self.0.db.pool).await?;
        r.map(|r| row(&r)).transpose()?.ok_or(QueueError::NoTicket)
    }

    /// Calls the desk's ticket again (the no-show timer restarts).
    pub async fn recall(&self, clerk: &Clerk) -> Result<TicketInfo, QueueError> {
        let (counter, _g) = self.hold_desk(clerk).await?;
        let t = self.at_desk(&counter, "('called')").await?;
        let now = now_ms();
        let mut tx = self.0.db.begin_write().await?;
        let n = sqlx::query("UPDATE tickets SET recalls = recalls + 1, called_at = $1, updated_at = $1 WHERE id = $2 AND status = 'called'")
            .bind(now)
            .bind(t.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(QueueError::NoTicket);
        }
        event(&mut tx, t.id, &clerk.actor(), "recalled", serde_json::json!({ "counter": counter }), now).await?;
        tx.commit().await?;
        let mut info = t.info(None, None);
        info.recalls += 1;
        self.publish(&t.department, vec![]).await?;
        Ok(info)
    }

    /// Marks the desk's called ticket as a no-show.
    pub async fn no_show(&self, clerk: &Clerk) -> Result<TicketInfo, QueueError> {
        let (counter, _g) = self.hold_desk(clerk).await?;
        let t = self.at_desk(&counter, "('called')").await?;
        self.finish(&t, "('called')", "no_show", &clerk.actor(), None).await?.ok_or(QueueError::NoTicket)
    }

    /// Finishes the desk's ticket as served.
    pub async fn done(&self, clerk: &Clerk) -> Result<TicketInfo, QueueError> {
        let (counter, _g) = self.hold_desk(clerk).await?;
        let t = self.at_desk(&counter, "('called', 'serving')").await?;
        self.finish(&t, "('called', 'serving')", "served", &clerk.actor(), None).await?.ok_or(QueueError::NoTicket)
    }

    /// Ends ticket `t` as `to` if it is still at its counter in one of the `from` states (and,
    /// with `called_before`, was called before that time). `None` if it no longer is.
    async fn finish(
        &self,
        t: &Row_,
        from: &str,
        to: &str,
        actor: &Actor,
        called_before: Option<i64>,
    ) -> Result<Option<TicketInfo>, QueueError> {
        let now = now_ms();
        let mut tx = self.0.db.begin_write().await?;
        let n = sqlx::query(AssertSqlSafe(format!(
            "UPDATE tickets SET status = '{to}', finished_at = $1, updated_at = $1 WHERE id = $2 AND counter_id = $3 AND status IN {from} AND called_at < $4"
        )))
        .bind(now)
        .bind(t.id)
        .bind(t.counter.as_deref().unwrap_or(""))
        .bind(called_before.unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(None);
        }
        event(&mut tx, t.id, actor, to, serde_json::json!({ "counter": t.counter }), now).await?;
        tx.commit().await?;
        if to == "no_show" {
            crate::metrics::Metrics::add(&self.0.metrics.tickets_no_show_total, 1);
        }
        let mut info = t.info(None, None);
        info.status = TicketStatus::parse(to).unwrap_or(TicketStatus::Served);
        self.publish(&t.department, vec![info.clone()]).await?;
        Ok(Some(info))
    }

    /// Moves a ticket of the clerk's department to another department's queue. It gets that
    /// department's next number but keeps its place by the time it was first taken.
    pub async fn transfer(
        &self,
        clerk: &Clerk,
        ticket: i64,
        to: &str,
        note: Option<&str>,
    ) -> Result<TicketInfo, QueueError> {
        if self.0.office.department(to).is_none() {
            return Err(QueueError::UnknownDepartment);
        }
        let now = now_ms();
        let today = self.today(now);
        let mut tx = self.0.db.begin_write().await?;
        let sql = format!(
            "SELECT {COLS} FROM tickets t WHERE t.id = $1 AND t.department_id = $2 AND t.status IN {ACTIVE}{}",
            self.0.db.for_update()
        );
        let r = sqlx::query(AssertSqlSafe(sql)).bind(ticket).bind(&clerk.department).fetch_optional(&mut *tx).await?;
        let Some(r) = r else { return Err(QueueError::NoTicket) };
        let t = row(&r)?;
        if t.department == to {
            return Err(QueueError::TargetHasTicket);
        }
        let (label, number) = next_number(&mut tx, &self.0.office, to, &today).await?;
        let moved = sqlx::query(
            "UPDATE tickets SET department_id = $1, number = $2, label = $3, status = 'waiting', counter_id = NULL, staff_id = NULL,
             called_at = NULL, arrived_at = NULL, recalls = 0, transferred_from = $4, service_day = $5, updated_at = $6 WHERE id = $7",
        )
        .bind(to)
        .bind(number)
        .bind(&label)
        .bind(&t.department)
        .bind(&today)
        .bind(now)
        .bind(t.id)
        .execute(&mut *tx)
        .await;
        match moved {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(QueueError::TargetHasTicket),
            Err(e) => return Err(e.into()),
        }
        let note: String = note.unwrap_or("").chars().take(500).collect();
        let detail = serde_json::json!({ "from": t.department, "to": to, "old_label": t.label, "new_label": label, "note": note });
        event(&mut tx, t.id, &clerk.actor(), "transferred", detail, now).await?;
        tx.commit().await?;
        tracing::info!(ticket = t.id, from = %t.department, to, "ticket transferred");
        self.publish(&t.department, vec![]).await?;
        let infos = self.publish(to, vec![]).await?;
        infos.into_iter().find(|i| i.id == t.id).ok_or(QueueError::NoTicket)
    }

    /// Ticket events, oldest first, for a ticket of the clerk's department.
    pub async fn events(&self, clerk: &Clerk, ticket: i64) -> Result<Vec<serde_json::Value>, QueueError> {
        let owner = sqlx::query(
            "SELECT department_id FROM tickets WHERE id = $1 AND (department_id = $2 OR transferred_from = $2)",
        )
        .bind(ticket)
        .bind(&clerk.department)
        .fetch_optional(&self.0.db.pool)
        .await?;
        let Some(owner) = owner else { return Err(QueueError::NoTicket) };
        let current: String = owner.try_get(0)?;
        let rows = sqlx::query(
            "SELECT at, actor_kind, actor_id, action, detail FROM ticket_events WHERE ticket_id = $1 ORDER BY id",
        )
        .bind(ticket)
        .fetch_all(&self.0.db.pool)
        .await?;
        let off = self.0.office.utc_offset_min;
        let mut out = Vec::new();
        for r in &rows {
            let detail: String = r.try_get(4)?;
            let detail = serde_json::from_str::<serde_json::Value>(&detail).unwrap_or_default();
            let action: String = r.try_get(3)?;
            let handed_on = action == "transferred" && detail["from"].as_str() == Some(clerk.department.as_str());
            out.push(serde_json::json!({
                "at": local_rfc3339(r.try_get(0)?, off),
                "actor_kind": r.try_get::<String, _>(1)?,
                "actor": r.try_get::<String, _>(2)?,
                "action": action,
                "detail": detail,
            }));
            // A department that handed the ticket on sees its history up to that point only.
            if handed_on && current != clerk.department {
                break;
            }
        }
        Ok(out)
    }

    // ---- the world and the clock ----------------------------------------------------------

    /// A clerk's avatar is at their desk, or not.
    pub fn presence(&self, staff_id: i64, present: bool) {
        if let Some(d) = self.desks().values_mut().find(|d| d.staff_id == staff_id) {
            d.away_since = if present { None } else { d.away_since.or(Some(Instant::now())) };
            if present {
                d.in_world = true;
                d.last_active = Instant::now();
            }
        }
    }

    /// Sends the resident's active tickets to the world (they just joined).
    async fn resend(&self, resident: &str) -> Result<(), QueueError> {
        for info in self.mine(resident).await?.into_iter().filter(|t| t.status.is_active()) {
            let _ = self.0.world.send(WorldNotice::Ticket { resident_id: resident.into(), info });
        }
        Ok(())
    }

    /// Handles one request from the world; refusals go back to the client that asked.
    pub async fn handle(&self, req: QueueRequest) {
        let (client_id, result) = match req {
            QueueRequest::Take { client_id, resident_id, counter } => {
                let Some((_, c)) = self.0.office.counter(&counter) else {
                    let _ = self.0.world.send(WorldNotice::Error {
                        client_id,
                        code: ErrorCode::CounterUnknown,
                        message: format!("no counter \"{counter}\""),
                    });
                    return;
                };
                let dept = c.department.clone();
                let r = self.take(&resident_id, &dept).await;
                if let Err(QueueError::Exists(t)) = &r {
                    let _ = self.0.world.send(WorldNotice::Ticket { resident_id, info: (**t).clone() });
                }
                (client_id, r.map(|_| ()))
            }
            QueueRequest::Cancel { client_id, resident_id, ticket } => {
                (client_id, self.cancel(&resident_id, ticket).await.map(|_| ()))
            }
            QueueRequest::Joined { resident_id } => {
                if let Err(e) = self.resend(&resident_id).await {
                    tracing::warn!(error = %e, "could not send tickets to a joining resident");
                }
                return;
            }
            QueueRequest::Arrived { resident_id, ticket } => {
                let _ = self.arrived(&resident_id, ticket).await;
                return;
            }
            QueueRequest::Presence { staff_id, present } => {
                self.presence(staff_id, present);
                return;
            }
            QueueRequest::Staff { client_id, clerk, command } => {
                let r = match command {
                    StaffCommand::TakeDesk(counter) => self.take_desk(&clerk, &counter).await.map(|_| ()),
                    StaffCommand::LeaveDesk => self.leave_desk(&clerk).await.map(|_| ()),
                    StaffCommand::CallNext => match self.call_next(&clerk).await {
                        Ok(Some(_)) => Ok(()),
                        Ok(None) => Err(QueueError::NoTicket),
                        Err(e) => Err(e),
                    },
                };
                (client_id, r)
            }
        };
        if let Err(e) = result {
            if let QueueError::Db(d) = &e {
                tracing::error!(error = %d, "queue request failed");
            }
            let message = match &e {
                QueueError::Db(_) => "the queue is unavailable; try again".to_string(),
                QueueError::NoTicket => "no ticket is waiting".to_string(),
                other => other.to_string(),
            };
            let _ = self.0.world.send(WorldNotice::Error { client_id, code: e.code(), message });
        }
    }

    /// Once a second: closes desks whose clerk has been away past the grace period, marks
    /// called residents who did not come as no-shows (the desk then calls the next), and
    /// expires active tickets left from earlier days.
    pub async fn tick(&self) -> Result<(), QueueError> {
        let grace = self.0.settings.desk_grace;
        let stale: Vec<(String, &str)> = self
            .desks()
            .iter()
            .filter_map(|(k, d)| {
                if d.away_since.is_some_and(|t| t.elapsed() >= grace) {
                    Some((k.clone(), "clerk away past the grace period"))
                } else if !d.in_world && d.last_active.elapsed() >= CONSOLE_DESK_IDLE {
                    Some((k.clone(), "console desk idle"))
                } else {
                    None
                }
            })
            .collect();
        for (counter, why) in stale {
            tracing::info!(%counter, why, "closing the desk");
            if let Err(e) = self.close_desk(&counter, &Actor::System).await {
                tracing::warn!(error = %e, %counter, "could not close a desk");
            }
        }
        let now = now_ms();
        let deadline = now - self.0.settings.no_show_after.as_millis() as i64;
        let sql = format!("SELECT {COLS} FROM tickets t WHERE t.status = 'called' AND t.called_at < $1");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(deadline).fetch_all(&self.0.db.pool).await?;
        for r in rows {
            let t = row(&r)?;
            if let Err(e) = self.expire_call(&t, deadline).await {
                tracing::warn!(error = %e, ticket = t.id, "no-show timer");
            }
        }
        let today = self.today(now);
        let sql = format!(
            "UPDATE tickets SET status = 'expired', finished_at = $1, updated_at = $1 WHERE status IN {ACTIVE} AND service_day <> $2 RETURNING {}",
            COLS.replace("t.", "")
        );
        let expired = sqlx::query(AssertSqlSafe(sql)).bind(now).bind(&today).fetch_all(&self.0.db.pool).await?;
        if !expired.is_empty() {
            tracing::info!(expired = expired.len(), "expired tickets of earlier days");
            let mut by_dept: HashMap<String, Vec<TicketInfo>> = HashMap::new();
            for r in &expired {
                let mut t = row(r)?;
                t.status = TicketStatus::Expired;
                by_dept.entry(t.department.clone()).or_default().push(t.info(None, None));
            }
            for (dept, ended) in by_dept {
                self.publish(&dept, ended).await?;
            }
        }
        Ok(())
    }

    /// The no-show timer for one called ticket: under its counter's lock, ends it if it is still
    /// called there since before `deadline`, then calls the next ticket if a clerk attends the
    /// desk (an unattended desk does not work through its queue as no-shows).
    async fn expire_call(&self, t: &Row_, deadline: i64) -> Result<(), QueueError> {
        let Some(counter) = t.counter.as_deref() else { return Ok(()) };
        let _g = self.lock_counter(counter).await;
        if self.finish(t, "('called')", "no_show", &Actor::System, Some(deadline)).await?.is_none() {
            return Ok(());
        }
        let holder = {
            let desks = self.desks();
            desks.get(counter).filter(|d| d.attended(self.0.settings.no_show_after)).map(|d| d.staff_id)
        };
        if let (Some(staff_id), Some(dept)) = (holder, self.department_of_counter(counter)) {
            self.call_next_at(counter, staff_id, &Actor::System, &dept).await?;
        }
        Ok(())
    }

    /// Serves the world's requests and runs [`Queues::tick`] once a second, until the world's
    /// side of the channel closes.
    pub fn spawn(&self, rt: &tokio::runtime::Handle, mut requests: mpsc::UnboundedReceiver<QueueRequest>) {
        let q = self.clone();
        rt.spawn(async move {
            while let Some(req) = requests.recv().await {
                let q = q.clone();
                tokio::spawn(async move { q.handle(req).await });
            }
        });
        let q = self.clone();
        rt.spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if let Err(e) = q.tick().await {
                    tracing::warn!(error = %e, "queue timer");
                }
            }
        });
    }
}

/// Seconds of estimated wait for position `pos` with `desks` open desks.
fn wait_s(mean_ms: f64, pos: u32, desks: u32) -> u32 {
    (mean_ms * f64::from(pos) / f64::from(desks.max(1)) / 1000.0).ceil() as u32
}

/// Draws the department's next number for the day: `("A-012", 12)`.
async fn next_number(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    office: &Office,
    department: &str,
    day: &str,
) -> Result<(String, i64), sqlx::Error> {
    let n: i64 = sqlx::query(
        "INSERT INTO ticket_counters (department_id, service_day, last_number) VALUES ($1, $2, 1)
         ON CONFLICT (department_id, service_day) DO UPDATE SET last_number = ticket_counters.last_number + 1
         RETURNING last_number",
    )
    .bind(department)
    .bind(day)
    .fetch_one(&mut **tx)
    .await?
    .try_get(0)?;
    let prefix = office.department(department).map(|d| d.ticket_prefix.as_str()).unwrap_or("?");
    Ok((format!("{prefix}-{n:03}"), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_scale_with_position_and_desks() {
        assert_eq!(wait_s(300_000.0, 1, 1), 300);
        assert_eq!(wait_s(300_000.0, 4, 2), 600);
        assert_eq!(wait_s(1.0, 1, 1), 1);
    }

    #[test]
    fn local_times_carry_the_offset() {
        assert_eq!(local_rfc3339(1_795_654_800_000, 540), "2026-11-26T10:00:00+09:00");
        assert_eq!(local_rfc3339(0, -330), "1969-12-31T18:30:00-05:30");
    }
}
