//! Where consultations live: `consultations`, `consultation_participants`,
//! `consultation_messages`, `consultation_applications` and `consultation_invites`. One constant
//! statement per operation; the service decides when to call them.

use crate::db::{Db, now_ms};
use madoguchi_shared::consult::{ChatLine, Role};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A consultation's row.
/// An application linked to a consultation, as stored.
#[derive(Debug, Clone)]
pub struct LinkedRow {
    pub reference: String,
    pub procedure_id: String,
    pub status: String,
    pub how: String,
    pub form_data: serde_json::Value,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsultationRow {
    pub id: i64,
    pub ticket_id: i64,
    pub ticket_label: String,
    pub resident_id: String,
    pub staff_id: i64,
    pub department: String,
    pub counter: String,
    pub running: bool,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
    pub note: Option<String>,
}

macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT c.id, c.ticket_id, t.label, c.resident_id, c.staff_id, c.department_id, c.counter_id, c.status, c.started_at, c.ended_at, c.end_reason, c.note
             FROM consultations c JOIN tickets t ON t.id = c.ticket_id ",
            $rest
        )
    };
}

const BY_ID: &str = select!("WHERE c.id = $1");
const RUNNING_OF_TICKET: &str = select!("WHERE c.ticket_id = $1 AND c.status = 'running'");
const RUNNING_OF_RESIDENT: &str = select!("WHERE c.resident_id = $1 AND c.status = 'running' ORDER BY c.id DESC");
const RUNNING: &str = select!("WHERE c.status = 'running' ORDER BY c.id");
const INSERT: &str =
    "INSERT INTO consultations (ticket_id, staff_id, resident_id, started_at, department_id, counter_id, status)
     VALUES ($1, $2, $3, $4, $5, $6, 'running') RETURNING id";
const END: &str = "UPDATE consultations SET status = 'ended', ended_at = $1, end_reason = $2, note = COALESCE($3, note)
     WHERE id = $4 AND status = 'running' RETURNING id";
const SET_NOTE: &str = "UPDATE consultations SET note = $1 WHERE id = $2";
const LEAVE_ALL: &str =
    "UPDATE consultation_participants SET left_at = $1 WHERE consultation_id = $2 AND left_at IS NULL";
const JOIN: &str = "INSERT INTO consultation_participants (consultation_id, role, principal, display_name, joined_at)
     VALUES ($1, $2, $3, $4, $5) RETURNING id";
const LEAVE: &str = "UPDATE consultation_participants SET left_at = $1 WHERE id = $2 AND left_at IS NULL";
const PARTICIPATIONS: &str = "SELECT role, principal, display_name, joined_at, left_at FROM consultation_participants
     WHERE consultation_id = $1 ORDER BY id";
const CHAT: &str =
    "INSERT INTO consultation_messages (consultation_id, at, role, display_name, body) VALUES ($1, $2, $3, $4, $5)";
const RECENT_CHAT: &str = "SELECT role, display_name, body, at FROM consultation_messages
     WHERE consultation_id = $1 ORDER BY id DESC LIMIT $2";
const LINKED: &str =
    "SELECT a.reference, a.procedure_id, a.status, l.how, a.form_data, a.status_note FROM consultation_applications l
     JOIN applications a ON a.id = l.application_id WHERE l.consultation_id = $1 ORDER BY l.linked_at, a.id";
const RUNNING_WITH_APPLICATION: &str = "SELECT c.id FROM consultations c
     JOIN consultation_applications l ON l.consultation_id = c.id
     JOIN applications a ON a.id = l.application_id
     WHERE a.reference = $1 AND c.status = 'running'";
const IS_LINKED: &str = "SELECT 1 FROM consultation_applications l JOIN applications a ON a.id = l.application_id
     WHERE l.consultation_id = $1 AND a.reference = $2";
const INVITE: &str =
    "INSERT INTO consultation_invites (consultation_id, code_hash, kind, created_by, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6)";
const REDEEM: &str = "UPDATE consultation_invites SET used_at = $1
     WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING consultation_id, kind";
const INVITE_TARGET: &str =
    "SELECT consultation_id FROM consultation_invites WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2";
const OPEN_INVITES: &str =
    "SELECT COUNT(*) FROM consultation_invites WHERE consultation_id = $1 AND used_at IS NULL AND expires_at > $2";

/// One participation, for the record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Participation {
    pub role: String,
    pub principal: String,
    pub name: String,
    pub joined_at: i64,
    pub left_at: Option<i64>,
}

/// The consultation tables.
#[derive(Clone)]
pub struct ConsultStore {
    db: Db,
}

impl ConsultationRow {
    fn read(r: &AnyRow) -> Result<ConsultationRow, sqlx::Error> {
        let status: String = r.try_get(7)?;
        Ok(ConsultationRow {
            id: r.try_get(0)?,
            ticket_id: r.try_get(1)?,
            ticket_label: r.try_get(2)?,
            resident_id: r.try_get(3)?,
            staff_id: r.try_get(4)?,
            department: r.try_get(5)?,
            counter: r.try_get(6)?,
            running: status == "running",
            started_at: r.try_get(8)?,
            ended_at: r.try_get(9)?,
            end_reason: r.try_get(10)?,
            note: r.try_get(11)?,
        })
    }
}

impl ConsultStore {
    pub fn new(db: Db) -> ConsultStore {
        ConsultStore { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub async fn get(&self, id: i64) -> Result<Option<ConsultationRow>, sqlx::Error> {
        sqlx::query(BY_ID).bind(id).fetch_optional(&self.db.pool).await?.as_ref().map(ConsultationRow::read).transpose()
    }

    pub async fn running_of_resident(&self, resident: &str) -> Result<Option<ConsultationRow>, sqlx::Error> {
        sqlx::query(RUNNING_OF_RESIDENT)
            .bind(resident)
            .fetch_optional(&self.db.pool)
            .await?
            .as_ref()
            .map(ConsultationRow::read)
            .transpose()
    }

    pub async fn running(&self) -> Result<Vec<ConsultationRow>, sqlx::Error> {
        sqlx::query(RUNNING).fetch_all(&self.db.pool).await?.iter().map(ConsultationRow::read).collect()
    }

    /// Starts a consultation for the ticket at a desk; the running one if there is one already
    /// (a second "accept" is not a second consultation). `(row, created)`.
    pub async fn start(
        &self,
        ticket_id: i64,
        staff_id: i64,
        resident: &str,
        department: &str,
        counter: &str,
    ) -> Result<(ConsultationRow, bool), sqlx::Error> {
        let mut tx = self.db.begin_write().await?;
        if let Some(r) = sqlx::query(RUNNING_OF_TICKET).bind(ticket_id).fetch_optional(&mut *tx).await? {
            return Ok((ConsultationRow::read(&r)?, false));
        }
        let id: i64 = sqlx::query(INSERT)
            .bind(ticket_id)
            .bind(staff_id)
            .bind(resident)
            .bind(now_ms())
            .bind(department)
            .bind(counter)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let row = ConsultationRow::read(&sqlx::query(BY_ID).bind(id).fetch_one(&mut *tx).await?)?;
        tx.commit().await?;
        Ok((row, true))
    }

    /// Ends a running consultation (and every participation still open). False if it was not
    /// running.
    pub async fn end(&self, id: i64, reason: &str, note: Option<&str>) -> Result<bool, sqlx::Error> {
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        let ended =
            sqlx::query(END).bind(now).bind(reason).bind(note).bind(id).fetch_optional(&mut *tx).await?.is_some();
        if ended {
            sqlx::query(LEAVE_ALL).bind(now).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(ended)
    }

    pub async fn set_note(&self, id: i64, note: &str) -> Result<(), sqlx::Error> {
        sqlx::query(SET_NOTE).bind(note).bind(id).execute(&self.db.pool).await?;
        Ok(())
    }

    /// Records that someone joined; the participation's id, for [`ConsultStore::leave`].
    pub async fn join(&self, id: i64, role: Role, principal: &str, name: &str) -> Result<i64, sqlx::Error> {
        sqlx::query(JOIN)
            .bind(id)
            .bind(role.as_str())
            .bind(principal)
            .bind(name)
            .bind(now_ms())
            .fetch_one(&self.db.pool)
            .await?
            .try_get(0)
    }

    pub async fn leave(&self, participation: i64) -> Result<(), sqlx::Error> {
        sqlx::query(LEAVE).bind(now_ms()).bind(participation).execute(&self.db.pool).await?;
        Ok(())
    }

    pub async fn participations(&self, id: i64) -> Result<Vec<Participation>, sqlx::Error> {
        sqlx::query(PARTICIPATIONS)
            .bind(id)
            .fetch_all(&self.db.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(Participation {
                    role: r.try_get(0)?,
                    principal: r.try_get(1)?,
                    name: r.try_get(2)?,
                    joined_at: r.try_get(3)?,
                    left_at: r.try_get(4)?,
                })
            })
            .collect()
    }

    pub async fn chat(&self, id: i64, line: &ChatLine) -> Result<(), sqlx::Error> {
        sqlx::query(CHAT)
            .bind(id)
            .bind(line.at)
            .bind(line.role.as_str())
            .bind(&line.name)
            .bind(&line.text)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// The newest `limit` chat lines, oldest first.
    pub async fn recent_chat(&self, id: i64, limit: i64) -> Result<Vec<ChatLine>, sqlx::Error> {
        let mut lines = sqlx::query(RECENT_CHAT)
            .bind(id)
            .bind(limit)
            .fetch_all(&self.db.pool)
            .await?
            .iter()
            .map(|r| {
                let role: String = r.try_get(0)?;
                Ok(ChatLine {
                    role: Role::parse(&role).unwrap_or(Role::Clerk),
                    name: r.try_get(1)?,
                    text: r.try_get(2)?,
                    at: r.try_get(3)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        lines.reverse();
        Ok(lines)
    }

    /// Links an application; false if it already was.
    pub async fn linked(&self, id: i64) -> Result<Vec<LinkedRow>, sqlx::Error> {
        sqlx::query(LINKED)
            .bind(id)
            .fetch_all(&self.db.pool)
            .await?
            .iter()
            .map(|r| {
                let form: String = r.try_get(4)?;
                Ok(LinkedRow {
                    reference: r.try_get(0)?,
                    procedure_id: r.try_get(1)?,
                    status: r.try_get(2)?,
                    how: r.try_get(3)?,
                    form_data: serde_json::from_str(&form).unwrap_or_default(),
                    note: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// Running consultations an application is linked to.
    pub async fn running_with_application(&self, reference: &str) -> Result<Vec<i64>, sqlx::Error> {
        let rows = sqlx::query(RUNNING_WITH_APPLICATION).bind(reference).fetch_all(&self.db.pool).await?;
        rows.iter().map(|r| r.try_get(0)).collect()
    }

    /// Whether an application is linked to a consultation.
    pub async fn is_linked(&self, id: i64, reference: &str) -> Result<bool, sqlx::Error> {
        Ok(sqlx::query(IS_LINKED).bind(id).bind(reference).fetch_optional(&self.db.pool).await?.is_some())
    }

    pub async fn invite(
        &self,
        id: i64,
        code_hash: &str,
        kind: &str,
        staff_id: i64,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(INVITE)
            .bind(id)
            .bind(code_hash)
            .bind(kind)
            .bind(staff_id)
            .bind(now_ms())
            .bind(expires_at)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// Uses an invitation code once: its consultation and kind, if it was valid and unused.
    pub async fn redeem(&self, code_hash: &str) -> Result<Option<(i64, String)>, sqlx::Error> {
        let mut tx = self.db.begin_write().await?;
        let r = sqlx::query(REDEEM).bind(now_ms()).bind(code_hash).fetch_optional(&mut *tx).await?;
        let out = r.map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?))).transpose()?;
        tx.commit().await?;
        Ok(out)
    }

    /// The consultation an unused, unexpired code is for, without using it.
    pub async fn invite_target(&self, code_hash: &str) -> Result<Option<i64>, sqlx::Error> {
        let r = sqlx::query(INVITE_TARGET).bind(code_hash).bind(now_ms()).fetch_optional(&self.db.pool).await?;
        r.map(|r| r.try_get(0)).transpose()
    }

    pub async fn open_invites(&self, id: i64) -> Result<i64, sqlx::Error> {
        sqlx::query(OPEN_INVITES).bind(id).bind(now_ms()).fetch_one(&self.db.pool).await?.try_get(0)
    }
}
