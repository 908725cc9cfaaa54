//! The console's records pages, for clerks and supervisors: their department's applications
//! (`/staff/records`, filtered by reference, status and procedure; the list carries no form
//! data), one application (`/staff/records/{reference}`: opening it is an audited read) with
//! its form, its status and note, a form to move it on with a note, and its audit history.

use super::frame::{Frame, StaffForm, lang_code, notice_text, staff_member};
use crate::http::cookies::csrf_for;
use crate::http::pages::{Tr, pick_staff_lang, render, see_other};
use crate::http::records::staff_actor;
use crate::http::state::HttpState;
use crate::identity::staff::StaffAccount;
use crate::records::applications::{self, ApplicationSummary, ApplicationView, EventView, RecordError, Search, Status};
use crate::records::catalog::value_text;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use madoguchi_shared::i18n::Lang;
use serde::Deserialize;

pub(super) fn router() -> Router<HttpState> {
    Router::new()
        .route("/staff/records", get(list))
        .route("/staff/records/{reference}", get(record))
        .route("/staff/records/{reference}/status", post(status))
}

/// The statuses a clerk moves an application to.
const MOVES: [Status; 4] = [Status::InReview, Status::NeedsInfo, Status::Approved, Status::Rejected];

async fn clerk_of(s: &HttpState, headers: &HeaderMap, l: Lang) -> Result<(StaffAccount, String), Response> {
    match staff_member(s, headers).await {
        Some((st, token)) if st.works_counter() => Ok((st, token)),
        Some(_) => Err(see_other(&format!("/staff?lang={}&notice=role-required", lang_code(l)), None)),
        None => Err(see_other(&format!("/staff?lang={}&notice=session", lang_code(l)), None)),
    }
}

fn status_words(tr: &Tr<'_>) -> Vec<(&'static str, String)> {
    Status::ALL.iter().map(|st| (st.as_str(), tr.t(&format!("app-status-{}", st.as_str())))).collect()
}

#[derive(Template)]
#[template(path = "staff/records.html")]
struct ListPage<'a> {
    tr: Tr<'a>,
    f: Frame,
    rows: Vec<ApplicationSummary>,
    reference: String,
    status: String,
    procedure: String,
    statuses: Vec<(&'static str, String)>,
    procedures: Vec<(String, String)>,
}

impl ListPage<'_> {
    fn status_name(&self, st: &Status) -> String {
        self.tr.t(&format!("app-status-{}", st.as_str()))
    }

    fn procedure_name(&self, id: &str) -> String {
        self.procedures.iter().find(|(p, _)| p == id).map(|(_, n)| n.clone()).unwrap_or_else(|| id.to_string())
    }
}

#[derive(Deserialize, Default)]
struct ListQuery {
    lang: Option<String>,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    procedure: String,
}

async fn list(State(s): State<HttpState>, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    let l = pick_staff_lang(q.lang.as_deref(), &headers);
    let (st, token) = match clerk_of(&s, &headers, l).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let tr = Tr::of(&s.words, l);
    let search = Search {
        status: Status::parse(&q.status),
        procedure_id: Some(q.procedure.clone()).filter(|p| !p.is_empty() && p.len() <= 64),
        reference: Some(q.reference.trim().to_string()).filter(|r| !r.is_empty()),
        limit: Some(200),
    };
    let rows = match applications::search_for_staff(&s.db, &st.department_id, &search).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "console: records");
            return (StatusCode::SERVICE_UNAVAILABLE, tr.t("staff-unavailable")).into_response();
        }
    };
    let procedures = s
        .catalog
        .all()
        .filter(|p| p.department == st.department_id)
        .map(|p| (p.id.clone(), l.name(&p.name).to_string()))
        .collect();
    let page = ListPage {
        f: Frame::new(&s, l, Some((&st, &token))),
        rows,
        reference: q.reference.chars().take(40).collect(),
        status: q.status.chars().take(20).collect(),
        procedure: q.procedure.chars().take(64).collect(),
        statuses: status_words(&tr),
        procedures,
        tr,
    };
    render(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "staff/record.html")]
struct RecordPage<'a> {
    tr: Tr<'a>,
    f: Frame,
    notice: String,
    csrf: String,
    app: ApplicationView,
    name: String,
    /// (label, value) in the catalog's order.
    fields: Vec<(String, String)>,
    events: Vec<EventView>,
    moves: Vec<(&'static str, String)>,
}

impl RecordPage<'_> {
    fn status_name(&self) -> String {
        self.tr.t(&format!("app-status-{}", self.app.status.as_str()))
    }
}

#[derive(Deserialize, Default)]
struct RecordQuery {
    lang: Option<String>,
    notice: Option<String>,
}

/// A reference as typed: letters, digits and hyphens, at most 40.
fn clean_reference(r: &str) -> Option<String> {
    (r.len() <= 40 && !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .then(|| r.to_ascii_uppercase())
}

async fn record(
    State(s): State<HttpState>,
    headers: HeaderMap,
    Path(reference): Path<String>,
    Query(q): Query<RecordQuery>,
) -> Response {
    let l = pick_staff_lang(q.lang.as_deref(), &headers);
    let (st, token) = match clerk_of(&s, &headers, l).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let tr = Tr::of(&s.words, l);
    let not_found = |tr: &Tr<'_>| (StatusCode::NOT_FOUND, tr.t("staff-records-not-found")).into_response();
    let Some(reference) = clean_reference(&reference) else { return not_found(&tr) };
    let actor = staff_actor(&st);
    // Opening it is recorded in its audit trail (a read); so is reading the trail.
    let app = match applications::read(&s.db, &actor, &reference).await {
        Ok(a) => a,
        Err(RecordError::NotFound | RecordError::WrongDepartment) => return not_found(&tr),
        Err(e) => {
            tracing::error!(error = %e, "console: record");
            return (StatusCode::SERVICE_UNAVAILABLE, tr.t("staff-unavailable")).into_response();
        }
    };
    let events = applications::events(&s.db, &actor, &reference).await.unwrap_or_default();
    let procedure = s.catalog.get(&app.procedure_id);
    let fields = procedure
        .map(|p| {
            p.fields
                .iter()
                .map(|f| {
                    let v = app.form_data.get(&f.id);
                    let text = f.choice_label(v).map(|n| l.name(n).to_string()).unwrap_or_else(|| value_text(v));
                    (l.name(&f.label).to_string(), text)
                })
                .collect()
        })
        .unwrap_or_default();
    let notice = notice_text(&tr, q.notice.as_deref());
    let page = RecordPage {
        f: Frame::new(&s, l, Some((&st, &token))),
        notice,
        csrf: csrf_for(&token),
        name: procedure.map(|p| l.name(&p.name).to_string()).unwrap_or_else(|| app.procedure_id.clone()),
        app,
        fields,
        events,
        moves: MOVES.iter().map(|m| (m.as_str(), tr.t(&format!("app-status-{}", m.as_str())))).collect(),
        tr,
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    note: String,
}

crate::http::pages::posted_form!(StatusForm);

async fn status(State(s): State<HttpState>, Path(reference): Path<String>, post: StaffForm<StatusForm>) -> Response {
    let StaffForm { staff: st, lang: l, form: f, .. } = post;
    if !st.works_counter() {
        return see_other(&format!("/staff?lang={}&notice=role-required", lang_code(l)), None);
    }
    let Some(reference) = clean_reference(&reference) else {
        return see_other(&format!("/staff/records?lang={}", lang_code(l)), None);
    };
    let back = |n: &str| see_other(&format!("/staff/records/{reference}?lang={}&notice={n}", lang_code(l)), None);
    let Some(to) = Status::parse(&f.status).filter(|t| MOVES.contains(t)) else { return back("records-bad-status") };
    let note: String = f.note.trim().chars().take(500).collect();
    let note = Some(note.as_str()).filter(|n| !n.is_empty());
    match s.records.change_status(&staff_actor(&st), &reference, to, note).await {
        Ok(_) => back("records-moved"),
        Err(RecordError::Transition { .. }) => back("records-bad-status"),
        Err(e) => {
            tracing::warn!(error = %e, "console: status");
            back("unavailable")
        }
    }
}
