//! The supervisor's screen (`/staff/supervisor`): their department now — tickets waiting, the
//! longest wait, open desks and their clerks, the running consultations, each of which the
//! supervisor may join. The page's script redraws the live part every few seconds
//! (`/staff/supervisor/live`).

use super::frame::{Frame, lang_code, staff_member};
use crate::consult::RunningConsultation;
use crate::http::pages::{Tr, pick_staff_lang, render, see_other};
use crate::http::state::HttpState;
use crate::identity::staff::StaffAccount;
use crate::queue::DeskView;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use madoguchi_shared::i18n::{Arg, Lang};
use serde::Deserialize;

pub(super) fn router() -> Router<HttpState> {
    Router::new().route("/staff/supervisor", get(page)).route("/staff/supervisor/live", get(live))
}

#[derive(Template)]
#[template(path = "staff/supervisor_live.html")]
struct Live<'a> {
    tr: Tr<'a>,
    lang: &'static str,
    department: String,
    waiting: usize,
    longest: String,
    open_desks: usize,
    desks: Vec<DeskView>,
    consultations: Vec<RunningConsultation>,
}

#[derive(Template)]
#[template(path = "staff/supervisor.html")]
struct Page<'a> {
    tr: Tr<'a>,
    f: Frame,
    live: String,
}

#[derive(Deserialize, Default)]
struct PageQuery {
    lang: Option<String>,
}

async fn live_html(s: &HttpState, l: Lang, st: &StaffAccount) -> Option<String> {
    let tr = Tr::of(&s.words, l);
    let dept = &st.department_id;
    let waiting = s.queues.waiting(dept).await.ok()?;
    let desks: Vec<DeskView> =
        s.queues.desk_views().await.ok()?.into_iter().filter(|d| &d.department == dept).collect();
    let consultations = s.consults.running_in(dept).await.ok()?;
    let longest_secs = waiting.iter().map(|t| t.waiting_secs).max().unwrap_or(0);
    let longest = if waiting.is_empty() {
        tr.t("staff-super-no-wait")
    } else if longest_secs < 60 {
        tr.t("staff-wait-under-minute")
    } else {
        tr.a("staff-wait-minutes", &[("m", Arg::from(longest_secs / 60))])
    };
    let office = s.queues.office();
    let live = Live {
        lang: lang_code(l),
        department: office.department(dept).map(|d| l.name(&d.name).to_string()).unwrap_or_else(|| dept.clone()),
        waiting: waiting.len(),
        longest,
        open_desks: desks.iter().filter(|d| d.open).count(),
        desks,
        consultations,
        tr,
    };
    live.render().ok()
}

async fn supervisor_of(s: &HttpState, headers: &HeaderMap, l: Lang) -> Result<(StaffAccount, String), Response> {
    match staff_member(s, headers).await {
        Some((st, token)) if st.is_supervisor() => Ok((st, token)),
        Some(_) => Err(see_other(&format!("/staff?lang={}&notice=role-required", lang_code(l)), None)),
        None => Err(see_other(&format!("/staff?lang={}&notice=session", lang_code(l)), None)),
    }
}

async fn page(State(s): State<HttpState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let l = pick_staff_lang(q.lang.as_deref(), &headers);
    let (st, token) = match supervisor_of(&s, &headers, l).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(live) = live_html(&s, l, &st).await else {
        return (StatusCode::SERVICE_UNAVAILABLE, Tr::of(&s.words, l).t("staff-unavailable")).into_response();
    };
    render(StatusCode::OK, &Page { tr: Tr::of(&s.words, l), f: Frame::new(&s, l, Some((&st, &token))), live })
}

/// The live part alone, for the page's script.
async fn live(State(s): State<HttpState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let l = pick_staff_lang(q.lang.as_deref(), &headers);
    match staff_member(&s, &headers).await {
        Some((st, _)) if st.is_supervisor() => match live_html(&s, l, &st).await {
            Some(h) => {
                let mut r = Html(h).into_response();
                r.headers_mut()
                    .insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
                r
            }
            None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        },
        Some(_) => StatusCode::FORBIDDEN.into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}
