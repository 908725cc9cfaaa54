//! Where tickets live: the `tickets`, `ticket_counters` and `ticket_events` tables. One
//! constant statement per operation (the two that lock rows come per dialect, see
//! [`crate::db::Dialects`]); the service above decides when to call them and in which
//! transaction.

use crate::db::{Db, Dialects, for_update, skip_locked};
use crate::records::audit::Actor;
use madoguchi_shared::protocol::{TicketInfo, TicketStatus};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

/// A write transaction.
pub type Tx = Transaction<'static, Any>;

/// The columns of a ticket row, in the order [`TicketRow::read`] takes them.
macro_rules! cols {
    () => {
        "id, department_id, resident_id, label, status, queued_at, counter_id, recalls, transferred_from, called_at"
    };
}
/// `select!("WHERE …")`: ticket rows of `tickets` that match.
macro_rules! select {
    ($rest:literal) => {
        concat!("SELECT ", cols!(), " FROM tickets ", $rest)
    };
}
/// `returning!("UPDATE tickets …")`: the statement, answering with the ticket rows it changed.
macro_rules! returning {
    ($sql:literal) => {
        concat!($sql, " RETURNING ", cols!())
    };
}
/// The same columns of `tickets t`, for statements that join another table.
macro_rules! t_cols {
    () => {
        "t.id, t.department_id, t.resident_id, t.label, t.status, t.queued_at, t.counter_id, t.recalls, t.transferred_from, t.called_at"
    };
}

const ACTIVE_OF_RESIDENT: &str = select!(
    "WHERE resident_id = $1 AND department_id = $2 AND status IN ('waiting', 'called', 'serving') AND service_day = $3"
);
const EXPIRE_EARLIER_OF_RESIDENT: &str = "UPDATE tickets SET status = 'expired', finished_at = $1, updated_at = $1 WHERE resident_id = $2 AND department_id = $3 AND status IN ('waiting', 'called', 'serving') AND service_day <> $4";
const NEXT_NUMBER: &str = "INSERT INTO ticket_counters (department_id, service_day, last_number) VALUES ($1, $2, 1)
     ON CONFLICT (department_id, service_day) DO UPDATE SET last_number = ticket_counters.last_number + 1
     RETURNING last_number";
const INSERT: &str = "INSERT INTO tickets (department_id, resident_id, service_day, number, status, created_at, label, queued_at, updated_at)
     VALUES ($1, $2, $3, $4, 'waiting', $5, $6, $5, $5) RETURNING id";
const INSERT_EVENT: &str =
    "INSERT INTO ticket_events (ticket_id, at, actor_kind, actor_id, action, detail) VALUES ($1, $2, $3, $4, $5, $6)";
const OF_RESIDENT_TODAY: &str = select!("WHERE resident_id = $1 AND service_day = $2 ORDER BY id DESC LIMIT 50");
const POSITION: &str = "SELECT COUNT(*) FROM tickets WHERE department_id = $1 AND status = 'waiting' AND (queued_at < $2 OR (queued_at = $2 AND id <= $3))";
/// Real services only (see `END_AT_DESK_AS_SERVED`): a restart or a closing desk, or a clerk's
/// "done" for a resident who never arrived, leaves `service_ms` NULL.
const SERVICE_TIMES: &str = "SELECT service_ms FROM tickets WHERE department_id = $1 AND service_ms IS NOT NULL AND finished_at > $2 ORDER BY finished_at DESC LIMIT $3";
const ACTIVE_OF_DEPARTMENT: &str = select!(
    "WHERE department_id = $1 AND status IN ('waiting', 'called', 'serving') AND service_day = $2 ORDER BY queued_at, id"
);
const WAITING_COUNTS: &str =
    "SELECT department_id, COUNT(*) FROM tickets WHERE status = 'waiting' AND service_day = $1 GROUP BY department_id";
const STATUS: &str = "SELECT status FROM tickets WHERE id = $1";
const OWNER: &str = "SELECT resident_id FROM tickets WHERE id = $1";
const CANCEL: &str = returning!(
    "UPDATE tickets SET status = 'cancelled', finished_at = $1, updated_at = $1 WHERE id = $2 AND resident_id = $3 AND status IN ('waiting', 'called', 'serving')"
);
const ARRIVE: &str = returning!(
    "UPDATE tickets SET status = 'serving', arrived_at = $1, updated_at = $1 WHERE id = $2 AND resident_id = $3 AND status = 'called'"
);
const AT_DESKS_WITH_NAMES: &str = concat!(
    "SELECT ",
    t_cols!(),
    ", r.display_name, r.locale, r.identity_level, r.verified_name FROM tickets t JOIN residents r ON r.id = t.resident_id WHERE t.status IN ('called', 'serving') AND t.service_day = $1"
);
const WAITING_WITH_NAMES: &str = concat!(
    "SELECT ",
    t_cols!(),
    ", r.display_name, r.locale, r.identity_level, r.verified_name FROM tickets t JOIN residents r ON r.id = t.resident_id WHERE t.department_id = $1 AND t.status = 'waiting' AND t.service_day = $2 ORDER BY t.queued_at, t.id LIMIT 500"
);
/// Who holds a ticket, as a clerk sees them: the name they gave, their language, and whether
/// an identity provider vouched for them (with the name it vouches for).
#[derive(Debug, Clone)]
pub struct Holder {
    pub name: String,
    pub language: String,
    pub verified: bool,
    pub verified_name: Option<String>,
}

impl Holder {
    /// From the columns after a ticket's (10..=13).
    fn read(r: &AnyRow) -> Result<Holder, sqlx::Error> {
        let level: String = r.try_get(12)?;
        Ok(Holder {
            name: r.try_get(10)?,
            language: r.try_get(11)?,
            verified: level == "verified",
            verified_name: r.try_get(13)?,
        })
    }
}

const COUNTERS_IN_USE: &str =
    "SELECT DISTINCT counter_id FROM tickets WHERE status IN ('called', 'serving') AND counter_id IS NOT NULL";
const CALLED_AT: &str = select!("WHERE counter_id = $1 AND status = 'called'");
const AT_COUNTER: &str = select!("WHERE counter_id = $1 AND status IN ('called', 'serving')");
const REQUEUE: &str = "UPDATE tickets SET status = 'waiting', counter_id = NULL, staff_id = NULL, called_at = NULL, updated_at = $1 WHERE id = $2";
const SERVE: &str = "UPDATE tickets SET status = 'served', finished_at = $1, updated_at = $1 WHERE id = $2";
const FINISH_SERVING_AT: &str = returning!(
    "UPDATE tickets SET status = 'served', finished_at = $1, updated_at = $1, service_ms = $1 - called_at WHERE counter_id = $2 AND status = 'serving'"
);
const NO_SHOW_CALLED_AT: &str = returning!(
    "UPDATE tickets SET status = 'no_show', finished_at = $1, updated_at = $1 WHERE counter_id = $2 AND status = 'called'"
);
/// The department's longest-waiting ticket, called to a desk; on PostgreSQL a row another
/// transaction is calling is passed over, so two desks never get the same ticket.
const CALL_OLDEST: Dialects = skip_locked!(
    [
        "UPDATE tickets SET status = 'called', counter_id = $1, staff_id = $2, called_at = $3, updated_at = $3
         WHERE status = 'waiting' AND id = (SELECT id FROM tickets WHERE department_id = $4 AND status = 'waiting' AND service_day = $5 ORDER BY queued_at, id LIMIT 1"
    ],
    [") RETURNING ", cols!()]
);
const RECALL: &str =
    "UPDATE tickets SET recalls = recalls + 1, called_at = $1, updated_at = $1 WHERE id = $2 AND status = 'called'";
const END_CALLED_AS_NO_SHOW: &str = "UPDATE tickets SET status = 'no_show', finished_at = $1, updated_at = $1 WHERE id = $2 AND counter_id = $3 AND status = 'called' AND called_at < $4";
/// A clerk's "done": a real service (its time counts for the wait estimate) only if the resident
/// arrived.
const END_AT_DESK_AS_SERVED: &str = "UPDATE tickets SET status = 'served', finished_at = $1, updated_at = $1,
     service_ms = CASE WHEN status = 'serving' THEN $1 - called_at END
     WHERE id = $2 AND counter_id = $3 AND status IN ('called', 'serving') AND called_at < $4";
const ACTIVE_OF_DEPARTMENT_LOCKED: Dialects = for_update!(
    "SELECT ",
    cols!(),
    " FROM tickets WHERE id = $1 AND department_id = $2 AND status IN ('waiting', 'called', 'serving')"
);
const MOVE: &str = "UPDATE tickets SET department_id = $1, number = $2, label = $3, status = 'waiting', counter_id = NULL, staff_id = NULL,
     called_at = NULL, arrived_at = NULL, recalls = 0, transferred_from = $4, service_day = $5, updated_at = $6 WHERE id = $7";
const DEPARTMENT_IF_SEEN_BY: &str =
    "SELECT department_id FROM tickets WHERE id = $1 AND (department_id = $2 OR transferred_from = $2)";
const EVENTS: &str =
    "SELECT at, actor_kind, actor_id, action, detail FROM ticket_events WHERE ticket_id = $1 ORDER BY id";
/// Waiting or called tickets whose resident has no live session left ($1: now; $2: the oldest
/// `last_seen_at` of a live session), a batch at a time.
const ORPHANED: &str = select!(
    "WHERE status IN ('waiting', 'called') AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.principal_kind = 'resident' AND s.principal_id = tickets.resident_id AND s.expires_at > $1 AND s.last_seen_at > $2) ORDER BY id LIMIT 200"
);
/// How many rows [`ORPHANED`] returns at most.
pub const ORPHANED_BATCH: usize = 200;
const CALLED_BEFORE: &str = select!("WHERE status = 'called' AND called_at < $1");
const EXPIRE_EARLIER_DAYS: &str = returning!(
    "UPDATE tickets SET status = 'expired', finished_at = $1, updated_at = $1 WHERE status IN ('waiting', 'called', 'serving') AND service_day <> $2"
);

/// A ticket row.
#[derive(Debug, Clone)]
pub struct TicketRow {
    pub id: i64,
    pub department: String,
    pub resident: String,
    pub label: String,
    pub status: TicketStatus,
    pub queued_at: i64,
    pub counter: Option<String>,
    pub recalls: i64,
    pub transferred_from: Option<String>,
}

impl TicketRow {
    fn read(r: &AnyRow) -> Result<TicketRow, sqlx::Error> {
        let status: String = r.try_get(4)?;
        Ok(TicketRow {
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

    fn read_opt(r: Option<AnyRow>) -> Result<Option<TicketRow>, sqlx::Error> {
        r.as_ref().map(TicketRow::read).transpose()
    }

    fn read_all(rows: &[AnyRow]) -> Result<Vec<TicketRow>, sqlx::Error> {
        rows.iter().map(TicketRow::read).collect()
    }

    /// The ticket as residents see it.
    pub fn info(&self, position: Option<u32>, wait_s: Option<u32>) -> TicketInfo {
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

/// How a ticket at a desk ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// A called resident who did not come.
    NoShow,
    /// Called or being served, and done.
    Served,
}

impl Ending {
    pub fn status(self) -> TicketStatus {
        match self {
            Ending::NoShow => TicketStatus::NoShow,
            Ending::Served => TicketStatus::Served,
        }
    }
}

/// One ticket event as stored.
pub struct EventRow {
    pub at: i64,
    pub actor_kind: String,
    pub actor: String,
    pub action: String,
    pub detail: String,
}

/// The tickets tables.
#[derive(Clone)]
pub struct TicketStore {
    db: Db,
}

impl TicketStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.db.begin_write().await
    }

    /// The resident's active ticket of `day` in `department`, if any.
    pub async fn active_of_resident(
        &self,
        tx: &mut Tx,
        resident: &str,
        department: &str,
        day: &str,
    ) -> Result<Option<TicketRow>, sqlx::Error> {
        TicketRow::read_opt(
            sqlx::query(ACTIVE_OF_RESIDENT).bind(resident).bind(department).bind(day).fetch_optional(&mut **tx).await?,
        )
    }

    /// Ends the resident's active tickets in `department` left from days other than `day`.
    pub async fn expire_earlier_of_resident(
        &self,
        tx: &mut Tx,
        resident: &str,
        department: &str,
        day: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(EXPIRE_EARLIER_OF_RESIDENT)
            .bind(now)
            .bind(resident)
            .bind(department)
            .bind(day)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Draws the department's next number of `day`.
    pub async fn next_number(&self, tx: &mut Tx, department: &str, day: &str) -> Result<i64, sqlx::Error> {
        sqlx::query(NEXT_NUMBER).bind(department).bind(day).fetch_one(&mut **tx).await?.try_get(0)
    }

    /// A new waiting ticket; its id. A unique violation means the resident already holds one.
    pub async fn insert(
        &self,
        tx: &mut Tx,
        department: &str,
        resident: &str,
        day: &str,
        number: i64,
        label: &str,
        now: i64,
    ) -> Result<i64, sqlx::Error> {
        sqlx::query(INSERT)
            .bind(department)
            .bind(resident)
            .bind(day)
            .bind(number)
            .bind(now)
            .bind(label)
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)
    }

    /// Appends a ticket event, in the transaction of the change it records.
    pub async fn event(
        &self,
        tx: &mut Tx,
        ticket: i64,
        actor: &Actor,
        action: &str,
        detail: serde_json::Value,
        at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(INSERT_EVENT)
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

    /// The resident's tickets of `day`, newest first (at most 50).
    pub async fn of_resident(&self, resident: &str, day: &str) -> Result<Vec<TicketRow>, sqlx::Error> {
        TicketRow::read_all(&sqlx::query(OF_RESIDENT_TODAY).bind(resident).bind(day).fetch_all(&self.db.pool).await?)
    }

    /// A waiting ticket's place in its queue, from 1.
    pub async fn position(&self, t: &TicketRow) -> Result<u32, sqlx::Error> {
        let n: i64 = sqlx::query(POSITION)
            .bind(&t.department)
            .bind(t.queued_at)
            .bind(t.id)
            .fetch_one(&self.db.pool)
            .await?
            .try_get(0)?;
        Ok(n.max(1) as u32)
    }

    /// Service times (call to finish, ms) of the department's latest served tickets finished
    /// after `since`, newest first.
    pub async fn service_times(&self, department: &str, since: i64, limit: i64) -> Result<Vec<i64>, sqlx::Error> {
        let rows = sqlx::query(SERVICE_TIMES).bind(department).bind(since).bind(limit).fetch_all(&self.db.pool).await?;
        Ok(rows.iter().filter_map(|r| r.try_get::<i64, _>(0).ok()).collect())
    }

    /// The department's active tickets of `day`, in calling order.
    pub async fn active_of_department(&self, department: &str, day: &str) -> Result<Vec<TicketRow>, sqlx::Error> {
        TicketRow::read_all(
            &sqlx::query(ACTIVE_OF_DEPARTMENT).bind(department).bind(day).fetch_all(&self.db.pool).await?,
        )
    }

    /// How many wait in each department on `day`.
    pub async fn waiting_counts(&self, day: &str) -> Result<Vec<(String, i64)>, sqlx::Error> {
        let rows = sqlx::query(WAITING_COUNTS).bind(day).fetch_all(&self.db.pool).await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    /// A ticket's status.
    pub async fn status(&self, ticket: i64) -> Result<Option<TicketStatus>, sqlx::Error> {
        let s: Option<String> =
            sqlx::query(STATUS).bind(ticket).fetch_optional(&self.db.pool).await?.map(|r| r.try_get(0)).transpose()?;
        Ok(s.and_then(|s| TicketStatus::parse(&s)))
    }

    /// The resident who holds a ticket.
    pub async fn owner(&self, ticket: i64) -> Result<Option<String>, sqlx::Error> {
        sqlx::query(OWNER).bind(ticket).fetch_optional(&self.db.pool).await?.map(|r| r.try_get(0)).transpose()
    }

    /// Ends one of the resident's own active tickets; the row, or `None` if there is no such.
    pub async fn cancel(
        &self,
        tx: &mut Tx,
        resident: &str,
        ticket: i64,
        now: i64,
    ) -> Result<Option<TicketRow>, sqlx::Error> {
        Self::residents_own(tx, CANCEL, resident, ticket, now).await
    }

    /// Marks the resident's called ticket as being served (they reached the desk).
    pub async fn arrive(
        &self,
        tx: &mut Tx,
        resident: &str,
        ticket: i64,
        now: i64,
    ) -> Result<Option<TicketRow>, sqlx::Error> {
        Self::residents_own(tx, ARRIVE, resident, ticket, now).await
    }

    /// Runs `sql` (`$1` now, `$2` ticket, `$3` resident) on one of the resident's own tickets.
    async fn residents_own(
        tx: &mut Tx,
        sql: &'static str,
        resident: &str,
        ticket: i64,
        now: i64,
    ) -> Result<Option<TicketRow>, sqlx::Error> {
        TicketRow::read_opt(sqlx::query(sql).bind(now).bind(ticket).bind(resident).fetch_optional(&mut **tx).await?)
    }

    /// Tickets called or being served at a desk on `day`, with who holds them.
    pub async fn at_desks_with_names(&self, day: &str) -> Result<Vec<(TicketRow, Holder)>, sqlx::Error> {
        let rows = sqlx::query(AT_DESKS_WITH_NAMES).bind(day).fetch_all(&self.db.pool).await?;
        rows.iter().map(|r| Ok((TicketRow::read(r)?, Holder::read(r)?))).collect()
    }

    /// The department's waiting tickets of `day` in calling order (at most 500), with names
    /// and languages.
    pub async fn waiting_with_names(
        &self,
        department: &str,
        day: &str,
    ) -> Result<Vec<(TicketRow, Holder)>, sqlx::Error> {
        let rows = sqlx::query(WAITING_WITH_NAMES).bind(department).bind(day).fetch_all(&self.db.pool).await?;
        rows.iter().map(|r| Ok((TicketRow::read(r)?, Holder::read(r)?))).collect()
    }

    /// Counters with a ticket called or being served at them.
    pub async fn counters_in_use(&self) -> Result<Vec<String>, sqlx::Error> {
        let rows = sqlx::query(COUNTERS_IN_USE).fetch_all(&self.db.pool).await?;
        rows.iter().map(|r| r.try_get(0)).collect()
    }

    /// The ticket called to `counter` and not yet there.
    pub async fn called_at(&self, counter: &str) -> Result<Option<TicketRow>, sqlx::Error> {
        TicketRow::read_opt(sqlx::query(CALLED_AT).bind(counter).fetch_optional(&self.db.pool).await?)
    }

    /// The ticket called to or being served at `counter`.
    pub async fn at_counter(&self, counter: &str) -> Result<Option<TicketRow>, sqlx::Error> {
        TicketRow::read_opt(sqlx::query(AT_COUNTER).bind(counter).fetch_optional(&self.db.pool).await?)
    }

    /// Every ticket called to or being served at `counter`, in a transaction.
    pub async fn at_counter_in(&self, tx: &mut Tx, counter: &str) -> Result<Vec<TicketRow>, sqlx::Error> {
        TicketRow::read_all(&sqlx::query(AT_COUNTER).bind(counter).fetch_all(&mut **tx).await?)
    }

    /// Puts a called ticket back in the queue (it keeps its time, so it is next).
    pub async fn requeue(&self, tx: &mut Tx, ticket: i64, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query(REQUEUE).bind(now).bind(ticket).execute(&mut **tx).await?;
        Ok(())
    }

    /// Finishes a ticket as served.
    pub async fn serve(&self, tx: &mut Tx, ticket: i64, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query(SERVE).bind(now).bind(ticket).execute(&mut **tx).await?;
        Ok(())
    }

    /// Ends what `counter` was doing before it calls the next: a ticket being served is served,
    /// a called one is a no-show. The ended rows, served first.
    pub async fn clear_counter(&self, tx: &mut Tx, counter: &str, now: i64) -> Result<Vec<TicketRow>, sqlx::Error> {
        let mut out =
            TicketRow::read_all(&sqlx::query(FINISH_SERVING_AT).bind(now).bind(counter).fetch_all(&mut **tx).await?)?;
        out.extend(TicketRow::read_all(
            &sqlx::query(NO_SHOW_CALLED_AT).bind(now).bind(counter).fetch_all(&mut **tx).await?,
        )?);
        Ok(out)
    }

    /// Calls the department's longest-waiting ticket of `day` to `counter`.
    pub async fn call_oldest(
        &self,
        tx: &mut Tx,
        counter: &str,
        staff_id: i64,
        department: &str,
        day: &str,
        now: i64,
    ) -> Result<Option<TicketRow>, sqlx::Error> {
        TicketRow::read_opt(
            sqlx::query(self.db.pick(CALL_OLDEST))
                .bind(counter)
                .bind(staff_id)
                .bind(now)
                .bind(department)
                .bind(day)
                .fetch_optional(&mut **tx)
                .await?,
        )
    }

    /// Calls a called ticket again (its no-show time starts over). False if it is no longer
    /// called.
    pub async fn recall(&self, tx: &mut Tx, ticket: i64, now: i64) -> Result<bool, sqlx::Error> {
        Ok(sqlx::query(RECALL).bind(now).bind(ticket).execute(&mut **tx).await?.rows_affected() > 0)
    }

    /// Ends ticket `t` at its counter as `how`, if it is still there in a state that allows it
    /// and was called before `called_before`. False if it no longer is.
    pub async fn end_at_counter(
        &self,
        tx: &mut Tx,
        t: &TicketRow,
        how: Ending,
        called_before: i64,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let sql = match how {
            Ending::NoShow => END_CALLED_AS_NO_SHOW,
            Ending::Served => END_AT_DESK_AS_SERVED,
        };
        let n = sqlx::query(sql)
            .bind(now)
            .bind(t.id)
            .bind(t.counter.as_deref().unwrap_or(""))
            .bind(called_before)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// An active ticket of `department`, locked until the transaction ends.
    pub async fn lock_active_of_department(
        &self,
        tx: &mut Tx,
        ticket: i64,
        department: &str,
    ) -> Result<Option<TicketRow>, sqlx::Error> {
        TicketRow::read_opt(
            sqlx::query(self.db.pick(ACTIVE_OF_DEPARTMENT_LOCKED))
                .bind(ticket)
                .bind(department)
                .fetch_optional(&mut **tx)
                .await?,
        )
    }

    /// Moves a ticket to another department's queue under a new number and label, waiting.
    #[allow(clippy::too_many_arguments)]
    pub async fn move_to(
        &self,
        tx: &mut Tx,
        t: &TicketRow,
        to: &str,
        number: i64,
        label: &str,
        day: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(MOVE)
            .bind(to)
            .bind(number)
            .bind(label)
            .bind(&t.department)
            .bind(day)
            .bind(now)
            .bind(t.id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// The ticket's current department, if `department` holds it or handed it on.
    pub async fn department_if_seen_by(&self, ticket: i64, department: &str) -> Result<Option<String>, sqlx::Error> {
        let r = sqlx::query(DEPARTMENT_IF_SEEN_BY).bind(ticket).bind(department).fetch_optional(&self.db.pool).await?;
        r.map(|r| r.try_get(0)).transpose()
    }

    /// A ticket's events, oldest first.
    pub async fn events(&self, ticket: i64) -> Result<Vec<EventRow>, sqlx::Error> {
        let rows = sqlx::query(EVENTS).bind(ticket).fetch_all(&self.db.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(EventRow {
                    at: r.try_get(0)?,
                    actor_kind: r.try_get(1)?,
                    actor: r.try_get(2)?,
                    action: r.try_get(3)?,
                    detail: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Tickets called before `deadline` and still waiting for their resident.
    pub async fn called_before(&self, deadline: i64) -> Result<Vec<TicketRow>, sqlx::Error> {
        TicketRow::read_all(&sqlx::query(CALLED_BEFORE).bind(deadline).fetch_all(&self.db.pool).await?)
    }

    /// Waiting or called tickets whose resident has no session live at `now` (idle since
    /// before `idle_since`, expired, or gone); at most [`ORPHANED_BATCH`].
    pub async fn orphaned(&self, now: i64, idle_since: i64) -> Result<Vec<TicketRow>, sqlx::Error> {
        TicketRow::read_all(&sqlx::query(ORPHANED).bind(now).bind(idle_since).fetch_all(&self.db.pool).await?)
    }

    /// Ends every active ticket left from a day other than `day`; the ended rows.
    pub async fn expire_earlier_days(&self, day: &str, now: i64) -> Result<Vec<TicketRow>, sqlx::Error> {
        TicketRow::read_all(&sqlx::query(EXPIRE_EARLIER_DAYS).bind(now).bind(day).fetch_all(&self.db.pool).await?)
    }
}

/// Whether a statement failed on a unique index (a resident's second active ticket).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| d.is_unique_violation())
}
