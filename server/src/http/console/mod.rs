//! The staff console (`/staff`): server-rendered pages in Japanese or English, for clerks at
//! work all day. Every action is a plain form post (it works without scripts, with the keyboard
//! alone); a small script (`server/templates/staff/console.js`) adds live updates over
//! server-sent events, keyboard shortcuts, a presence heartbeat and announcements of new
//! arrivals.
//!
//! - **Session**: `/staff` logs in with the staff login (the same lockout and limits as the API)
//!   and keeps the session in its own cookie (`HttpOnly`, `SameSite=Strict`). Every form
//!   carries a token derived from the session (CSRF) and must come from this site; the pages'
//!   scripts call the staff API with the cookie and that token in `x-csrf-token`.
//! - **Desk**: a clerk or supervisor opens a desk of their department and works it: call the
//!   next number, recall, no-show, done, transfer to another department, start the consultation
//!   with the resident who has arrived; the department's queue beside it (number, name,
//!   language, waiting time). An admin who is neither sees only the admin pages.

use super::cookies::{STAFF_COOKIE, csrf_for, csrf_ok};
use super::extract::ClientAddr;
use super::pages::{Tr, pick_staff_lang, render, same_origin, see_other};
use super::queue::clerk;
use super::state::HttpState;
use crate::events::OfficeEvent;
use crate::identity::sessions::{self, SessionKey};
use crate::identity::staff::{self, StaffAccount, StaffError};
use crate::queue::{DeskView, QueueError, StaffTicket};
use crate::ratelimit::address_key;
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use madoguchi_shared::i18n::{Arg, Lang};
use serde::Deserialize;
use std::time::Duration;

mod admin;
mod frame;
mod records;
mod supervisor;

use frame::{Frame, StaffForm, lang_code, notice_text, session_cookie, staff_member};
const CONSOLE_JS: &str = include_str!("../../../templates/staff/console.js");
const CONSULT_JS: &str = include_str!("../../../templates/staff/consult.js");
/// How often the live section is redrawn when nothing happened (waiting times move on).
const REFRESH: Duration = Duration::from_secs(30);

pub(super) fn router() -> Router<HttpState> {
    Router::new()
        .route("/staff", get(home))
        .route("/staff/login", post(login))
        .route("/staff/logout", post(logout))
        .route("/staff/desk/{action}", post(desk_action))
        .route("/staff/events", get(events))
        .route("/staff/heartbeat", post(heartbeat))
        .route("/staff/console.js", get(script))
        .route("/staff/consult.js", get(consult_script))
        .route("/staff/consultation/{id}", get(consultation_page))
        .merge(admin::router())
        .merge(supervisor::router())
        .merge(records::router())
}

#[derive(Template)]
#[template(path = "staff/login.html")]
struct LoginPage<'a> {
    tr: Tr<'a>,
    f: Frame,
    error: String,
    login: String,
}

#[derive(Template)]
#[template(path = "staff/desk.html")]
struct DeskPage<'a> {
    tr: Tr<'a>,
    f: Frame,
    notice: String,
    live: String,
    works_counter: bool,
}

/// The live part of the desk page: the clerk's desk (or the desks to choose from) and the queue.
#[derive(Template)]
#[template(path = "staff/desk_live.html")]
struct DeskLive<'a> {
    tr: Tr<'a>,
    lang: &'static str,
    csrf: String,
    /// The desk the clerk holds, with the ticket at it.
    desk: Option<DeskView>,
    /// The department's desks, when the clerk holds none.
    desks: Vec<DeskView>,
    queue: Vec<StaffTicket>,
    /// Other departments, for a transfer: (id, name).
    departments: Vec<(String, String)>,
    /// The running consultation at the desk, if any.
    consultation: Option<i64>,
}

impl DeskLive<'_> {
    fn waited(&self, secs: &i64) -> String {
        let m = secs / 60;
        if m < 1 {
            self.tr.t("staff-wait-under-minute")
        } else {
            self.tr.a("staff-wait-minutes", &[("m", Arg::from(m))])
        }
    }

    /// The resident's language in the clerk's, with its own name when that differs (so a
    /// clerk knows which interpreter to invite): 「中国語（簡体字） · 简体中文」.
    fn language(&self, code: &str) -> String {
        match Lang::from_tag(code) {
            Some(lang) => {
                let here = self.tr.t(&format!("staff-lang-{}", lang.code()));
                if here == lang.endonym() || matches!(lang, Lang::Ja | Lang::JaEasy) {
                    here
                } else {
                    format!("{here} · {}", lang.endonym())
                }
            }
            None => code.into(),
        }
    }

    /// A message with one argument.
    fn with1(&self, id: &str, name: &str, value: String) -> String {
        self.tr.a(id, &[(name, Arg::from(value))])
    }

    fn place(&self, in_3d: &bool) -> String {
        self.tr.t(if *in_3d { "staff-place-3d" } else { "staff-place-other" })
    }

    fn status(&self, status: &str) -> String {
        self.tr.t(&format!("staff-ticket-{status}"))
    }

    /// The name the resident gave, and whether (and as whom) an identity provider vouched for
    /// them.
    fn who(&self, t: &crate::queue::StaffTicket) -> String {
        match (&t.verified, &t.verified_name) {
            (true, Some(name)) => self.tr.a(
                "staff-who-verified",
                &[("name", t.resident_name.clone().into()), ("verified", name.clone().into())],
            ),
            _ => self.tr.a("staff-who-guest", &[("name", t.resident_name.clone().into())]),
        }
    }
}

async fn live_html(s: &HttpState, l: Lang, st: &StaffAccount, token: &str) -> Result<String, QueueError> {
    let tr = Tr::of(&s.words, l);
    let views = s.queues.desk_views().await?;
    let mine = s.queues.desk_of(st.id);
    let mut desk = mine.as_ref().and_then(|c| views.iter().find(|d| &d.counter == c).cloned());
    if let Some(t) = desk.as_mut().and_then(|d| d.ticket.as_mut()) {
        s.mark_in_world(std::slice::from_mut(t));
    }
    let desks =
        if desk.is_none() { views.into_iter().filter(|d| d.department == st.department_id).collect() } else { vec![] };
    let mut queue = s.queues.waiting(&st.department_id).await?;
    s.mark_in_world(&mut queue);
    let office = s.queues.office();
    let departments = office
        .departments
        .iter()
        .filter(|d| d.id != st.department_id)
        .map(|d| (d.id.clone(), l.name(&d.name).to_string()))
        .collect();
    let consultation = match &desk {
        Some(d) => s
            .consults
            .running_in(&st.department_id)
            .await
            .ok()
            .and_then(|c| c.into_iter().find(|c| c.counter == d.counter).map(|c| c.id)),
        None => None,
    };
    let live =
        DeskLive { tr, lang: lang_code(l), csrf: csrf_for(token), desk, desks, queue, departments, consultation };
    live.render().map_err(|e| {
        tracing::error!(error = %e, "console: template");
        QueueError::NoDesk
    })
}

#[derive(Deserialize, Default)]
struct PageQuery {
    lang: Option<String>,
    notice: Option<String>,
}

/// The console's front page: the login form, or the desk.
async fn home(State(s): State<HttpState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let l = pick_staff_lang(q.lang.as_deref(), &headers);
    let tr = Tr::of(&s.words, l);
    let notice = notice_text(&tr, q.notice.as_deref());
    let Some((st, token)) = staff_member(&s, &headers).await else {
        let page = LoginPage { tr, f: Frame::new(&s, l, None), error: notice, login: String::new() };
        return render(StatusCode::OK, &page);
    };
    let live = if st.works_counter() {
        match live_html(&s, l, &st, &token).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "console: desk");
                return (StatusCode::SERVICE_UNAVAILABLE, tr.t("staff-unavailable")).into_response();
            }
        }
    } else {
        String::new()
    };
    let page =
        DeskPage { f: Frame::new(&s, l, Some((&st, &token))), notice, live, works_counter: st.works_counter(), tr };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    lang: String,
}

async fn login(
    State(s): State<HttpState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let l = pick_staff_lang(Some(&f.lang), &headers);
    if !same_origin(&headers, s.public_origin.as_deref()) {
        return (StatusCode::FORBIDDEN, "cross-site form").into_response();
    }
    let again = |status: StatusCode, key: &str, args: &[(&str, Arg<'_>)]| {
        let tr = Tr::of(&s.words, l);
        let error = tr.a(key, args);
        let page = LoginPage { tr, f: Frame::new(&s, l, None), error, login: f.login.chars().take(64).collect() };
        render(status, &page)
    };
    if let Err(wait) = s.login_limit.check(address_key(client)) {
        return again(StatusCode::TOO_MANY_REQUESTS, "staff-login-slow-down", &[("s", Arg::from(wait))]);
    }
    if f.login.len() > 64 || f.password.len() > 1024 || f.login.is_empty() || f.password.is_empty() {
        return again(StatusCode::UNAUTHORIZED, "staff-login-wrong", &[]);
    }
    let network = address_key(client).to_string();
    match staff::login(&s.db, f.login.trim(), &f.password, &network).await {
        Ok(account) => match sessions::create_staff(&s.db, account.id).await {
            Ok(token) => {
                see_other(&format!("/staff?lang={}", lang_code(l)), Some(session_cookie(&token, s.secure_cookies)))
            }
            Err(e) => {
                tracing::error!(error = %e, "console: session");
                again(StatusCode::SERVICE_UNAVAILABLE, "staff-unavailable", &[])
            }
        },
        Err(StaffError::BadCredentials | StaffError::UnknownLogin) => {
            again(StatusCode::UNAUTHORIZED, "staff-login-wrong", &[])
        }
        Err(StaffError::Locked(m)) => again(StatusCode::LOCKED, "staff-login-locked", &[("m", Arg::from(m))]),
        Err(StaffError::Throttled(secs)) => {
            again(StatusCode::TOO_MANY_REQUESTS, "staff-login-slow-down", &[("s", Arg::from(secs))])
        }
        Err(StaffError::Disabled) => again(StatusCode::FORBIDDEN, "staff-login-disabled", &[]),
        Err(StaffError::Busy) => again(StatusCode::SERVICE_UNAVAILABLE, "staff-unavailable", &[]),
        Err(e) => {
            tracing::error!(error = %e, "console: login");
            again(StatusCode::SERVICE_UNAVAILABLE, "staff-unavailable", &[])
        }
    }
}

#[derive(Deserialize)]
struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    counter: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    ticket: i64,
}

crate::http::pages::posted_form!(ActionForm);

async fn logout(State(s): State<HttpState>, post: StaffForm<ActionForm>) -> Response {
    let StaffForm { staff: st, token, lang: l, .. } = post;
    let _ = super::sessions::end_session(&s, &token, Some(st.id)).await;
    see_other(
        &format!("/staff?lang={}", lang_code(l)),
        Some(format!("{STAFF_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")),
    )
}

fn queue_notice(e: &QueueError) -> &'static str {
    match e {
        QueueError::DeskTaken => "desk-taken",
        QueueError::WrongDepartment | QueueError::UnknownCounter => "wrong-desk",
        QueueError::NoDesk => "no-desk",
        QueueError::NoTicket | QueueError::NotCalled => "no-ticket",
        QueueError::UnknownDepartment => "unknown-department",
        QueueError::TargetHasTicket => "target-has-ticket",
        _ => "unavailable",
    }
}

/// A desk action from the console's forms; back to the desk page with what happened.
async fn desk_action(State(s): State<HttpState>, Path(action): Path<String>, post: StaffForm<ActionForm>) -> Response {
    let StaffForm { staff: st, lang: l, form: f, .. } = post;
    let back = |notice: &str| see_other(&format!("/staff?lang={}&notice={notice}", lang_code(l)), None);
    if !st.works_counter() {
        return back("role-required");
    }
    let c = clerk(&st);
    let q = &s.queues;
    let outcome: Result<&str, QueueError> = match action.as_str() {
        "take" => q.take_desk(&c, f.counter.trim()).await.map(|_| "desk-open"),
        "leave" => q.leave_desk(&c).await.map(|_| "desk-closed"),
        "call-next" => q.call_next(&c).await.map(|t| if t.is_some() { "called" } else { "nobody-waiting" }),
        "recall" => q.recall(&c).await.map(|_| "recalled"),
        "no-show" => q.no_show(&c).await.map(|_| "no-show"),
        "done" => q.done(&c).await.map(|_| "done"),
        "transfer" => q
            .transfer(&c, f.ticket, f.department.trim(), Some(f.note.trim()).filter(|n| !n.is_empty()))
            .await
            .map(|_| "transferred"),
        "consult" => {
            return match s.consults.start(&c).await {
                Ok(_) => back("consultation-started"),
                Err(crate::consult::ConsultError::NotArrived) => back("not-arrived"),
                Err(crate::consult::ConsultError::NoDesk) => back("no-desk"),
                Err(e) => {
                    tracing::warn!(error = %e, "console: consultation");
                    back("unavailable")
                }
            };
        }
        _ => return (StatusCode::NOT_FOUND, "no such action").into_response(),
    };
    match outcome {
        Ok(n) => back(n),
        Err(e) => {
            if matches!(e, QueueError::Db(_)) {
                tracing::error!(error = %e, "console: desk action");
            }
            back(queue_notice(&e))
        }
    }
}

/// "I am at my desk", from the console's script while the page is visible. The token comes in
/// the `x-csrf-token` header.
async fn heartbeat(State(s): State<HttpState>, headers: HeaderMap) -> Response {
    let Some((st, token)) = staff_member(&s, &headers).await else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let given = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !csrf_ok(&token, given) || !same_origin(&headers, s.public_origin.as_deref()) {
        return StatusCode::FORBIDDEN.into_response();
    }
    if s.queues.touch(st.id) { StatusCode::NO_CONTENT.into_response() } else { StatusCode::CONFLICT.into_response() }
}

/// Live updates of the desk section, as server-sent events: an event `desk` whose data is the
/// section's HTML, on connecting and whenever the department's queue changes (and every
/// [`REFRESH`], for the waiting times). Ends when the session does, or when an admin changes
/// the account's rights, with an event `ended` saying why.
async fn events(State(s): State<HttpState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    // Listening before the session is checked: an end published in between is heard.
    let ends = s.session_ends.subscribe();
    let Some((st, token)) = staff_member(&s, &headers).await else {
        return (StatusCode::UNAUTHORIZED, "no session").into_response();
    };
    if !st.works_counter() {
        return (StatusCode::FORBIDDEN, "no desk work for this account").into_response();
    }
    let l = pick_staff_lang(q.lang.as_deref(), &headers);
    let department = st.department_id.clone();
    let page_token = token.clone();
    let section = crate::http::live::Section {
        name: "desk",
        every: REFRESH,
        // The waiting times change by the minute.
        redraw_every: true,
        wants: move |e: &OfficeEvent| matches!(e, OfficeEvent::Tickets { department: d, .. } | OfficeEvent::Desk { department: d, .. } if *d == department),
        draw: move |s: HttpState| {
            let (st, token) = (st.clone(), page_token.clone());
            async move { live_html(&s, l, &st, &token).await.ok() }
        },
    };
    crate::http::live::stream(&s, &token, ends, section)
}

async fn script() -> Response {
    js(CONSOLE_JS)
}

async fn consult_script() -> Response {
    js(CONSULT_JS)
}

/// The console's scripts change with the server: always revalidated.
fn js(body: &'static str) -> Response {
    crate::http::pages::script(body, "no-cache")
}

#[derive(Template)]
#[template(path = "staff/consult.html")]
struct ConsultPage<'a> {
    tr: Tr<'a>,
    f: Frame,
    id: i64,
    /// Only the consultation's clerk invites, fills forms and ends it; a supervisor watches.
    clerk: bool,
    place: String,
    signal: String,
    ice: String,
    words: String,
    /// The department's procedures, for the form editor (JSON).
    procedures: String,
    /// Field problems by code, in the page's language (JSON).
    problems: String,
    /// The console script's own words (JSON).
    console_words: String,
    /// The statuses a clerk moves a submitted application to: (id, words).
    review_statuses: Vec<(&'static str, String)>,
    error: String,
}

/// The consultation as the clerk (or a supervisor of the department) works it: the resident's
/// video and one's own, mute, camera, hang-up, the people present, the chat; for the clerk also
/// an interpreter's invitation, the application filled in for the resident (書かない窓口), and
/// ending it with a note.
async fn consultation_page(
    State(s): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<PageQuery>,
) -> Response {
    let l = pick_staff_lang(q.lang.as_deref(), &headers);
    let Some((st, token)) = staff_member(&s, &headers).await else {
        return see_other(&format!("/staff?lang={}&notice=session", lang_code(l)), None);
    };
    let tr = Tr::of(&s.words, l);
    let mut page = ConsultPage {
        f: Frame::new(&s, l, Some((&st, &token))),
        id,
        clerk: false,
        place: String::new(),
        signal: String::new(),
        ice: "[]".into(),
        words: "{}".into(),
        procedures: "[]".into(),
        problems: "{}".into(),
        console_words: "{}".into(),
        review_statuses: Vec::new(),
        error: String::new(),
        tr,
    };
    let joiner = crate::consult::Joiner::Staff {
        id: st.id,
        login: st.login.clone(),
        name: st.display_name.clone(),
        department: st.department_id.clone(),
        supervisor: st.is_supervisor(),
    };
    let grant = match s.consults.grant(id, &joiner, Some(SessionKey::of(&token))).await {
        Ok(g) if st.works_counter() => g,
        Ok(_) => {
            page.error = page.tr.t("staff-notice-role-required");
            return render(StatusCode::FORBIDDEN, &page);
        }
        Err(e) => {
            let (status, key) = match e {
                crate::consult::ConsultError::Ended => (StatusCode::CONFLICT, "staff-consult-ended"),
                crate::consult::ConsultError::Db(_) => (StatusCode::SERVICE_UNAVAILABLE, "staff-unavailable"),
                crate::consult::ConsultError::RateLimited(_) => {
                    (StatusCode::TOO_MANY_REQUESTS, "staff-consult-slow-down")
                }
                _ => (StatusCode::NOT_FOUND, "staff-consult-not-yours"),
            };
            page.error = page.tr.t(key);
            return render(status, &page);
        }
    };
    page.clerk = grant.role == madoguchi_shared::consult::Role::Clerk;
    let mut words = super::text_consult::words(&page.tr);
    for (k, id) in [
        ("connected", "staff-consult-connected"),
        ("mediaFailed", "staff-consult-media-failed"),
        ("noMedia", "staff-consult-no-media"),
        ("ended", "staff-consult-ended"),
    ] {
        words[k] = serde_json::Value::String(page.tr.t(id));
    }
    page.words = words.to_string();
    page.signal = format!("/api/v1/consultations/signal?ticket={}", grant.ticket);
    page.ice = serde_json::to_string(&grant.ice_servers).unwrap_or_else(|_| "[]".into());
    if let Ok(view) = s.consults.view_of(id, grant.role).await {
        let office = s.queues.office();
        let dept = office.department(&view.department).map(|d| l.name(&d.name).to_string()).unwrap_or_default();
        page.place = format!("{} — {dept} {}", view.ticket, view.counter.to_uppercase());
    }
    let procedures: Vec<_> = s.catalog.all().filter(|p| p.department == st.department_id).collect();
    page.procedures = serde_json::to_string(&procedures).unwrap_or_else(|_| "[]".into());
    let problems: serde_json::Map<String, serde_json::Value> = [
        "required",
        "wrong_type",
        "invalid_characters",
        "too_long",
        "pattern",
        "invalid_date",
        "too_small",
        "too_large",
        "invalid_choice",
    ]
    .iter()
    .map(|c| (c.to_string(), serde_json::Value::String(page.tr.t(&format!("staff-field-{c}")))))
    .collect();
    page.problems = serde_json::Value::Object(problems).to_string();
    let console_words: serde_json::Map<String, serde_json::Value> = [
        ("saved", "staff-consult-saved"),
        ("saveFailed", "staff-consult-save-failed"),
        ("submitted", "staff-consult-submitted"),
        ("editing", "staff-consult-editing"),
        ("inviteCode", "staff-consult-invite-code"),
        ("inviteLink", "staff-consult-invite-link"),
        ("inviteFailed", "staff-consult-invite-failed"),
        ("choose", "staff-consult-choose"),
        ("reviewed", "staff-consult-reviewed"),
        ("failed", "staff-unavailable"),
    ]
    .iter()
    .map(|(k, id)| (k.to_string(), serde_json::Value::String(page.tr.t(id))))
    .collect();
    page.console_words = serde_json::Value::Object(console_words).to_string();
    page.review_statuses = ["in_review", "needs_info", "approved", "rejected"]
        .into_iter()
        .map(|k| (k, page.tr.t(&format!("app-status-{k}"))))
        .collect();
    let mut r = render(StatusCode::OK, &page);
    // The page uses the camera and microphone.
    r.headers_mut().insert(
        header::HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(self), microphone=(self)"),
    );
    r
}
