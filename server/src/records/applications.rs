//! Applications: the records a consultation produces. Their lifecycle, their reference
//! numbers, who may see and change which, and the audit event every change writes in the same
//! transaction.
//!
//! Authorization is part of every query: a resident's queries are scoped to their resident id,
//! a clerk's to their department. A record outside that scope is indistinguishable from one
//! that does not exist.

use super::audit::{self, Actor, GENESIS};
use super::catalog::{Catalog, FieldError};
use crate::db::{Db, now_ms};
use crate::db::{Dialects, for_update};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Where an application is in its life (the API's `Status`).
pub use madoguchi_shared::api::ApplicationStatus as Status;
/// An application as the API shows it.
pub use madoguchi_shared::api::ApplicationView;

/// Whether form data may still change in this state, by this actor.
fn editable_by(status: Status, actor: &Actor) -> bool {
    match actor {
        Actor::Resident { .. } => matches!(status, Status::Draft | Status::NeedsInfo),
        Actor::Staff { .. } | Actor::System => !status.is_final(),
    }
}

/// Who may move an application: the resident it belongs to, or staff of its department.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mover {
    Resident,
    Staff,
}

impl Mover {
    fn of(actor: &Actor) -> Option<Mover> {
        match actor {
            Actor::Resident { .. } => Some(Mover::Resident),
            Actor::Staff { .. } => Some(Mover::Staff),
            Actor::System => None,
        }
    }
}

/// The lifecycle: draft → submitted → in_review → needs_info ⇄ submitted → approved | rejected,
/// and withdrawn by the resident from any state that is not final. Who may make each move.
pub fn transition_allowed(mover: Mover, from: Status, to: Status) -> bool {
    use Status::*;
    match mover {
        Mover::Resident => matches!(
            (from, to),
            (Draft, Submitted) | (NeedsInfo, Submitted) | (Draft | Submitted | InReview | NeedsInfo, Withdrawn)
        ),
        Mover::Staff => matches!(
            (from, to),
            (Draft, Submitted)
                | (Submitted, InReview)
                | (InReview, NeedsInfo)
                | (InReview, Approved)
                | (InReview, Rejected)
        ),
    }
}

/// Drafts one resident may hold at once: each edit of one is kept for good in the audit trail,
/// so drafts cannot be a way to fill the disk. (On PostgreSQL, creates of one resident running
/// at the same moment may each see room and pass it by those few; the per-resident write rate
/// bounds them.)
pub const MAX_OPEN_DRAFTS: i64 = 20;

/// What went wrong with a records operation. Client-facing; `Db` details stay in the log.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("no such application")]
    NotFound,
    #[error("an application cannot go from {from} to {to}{who}")]
    Transition { from: &'static str, to: &'static str, who: &'static str },
    #[error("the application is {0} and its form can no longer be changed")]
    NotEditable(&'static str),
    #[error("the form has errors")]
    Invalid(Vec<FieldError>),
    #[error("this procedure needs a verified identity (for example a My Number card); guest sessions cannot submit it")]
    IdentityRequired,
    #[error("clerks may only work on their own department's procedures")]
    WrongDepartment,
    #[error("a resident may keep at most {MAX_OPEN_DRAFTS} drafts; submit or withdraw one first")]
    TooManyDrafts,
    #[error("database error")]
    Db(#[from] sqlx::Error),
}

/// An application in a clerk's list: what it is and where it stands, without the form's
/// personal data. Reading the form means opening the application, which is audited.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApplicationSummary {
    pub reference: String,
    pub procedure_id: String,
    pub department_id: String,
    pub status: Status,
    pub created_at: String,
    pub updated_at: String,
}

impl From<ApplicationView> for ApplicationSummary {
    fn from(v: ApplicationView) -> Self {
        Self {
            reference: v.reference,
            procedure_id: v.procedure_id,
            department_id: v.department_id,
            status: v.status,
            created_at: v.created_at,
            updated_at: v.updated_at,
        }
    }
}

/// One audit event as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventView {
    pub seq: i64,
    pub at: String,
    pub actor_kind: String,
    pub actor_id: String,
    pub action: String,
    #[schema(value_type = Object)]
    pub detail: Value,
    pub hash: String,
}

/// RFC 3339 in UTC.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// The columns of an application row, in the order [`load`] reads them.
macro_rules! cols {
    () => {
        "id, reference, procedure_id, department_id, status, form_data, resident_id, created_at, updated_at, status_note"
    };
}
const OF_RESIDENT_BY_REFERENCE: Dialects =
    for_update!("SELECT ", cols!(), " FROM applications WHERE reference = $1 AND resident_id = $2");
const OF_DEPARTMENT_BY_REFERENCE: Dialects =
    for_update!("SELECT ", cols!(), " FROM applications WHERE reference = $1 AND department_id = $2");
const OF_RESIDENT: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM applications WHERE resident_id = $1 ORDER BY updated_at DESC, id DESC LIMIT 500"
);
/// A clerk's search: each filter applies only when given (a NULL parameter matches anything).
const SEARCH: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM applications WHERE department_id = $1",
    " AND (CAST($2 AS TEXT) IS NULL OR status = $2)",
    " AND (CAST($3 AS TEXT) IS NULL OR procedure_id = $3)",
    " AND (CAST($4 AS TEXT) IS NULL OR reference LIKE $4)",
    " ORDER BY updated_at DESC, id DESC LIMIT $5"
);

struct Loaded {
    id: i64,
    view: ApplicationView,
}

fn load(row: &AnyRow, with_resident: bool) -> Result<Loaded, sqlx::Error> {
    let status: String = row.try_get(4)?;
    let form: String = row.try_get(5)?;
    Ok(Loaded {
        id: row.try_get(0)?,
        view: ApplicationView {
            reference: row.try_get(1)?,
            procedure_id: row.try_get(2)?,
            department_id: row.try_get(3)?,
            status: Status::parse(&status).unwrap_or(Status::Draft),
            form_data: serde_json::from_str(&form).unwrap_or(Value::Null),
            resident_id: if with_resident { row.try_get(6)? } else { None },
            created_at: rfc3339(row.try_get(7)?),
            updated_at: rfc3339(row.try_get(8)?),
            status_note: row.try_get(9)?,
        },
    })
}

/// Crockford base32, without look-alike letters.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A fresh reference number: department letter, year, and 40 random bits, e.g. `A2026-7K3Q-9XPM`.
/// One reference says nothing about any other.
pub fn new_reference(prefix: &str, year: i32) -> String {
    let bits: u64 = rand::random::<u64>() >> 24;
    let c: Vec<char> = (0..8).map(|i| ALPHABET[((bits >> (35 - 5 * i)) & 31) as usize] as char).collect();
    format!("{prefix}{year}-{}{}{}{}-{}{}{}{}", c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7])
}

/// The row an actor may see, locked for writing when `lock`.
async fn find_scoped(
    db: &Db,
    exec: &mut sqlx::AnyConnection,
    actor: &Actor,
    reference: &str,
    lock: bool,
) -> Result<Loaded, RecordError> {
    let (q, scope) = match actor {
        Actor::Resident { id } => (OF_RESIDENT_BY_REFERENCE, id.clone()),
        Actor::Staff { department, .. } => (OF_DEPARTMENT_BY_REFERENCE, department.clone()),
        Actor::System => return Err(RecordError::NotFound),
    };
    let sql = if lock { db.pick(q) } else { q.without_locks() };
    let row = sqlx::query(sql).bind(reference).bind(scope).fetch_optional(&mut *exec).await?;
    let row = row.ok_or(RecordError::NotFound)?;
    Ok(load(&row, matches!(actor, Actor::Staff { .. }))?)
}

/// The year a reference number carries: the office's local year (`utc_offset_min` from UTC),
/// so that a draft made on the morning of 1 January in Tokyo is of the new year.
pub fn reference_year(unix_ms: i64, utc_offset_min: i32) -> i32 {
    madoguchi_shared::hours::LocalTime::at(unix_ms, utc_offset_min).year as i32
}

/// Creates a draft: by a resident for themselves, or by a clerk of the procedure's department
/// (for a resident, or not yet linked to one). `utc_offset_min` is the office's time zone.
pub async fn create(
    db: &Db,
    catalog: &Catalog,
    actor: &Actor,
    procedure_id: &str,
    resident_id: Option<&str>,
    form: &Value,
    utc_offset_min: i32,
) -> Result<ApplicationView, RecordError> {
    create_in_consultation(db, catalog, actor, procedure_id, resident_id, form, utc_offset_min, None).await
}

/// [`create`], by a clerk during consultation `consultation` (its id is kept with the
/// application and named in the `created` event).
#[allow(clippy::too_many_arguments)]
pub async fn create_in_consultation(
    db: &Db,
    catalog: &Catalog,
    actor: &Actor,
    procedure_id: &str,
    resident_id: Option<&str>,
    form: &Value,
    utc_offset_min: i32,
    consultation: Option<i64>,
) -> Result<ApplicationView, RecordError> {
    let proc = catalog.get(procedure_id).ok_or_else(|| {
        RecordError::Invalid(vec![FieldError {
            field: "procedure_id".into(),
            code: "unknown_procedure",
            message: format!("no procedure \"{procedure_id}\""),
        }])
    })?;
    let resident_id = match actor {
        Actor::Resident { id } => Some(id.clone()),
        Actor::Staff { department, .. } => {
            if *department != proc.department {
                return Err(RecordError::WrongDepartment);
            }
            resident_id.map(str::to_string)
        }
        Actor::System => return Err(RecordError::NotFound),
    };
    let clean = catalog.validate(procedure_id, form, false).map_err(RecordError::Invalid)?;
    let form_text = Value::Object(clean.clone()).to_string();
    let now = now_ms();
    let year = reference_year(now, utc_offset_min);
    let prefix: String = sqlx::query("SELECT ticket_prefix FROM departments WHERE id = $1")
        .bind(&proc.department)
        .fetch_optional(&db.pool)
        .await?
        .map(|r| r.try_get::<String, _>(0))
        .transpose()?
        .unwrap_or_else(|| "X".into());
    let mut tx = db.begin_write().await?;
    if let Some(rid) = &resident_id {
        let exists = sqlx::query("SELECT 1 FROM residents WHERE id = $1").bind(rid).fetch_optional(&mut *tx).await?;
        if exists.is_none() {
            return Err(RecordError::Invalid(vec![FieldError {
                field: "resident_id".into(),
                code: "unknown_resident",
                message: "no such resident".into(),
            }]));
        }
        let drafts: i64 = sqlx::query("SELECT COUNT(*) FROM applications WHERE resident_id = $1 AND status = 'draft'")
            .bind(rid)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if drafts >= MAX_OPEN_DRAFTS {
            return Err(RecordError::TooManyDrafts);
        }
    }
    // A collision of 40 random bits is rare; a unique index catches it and we draw again.
    let mut id = None;
    let mut reference = String::new();
    for _ in 0..5 {
        reference = new_reference(&prefix, year);
        let r = sqlx::query(
            "INSERT INTO applications (reference, procedure_id, department_id, resident_id, status, form_data, created_at, updated_at, event_count, head_hash, consultation_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 0, $8, $9)
             ON CONFLICT (reference) DO NOTHING RETURNING id",
        )
        .bind(&reference)
        .bind(procedure_id)
        .bind(&proc.department)
        .bind(resident_id.clone())
        .bind(Status::Draft.as_str())
        .bind(&form_text)
        .bind(now)
        .bind(GENESIS)
        .bind(None::<i64>)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(r) = r {
            id = Some(r.try_get::<i64, _>(0)?);
            break;
        }
    }
    let id = id.ok_or(RecordError::Db(sqlx::Error::Protocol("could not draw a unique reference".into())))?;
    if let Some(c) = consultation {
        link_in(&mut tx, c, id, "created", now).await?;
    }
    audit::append(
        db,
        &mut tx,
        id,
        actor,
        "created",
        &match consultation {
            Some(c) => json!({"procedure_id": procedure_id, "consultation": c, "after": {"status": "draft", "form_data": clean}}),
            None => json!({"procedure_id": procedure_id, "after": {"status": "draft", "form_data": clean}}),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ApplicationView {
        reference,
        procedure_id: procedure_id.into(),
        department_id: proc.department.clone(),
        status: Status::Draft,
        form_data: Value::Object(clean),
        status_note: None,
        resident_id: if matches!(actor, Actor::Staff { .. }) { resident_id } else { None },
        created_at: rfc3339(now),
        updated_at: rfc3339(now),
    })
}

/// Reads one application. A staff read is itself an audit event, written before the data is
/// returned.
pub async fn read(db: &Db, actor: &Actor, reference: &str) -> Result<ApplicationView, RecordError> {
    match actor {
        Actor::Staff { .. } => {
            let mut tx = db.begin_write().await?;
            let app = find_scoped(db, &mut tx, actor, reference, false).await?;
            audit::append(db, &mut tx, app.id, actor, "viewed", &json!({}), now_ms()).await?;
            tx.commit().await?;
            Ok(app.view)
        }
        _ => {
            let mut conn = db.pool.acquire().await?;
            Ok(find_scoped(db, &mut conn, actor, reference, false).await?.view)
        }
    }
}

/// A clerk brings one of `resident_id`'s applications of the clerk's department into
/// consultation `consultation`: an audit event names it. Anyone else's is not found.
pub async fn link_to_consultation(
    db: &Db,
    actor: &Actor,
    reference: &str,
    resident_id: &str,
    consultation: i64,
) -> Result<(i64, ApplicationView), RecordError> {
    if !matches!(actor, Actor::Staff { .. }) {
        return Err(RecordError::NotFound);
    }
    let mut tx = db.begin_write().await?;
    let app = find_scoped(db, &mut tx, actor, reference, true).await?;
    if app.view.resident_id.as_deref() != Some(resident_id) {
        return Err(RecordError::NotFound);
    }
    link_in(&mut tx, consultation, app.id, "linked", now_ms()).await?;
    audit::append(
        db,
        &mut tx,
        app.id,
        actor,
        "linked_to_consultation",
        &json!({"consultation": consultation}),
        now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok((app.id, app.view))
}

/// Links an application to a consultation (`how`: `created` there, or `linked` from the
/// resident's own), in the transaction that creates or links it: the one place this fact is
/// written (`consultation_applications`; the old `applications.consultation_id` stays empty).
async fn link_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    consultation: i64,
    application: i64,
    how: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO consultation_applications (consultation_id, application_id, how, linked_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT (consultation_id, application_id) DO NOTHING",
    )
    .bind(consultation)
    .bind(application)
    .bind(how)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A resident's own applications, newest first.
pub async fn list_for_resident(db: &Db, resident_id: &str) -> Result<Vec<ApplicationView>, RecordError> {
    let rows = sqlx::query(OF_RESIDENT).bind(resident_id).fetch_all(&db.pool).await?;
    rows.iter().map(|r| Ok(load(r, false)?.view)).collect()
}

/// Filters for a clerk's search.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Search {
    /// Only this status.
    pub status: Option<Status>,
    /// Only this procedure.
    pub procedure_id: Option<String>,
    /// Reference number, or its beginning.
    pub reference: Option<String>,
    /// At most this many (default 100, at most 500).
    pub limit: Option<i64>,
}

/// A clerk's department's applications, newest first, filtered. The list carries no form data,
/// so it needs no audit event; opening an application writes one.
pub async fn search_for_staff(db: &Db, department: &str, q: &Search) -> Result<Vec<ApplicationSummary>, RecordError> {
    // References are upper case; LIKE is case-insensitive on SQLite only, so normalise here.
    let reference = q.reference.as_ref().map(|r| {
        let prefix: String =
            r.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').map(|c| c.to_ascii_uppercase()).collect();
        format!("{prefix}%")
    });
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let rows = sqlx::query(SEARCH)
        .bind(department)
        .bind(q.status.map(|s| s.as_str().to_string()))
        .bind(q.procedure_id.clone())
        .bind(reference)
        .bind(limit)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(|r| Ok(load(r, false)?.view.into())).collect()
}

/// Replaces the form data (partial drafts allowed; values must be valid).
pub async fn edit(
    db: &Db,
    catalog: &Catalog,
    actor: &Actor,
    reference: &str,
    form: &Value,
) -> Result<ApplicationView, RecordError> {
    let mut tx = db.begin_write().await?;
    let mut app = find_scoped(db, &mut tx, actor, reference, true).await?;
    if !editable_by(app.view.status, actor) {
        return Err(RecordError::NotEditable(app.view.status.as_str()));
    }
    let clean = catalog.validate(&app.view.procedure_id, form, false).map_err(RecordError::Invalid)?;
    let now = now_ms();
    let after = Value::Object(clean);
    sqlx::query("UPDATE applications SET form_data = $1, updated_at = $2 WHERE id = $3")
        .bind(after.to_string())
        .bind(now)
        .bind(app.id)
        .execute(&mut *tx)
        .await?;
    audit::append(db, &mut tx, app.id, actor, "edited", &json!({"before": app.view.form_data, "after": after}), now)
        .await?;
    tx.commit().await?;
    app.view.form_data = after;
    app.view.updated_at = rfc3339(now);
    Ok(app.view)
}

/// Moves an application to `to`, if the lifecycle and the actor allow it. Submitting checks the
/// whole form, required fields included, and the identity the procedure needs.
pub async fn change_status(
    db: &Db,
    catalog: &Catalog,
    actor: &Actor,
    reference: &str,
    to: Status,
    note: Option<&str>,
) -> Result<ApplicationView, RecordError> {
    let mut tx = db.begin_write().await?;
    let mut app = find_scoped(db, &mut tx, actor, reference, true).await?;
    let from = app.view.status;
    let mover = Mover::of(actor).ok_or(RecordError::NotFound)?;
    if !transition_allowed(mover, from, to) {
        let who = match mover {
            Mover::Resident if transition_allowed(Mover::Staff, from, to) => " (only staff may do this)",
            Mover::Staff if transition_allowed(Mover::Resident, from, to) => " (only the resident may do this)",
            _ => "",
        };
        return Err(RecordError::Transition { from: from.as_str(), to: to.as_str(), who });
    }
    if to == Status::Submitted {
        catalog.validate(&app.view.procedure_id, &app.view.form_data, true).map_err(RecordError::Invalid)?;
        let needs_verified = catalog
            .get(&app.view.procedure_id)
            .is_some_and(|p| p.identity_level == super::catalog::IdentityLevel::Verified);
        // Whether the resident is verified is the residents table's, read here, in this
        // transaction, whoever asks (the REST API, or a confirmation in a consultation).
        if let (true, Actor::Resident { id }) = (needs_verified, actor) {
            let level: Option<String> = sqlx::query("SELECT identity_level FROM residents WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?;
            if level.as_deref() != Some("verified") {
                return Err(RecordError::IdentityRequired);
            }
        }
    }
    let now = now_ms();
    // A staff decision sets (or clears) the note shown to the resident; a resident's move keeps it.
    let note: Option<String> = note.map(|n| n.chars().filter(|c| !c.is_control()).take(1000).collect());
    let keep_note = matches!(mover, Mover::Resident);
    sqlx::query(
        "UPDATE applications SET status = $1, updated_at = $2, status_note = CASE WHEN $3 THEN status_note ELSE $4 END WHERE id = $5",
    )
    .bind(to.as_str())
    .bind(now)
    .bind(keep_note)
    .bind(note.clone())
    .bind(app.id)
    .execute(&mut *tx)
    .await?;
    audit::append(
        db,
        &mut tx,
        app.id,
        actor,
        "status",
        &json!({"before": from.as_str(), "after": to.as_str(), "note": note}),
        now,
    )
    .await?;
    tx.commit().await?;
    app.view.status = to;
    app.view.updated_at = rfc3339(now);
    if !keep_note {
        app.view.status_note = note;
    }
    Ok(app.view)
}

/// The audit trail of one application of the clerk's department. Reading it is audited too.
pub async fn events(db: &Db, actor: &Actor, reference: &str) -> Result<Vec<EventView>, RecordError> {
    if !matches!(actor, Actor::Staff { .. }) {
        return Err(RecordError::NotFound);
    }
    let mut tx = db.begin_write().await?;
    let app = find_scoped(db, &mut tx, actor, reference, false).await?;
    audit::append(db, &mut tx, app.id, actor, "viewed_events", &json!({}), now_ms()).await?;
    let rows = sqlx::query(
        "SELECT seq, at, actor_kind, actor_id, action, detail, hash FROM application_events WHERE application_id = $1 ORDER BY seq",
    )
    .bind(app.id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.iter()
        .map(|r| {
            let detail: String = r.try_get(5)?;
            Ok(EventView {
                seq: r.try_get(0)?,
                at: rfc3339(r.try_get(1)?),
                actor_kind: r.try_get(2)?,
                actor_id: r.try_get(3)?,
                action: r.try_get(4)?,
                detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
                hash: r.try_get(6)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(RecordError::Db)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-31 15:30 UTC is 2027-01-01 00:30 in Tokyo (UTC+9): the reference is of 2027;
    /// a minute before midnight in Tokyo it is still 2026. West of UTC, the other way round.
    #[test]
    fn the_reference_year_is_the_offices_local_year() {
        let new_year_tokyo = 1_798_731_000_000; // 2026-12-31T15:30:00Z
        assert_eq!(reference_year(new_year_tokyo, 9 * 60), 2027);
        assert_eq!(reference_year(new_year_tokyo, 0), 2026);
        assert_eq!(reference_year(new_year_tokyo - 31 * 60_000, 9 * 60), 2026);
        let new_year_utc = 1_798_761_600_000; // 2027-01-01T00:00:00Z
        assert_eq!(reference_year(new_year_utc, -5 * 60), 2026);
    }

    #[test]
    fn references_have_the_department_year_and_a_random_part() {
        let r = new_reference("A", 2026);
        assert_eq!(r.len(), "A2026-XXXX-XXXX".len());
        assert!(r.starts_with("A2026-"));
        assert!(r[6..].chars().all(|c| c == '-' || ALPHABET.contains(&(c as u8))));
        let many: std::collections::HashSet<_> = (0..10_000).map(|_| new_reference("A", 2026)).collect();
        assert_eq!(many.len(), 10_000, "no collisions in 10k draws of 40 bits");
    }

    #[test]
    fn the_lifecycle_allows_only_its_moves() {
        use Status::*;
        let (r, s) = (Mover::Resident, Mover::Staff);
        assert!(transition_allowed(r, Draft, Submitted));
        assert!(transition_allowed(r, NeedsInfo, Submitted));
        assert!(transition_allowed(r, InReview, Withdrawn));
        assert!(!transition_allowed(r, Submitted, Approved));
        assert!(!transition_allowed(r, Approved, Withdrawn));
        assert!(transition_allowed(s, Submitted, InReview));
        assert!(transition_allowed(s, InReview, NeedsInfo));
        assert!(transition_allowed(s, InReview, Approved));
        assert!(!transition_allowed(s, Submitted, Approved), "review comes first");
        assert!(!transition_allowed(s, Draft, Withdrawn), "only the resident withdraws");
        for to in Status::ALL {
            for from in [Approved, Rejected, Withdrawn] {
                assert!(!transition_allowed(r, from, to) && !transition_allowed(s, from, to), "{from:?} is final");
            }
        }
    }
}
