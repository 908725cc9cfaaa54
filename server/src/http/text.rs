//! The accessible text mode (テキスト版): plain server-rendered HTML for residents who cannot
//! or would rather not use the 3D office. Departments with their state and queue length, taking
//! a ticket, its number, position and wait, being called, cancelling — all with plain forms
//! that work without JavaScript. A small script (progressive enhancement) listens to
//! `/text/events` (server-sent events) and refreshes the ticket section live.
//!
//! The session is a cookie (HttpOnly, SameSite=Lax); every form carries a token derived from the
//! session, so another site cannot post forms for a resident.
//!
//! Pages are askama templates (`server/templates/text/`, escaped automatically); their words
//! come from the office's Fluent catalog (`assets/i18n/*.ftl`, the `text-` messages).

use super::extract::ClientAddr;
use super::live;
use super::pages::{LangLink, PostedForm, Tr, html, lang_links, pick_lang, render, same_origin, see_other};
use super::state::HttpState;
use crate::db::now_ms;
use crate::events::OfficeEvent;
use crate::identity::sessions::{self, Principal, Resident};
use crate::queue::QueueError;
use crate::ratelimit::address_key;
use askama::Template;
use axum::Router;
use axum::extract::{Form, FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use madoguchi_shared::hours::LocalTime;
use madoguchi_shared::i18n::Lang;
use madoguchi_shared::protocol::{TicketInfo, TicketStatus};
use madoguchi_shared::text::clean_text;
use serde::Deserialize;
use std::time::Duration;

const COOKIE: &str = "madoguchi_session";

pub(super) fn router() -> Router<HttpState> {
    Router::new()
        .route("/", get(front))
        .route("/text", get(page))
        .route("/text/start", post(start))
        .route("/text/tickets", post(take))
        .route("/text/tickets/{id}/cancel", post(cancel))
        .route("/text/tickets/{id}/arrived", post(arrived))
        .route("/text/leave", post(leave))
        .route("/text/events", get(events))
        .route("/text/live.js", get(live_js))
}

use super::cookies::{cookie, csrf_for, csrf_ok};

pub(super) async fn resident(s: &HttpState, headers: &HeaderMap) -> Option<(Resident, String)> {
    let token = cookie(headers, COOKIE)?;
    match sessions::resume(&s.db, &token).await.ok()?? {
        Principal::Resident(r) => Some((r, token)),
        Principal::Staff(_) => None,
    }
}

pub(super) fn session_cookie(token: &str, secure: bool) -> String {
    let max_age = sessions::ABSOLUTE_EXPIRY_MS / 1000;
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

const WEEKDAYS: [&str; 7] = [
    "text-weekday-mon",
    "text-weekday-tue",
    "text-weekday-wed",
    "text-weekday-thu",
    "text-weekday-fri",
    "text-weekday-sat",
    "text-weekday-sun",
];

/// A local date and time, as people read it: `11月30日（月）08:30`, `Mon 2026-11-30 08:30`.
fn when(tr: &Tr, ms: i64, offset: i32) -> String {
    let t = LocalTime::at(ms, offset);
    let weekday = tr.t(WEEKDAYS[t.weekday as usize]);
    tr.a(
        "text-when",
        &[
            ("month", t.month.to_string().into()),
            ("day", t.day.to_string().into()),
            ("weekday", weekday.into()),
            ("date", t.date().into()),
            ("clock", t.clock().into()),
        ],
    )
}

fn describe_hours(tr: &Tr, h: &madoguchi_shared::hours::Hours) -> String {
    let days: Vec<String> = (0..7).filter(|i| h.days & (1 << i) != 0).map(|i| tr.t(WEEKDAYS[i])).collect();
    let clock = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
    tr.a(
        "text-hours",
        &[
            ("days", days.join(&tr.t("text-day-separator")).into()),
            ("open", clock(h.open).into()),
            ("close", clock(h.close).into()),
        ],
    )
}

fn minutes(tr: &Tr, s: u32) -> String {
    tr.a("text-wait-minutes", &[("minutes", s.div_ceil(60).max(1).to_string().into())])
}

struct Ctx<'a> {
    s: &'a HttpState,
    tr: Tr<'a>,
}

impl<'a> Ctx<'a> {
    fn new(s: &'a HttpState, lang: Lang) -> Self {
        Ctx { s, tr: Tr { catalog: &s.words, lang } }
    }

    fn lang(&self) -> Lang {
        self.tr.lang
    }

    fn dept_name(&self, id: &str) -> String {
        self.s
            .queues
            .office()
            .department(id)
            .map(|d| self.lang().name(&d.name).to_string())
            .unwrap_or_else(|| id.to_string())
    }

    fn counter_name(&self, id: &str) -> String {
        let office = self.s.queues.office();
        let label = id.to_uppercase();
        match office.counter(id) {
            Some((r, _)) => {
                let room = self.lang().name(&r.file.name).to_string();
                self.tr.a("text-counter-name", &[("room", room.into()), ("counter", label.into())])
            }
            None => label,
        }
    }

    /// The "your tickets" section's content: also what live updates replace.
    fn tickets_html(&self, tickets: &[TicketInfo], csrf: &str) -> String {
        let tr = &self.tr;
        let active = tickets
            .iter()
            .filter(|t| t.status.is_active())
            .map(|t| {
                let ahead = t.position.unwrap_or(0).saturating_sub(1);
                let wait = match t.wait_s {
                    Some(s) => minutes(tr, s),
                    None => tr.t("text-wait-unknown"),
                };
                let counter = self.counter_name(t.counter.as_deref().unwrap_or("?"));
                let called_id = if t.recalls > 0 { "text-called-again" } else { "text-called" };
                TicketRow {
                    id: t.id,
                    label: t.label.clone(),
                    department: self.dept_name(&t.department),
                    waiting: (t.status == TicketStatus::Waiting).then(|| {
                        tr.a(
                            "text-waiting-line",
                            &[
                                ("position", t.position.unwrap_or(0).to_string().into()),
                                ("ahead", ahead.to_string().into()),
                                ("wait", wait.into()),
                            ],
                        )
                    }),
                    called: (t.status == TicketStatus::Called)
                        .then(|| tr.a(called_id, &[("label", t.label.as_str().into()), ("counter", counter.into())])),
                    serving: t.status == TicketStatus::Serving,
                }
            })
            .collect();
        let ended = tickets
            .iter()
            .filter(|t| !t.status.is_active())
            .take(5)
            .map(|t| {
                let status = match t.status {
                    TicketStatus::Served => "text-ended-served",
                    TicketStatus::NoShow => "text-ended-no-show",
                    TicketStatus::Cancelled => "text-ended-cancelled",
                    _ => "text-ended-other",
                };
                (t.label.clone(), self.dept_name(&t.department), tr.t(status))
            })
            .collect();
        let section = TicketsSection {
            tr: Tr { catalog: tr.catalog, lang: tr.lang },
            lang: self.lang().code(),
            csrf,
            active,
            ended,
        };
        section.render().unwrap_or_else(|e| {
            tracing::error!(error = %e, "text mode: tickets template");
            String::new()
        })
    }

    /// The resident's own part of the page: who they are, their applications, their tickets.
    async fn me(&self, r: &Resident, csrf: &str) -> Me {
        let tickets = self.s.queues.mine(&r.id).await.unwrap_or_default();
        let minutes = self.s.queues.no_show_after().as_secs().div_ceil(60);
        let applications = crate::records::applications::list_for_resident(&self.s.db, &r.id)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|a| {
                let procedure = self.s.catalog.get(&a.procedure_id);
                AppRow {
                    name: procedure
                        .map(|p| self.lang().name(&p.name).to_string())
                        .unwrap_or_else(|| a.procedure_id.clone()),
                    documents: procedure
                        .filter(|_| !matches!(a.status.as_str(), "approved" | "rejected" | "withdrawn"))
                        .map(|p| p.documents.iter().map(|d| self.lang().name(d).to_string()).collect())
                        .unwrap_or_default(),
                    status: self.tr.t(&format!("app-status-{}", a.status.as_str())),
                    note: a.status_note,
                    reference: a.reference,
                }
            })
            .collect();
        let level = match (r.identity_level.as_str(), r.verified_name.as_deref()) {
            ("verified", name) => {
                self.tr.a("text-level-verified", &[("name", name.unwrap_or(&r.display_name).to_string().into())])
            }
            _ => self.tr.t("text-level-guest"),
        };
        Me {
            name: r.display_name.clone(),
            verified: r.identity_level == "verified",
            level,
            applications,
            tickets: self.tickets_html(&tickets, csrf),
            reload_hint: tickets
                .iter()
                .any(|t| t.status.is_active())
                .then(|| self.tr.a("text-reload-hint", &[("minutes", minutes.to_string().into())])),
        }
    }

    /// Each department: open or when it opens, its hours, how many wait.
    fn department_rows(&self, depts: &[crate::queue::DepartmentQueue]) -> Vec<DeptRow> {
        let office = self.s.queues.office();
        depts
            .iter()
            .map(|d| {
                let state = if d.open {
                    self.tr.a("text-dept-open", &[("desks", d.open_desks.into())])
                } else {
                    let next = office
                        .hours_of(&d.id)
                        .and_then(|h| h.next_opening(now_ms(), office.utc_offset_min))
                        .map(|ms| when(&self.tr, ms, office.utc_offset_min));
                    match next {
                        Some(n) => self.tr.a("text-dept-closed-until", &[("when", n.into())]),
                        None => self.tr.t("text-dept-closed"),
                    }
                };
                DeptRow {
                    id: d.id.clone(),
                    name: office
                        .department(&d.id)
                        .map(|x| self.lang().name(&x.name).into_owned())
                        .unwrap_or_else(|| d.id.clone()),
                    state,
                    waiting: self.tr.a("text-waiting-count", &[("count", d.waiting.to_string().into())]),
                    hours: office.hours_of(&d.id).map(|h| describe_hours(&self.tr, h)).unwrap_or_default(),
                    open: d.open,
                }
            })
            .collect()
    }

    /// The procedures, by department; those that need a verified identity say so to residents
    /// who are not verified yet.
    fn procedure_rows(&self, departments: &[DeptRow], verified: bool) -> Vec<ProcedureRow> {
        self.s
            .catalog
            .all()
            .map(|p| {
                let needs = p.identity_level == crate::records::catalog::IdentityLevel::Verified;
                ProcedureRow {
                    name: self.lang().name(&p.name).to_string(),
                    department: departments
                        .iter()
                        .find(|d: &&DeptRow| d.id == p.department)
                        .map(|d| d.name.clone())
                        .unwrap_or_default(),
                    sign_in_first: needs && !verified,
                    verified_only: needs,
                }
            })
            .collect()
    }
}

/// One of the resident's active tickets, in words.
struct TicketRow {
    id: i64,
    label: String,
    department: String,
    waiting: Option<String>,
    called: Option<String>,
    serving: bool,
}

/// The "your tickets" section.
#[derive(Template)]
#[template(path = "text/tickets.html")]
struct TicketsSection<'a> {
    tr: Tr<'a>,
    lang: &'static str,
    csrf: &'a str,
    active: Vec<TicketRow>,
    /// Label, department and how it ended.
    ended: Vec<(String, String, String)>,
}

/// A notice at the top of the page: `alert` for errors, `status` for confirmations.
struct Notice {
    role: &'static str,
    text: String,
}

/// One of the resident's applications, in words: what happens next.
struct AppRow {
    reference: String,
    name: String,
    status: String,
    note: Option<String>,
    documents: Vec<String>,
}

/// The signed-in resident's part of the page.
struct Me {
    name: String,
    /// Their identity level, in words.
    level: String,
    verified: bool,
    /// Their applications, newest first.
    applications: Vec<AppRow>,
    /// The tickets section, already rendered (and escaped) by its own template.
    tickets: String,
    reload_hint: Option<String>,
}

/// A department's row in the table, in words.
struct DeptRow {
    id: String,
    name: String,
    state: String,
    waiting: String,
    hours: String,
    open: bool,
}

/// The text-mode page.
#[derive(Template)]
#[template(path = "text/page.html")]
struct TextPage<'a> {
    tr: Tr<'a>,
    lang: &'static str,
    html_lang: &'static str,
    others: Vec<LangLink>,
    office_name: String,
    notice: Option<Notice>,
    me: Option<Me>,
    /// The form token, when signed in.
    csrf: Option<String>,
    departments: Vec<DeptRow>,
    /// Sign-in links (href, words), when the office has OpenID Connect providers and the
    /// resident is not verified yet.
    signin: Vec<(String, String)>,
    procedures: Vec<ProcedureRow>,
}

/// A procedure in the list: what it is, whose, and whether the resident must sign in (verified)
/// before applying.
struct ProcedureRow {
    name: String,
    department: String,
    verified_only: bool,
    sign_in_first: bool,
}

/// The office's front page.
#[derive(Template)]
#[template(path = "text/front.html")]
struct FrontPage<'a> {
    tr: Tr<'a>,
    lang: &'static str,
    html_lang: &'static str,
    others: Vec<LangLink>,
    office_name: String,
}

#[derive(Deserialize, Default)]
struct PageQuery {
    lang: Option<String>,
    /// A notice to show after a redirect: a code, not free text.
    notice: Option<String>,
    dept: Option<String>,
}

fn notice_text(c: &Ctx, code: &str, dept: Option<&str>) -> Option<Notice> {
    let tr = &c.tr;
    let office = c.s.queues.office();
    let (is_error, id) = match code {
        "taken" => (false, "text-notice-taken"),
        "cancelled" => (false, "text-notice-cancelled"),
        "arrived" => (false, "text-notice-arrived"),
        "ticket_exists" => (true, "text-notice-ticket-exists"),
        "rate_limited" => (true, "text-notice-rate-limited"),
        "unknown_department" => (true, "text-notice-unknown-department"),
        "no_ticket" => (true, "text-notice-no-ticket"),
        "session" => (true, "text-notice-session"),
        "name" => (true, "text-notice-name"),
        "signin_state" => (true, "text-notice-signin-state"),
        "signin_failed" => (true, "text-notice-signin-failed"),
        "signin_unknown" => (true, "text-notice-signin-unknown"),
        "signed_in" => (false, "text-notice-signed-in"),
        "signed_in_verified" => (false, "text-notice-signed-in-verified"),
        "unavailable" => (true, "text-notice-unavailable"),
        "queue_closed" => {
            let dept = dept?;
            let name = c.dept_name(dept);
            let next = office
                .hours_of(dept)
                .and_then(|h| h.next_opening(now_ms(), office.utc_offset_min))
                .map(|ms| when(tr, ms, office.utc_offset_min));
            let text = match next {
                Some(n) => tr.a("text-notice-closed-until", &[("department", name.into()), ("when", n.into())]),
                None => tr.a("text-notice-closed", &[("department", name.into())]),
            };
            return Some(Notice { role: "alert", text });
        }
        _ => return None,
    };
    Some(Notice { role: if is_error { "alert" } else { "status" }, text: tr.t(id) })
}

/// The office's front page: the ways in.
async fn front(State(s): State<HttpState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let l = pick_lang(q.lang.as_deref(), &headers);
    let office = s.queues.office();
    let page = FrontPage {
        tr: Tr { catalog: &s.words, lang: l },
        lang: l.code(),
        html_lang: l.html_lang(),
        others: lang_links(l, |code| format!("/?lang={code}")),
        office_name: l.name(&office.name).to_string(),
    };
    render(StatusCode::OK, &page)
}

/// The text-mode page.
async fn page(State(s): State<HttpState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let l = pick_lang(q.lang.as_deref(), &headers);
    let c = Ctx::new(&s, l);
    let me = resident(&s, &headers).await;
    let depts = match s.queues.departments().await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "text mode: departments");
            return html(StatusCode::SERVICE_UNAVAILABLE, c.tr.t("text-unavailable"));
        }
    };
    let office = s.queues.office();
    let csrf = me.as_ref().map(|(_, t)| csrf_for(t));
    let me = match &me {
        Some((r, _)) => Some(c.me(r, csrf.as_deref().unwrap_or_default()).await),
        None => None,
    };
    let departments = c.department_rows(&depts);
    let procedures = c.procedure_rows(&departments, me.as_ref().is_some_and(|m| m.verified));
    let page = TextPage {
        tr: Tr { catalog: &s.words, lang: l },
        lang: l.code(),
        html_lang: l.html_lang(),
        others: lang_links(l, |code| format!("/text?lang={code}")),
        office_name: l.name(&office.name).to_string(),
        notice: q.notice.as_deref().and_then(|n| notice_text(&c, n, q.dept.as_deref())),
        signin: s
            .oidc
            .offered()
            .into_iter()
            .filter(|_| !me.as_ref().is_some_and(|m| m.verified))
            .map(|(id, name)| {
                (
                    format!("/auth/oidc/{id}/start?lang={}", l.code()),
                    c.tr.a("text-signin-with", &[("provider", l.name(&name).to_string().into())]),
                )
            })
            .collect(),
        me,
        csrf,
        departments,
        procedures,
    };
    let mut r = render(StatusCode::OK, &page);
    // Signing out (a form here) ends the provider's session too: the form may lead there.
    let origins = s.oidc.origins();
    if !origins.is_empty()
        && let Ok(v) = HeaderValue::from_str(&format!(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; form-action 'self' {}; frame-ancestors 'none'",
            origins.join(" ")
        ))
    {
        r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}

fn back(lang: &str, notice: &str, dept: Option<&str>) -> String {
    let lang = madoguchi_shared::i18n::Lang::from_code(lang).code();
    let dept = dept
        .filter(|d| d.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        .map(|d| format!("&dept={d}"))
        .unwrap_or_default();
    format!("/text?lang={lang}&notice={notice}{dept}")
}

#[derive(Deserialize)]
struct StartForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    lang: String,
}

async fn start(
    State(s): State<HttpState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<StartForm>,
) -> Response {
    if !same_origin(&headers, s.public_origin.as_deref()) {
        return (StatusCode::FORBIDDEN, "cross-site form").into_response();
    }
    if s.guest_limit.check(address_key(client)).is_err() {
        return see_other(&back(&f.lang, "rate_limited", None), None);
    }
    let name = clean_text(&f.name);
    if name.is_empty() || name.chars().count() > madoguchi_shared::limits::NAME_MAX_CHARS {
        return see_other(&back(&f.lang, "name", None), None);
    }
    let locale = Lang::from_code(&f.lang).code();
    match sessions::create_guest(&s.db, &name, locale).await {
        Ok((_, token)) => {
            let lang = Lang::from_code(&f.lang).code();
            see_other(&format!("/text?lang={lang}"), Some(session_cookie(&token, s.secure_cookies)))
        }
        Err(e) => {
            tracing::error!(error = %e, "text mode: guest session");
            see_other(&back(&f.lang, "unavailable", None), None)
        }
    }
}

#[derive(Deserialize)]
struct TicketForm {
    #[serde(default)]
    department: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lang: String,
}

/// The page's notice for a refusal: the API's code, where the page has words for it.
fn queue_notice(e: &QueueError) -> &'static str {
    match e.api_code() {
        code @ ("queue_closed" | "ticket_exists" | "rate_limited" | "unknown_department" | "no_ticket") => code,
        _ => "unavailable",
    }
}

/// The resident posting this form from the text mode: its token is their session's (another
/// site cannot post it for them). Otherwise the browser goes back to the page, which says the
/// session is gone.
struct ResidentForm<T> {
    resident: Resident,
    token: String,
    form: T,
}

impl<T> FromRequest<HttpState> for ResidentForm<T>
where
    T: serde::de::DeserializeOwned + PostedForm + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, s: &HttpState) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let Form(form) = Form::<T>::from_request(req, s).await.map_err(IntoResponse::into_response)?;
        match resident(s, &headers).await {
            Some((resident, token)) if csrf_ok(&token, form.csrf()) => Ok(ResidentForm { resident, token, form }),
            _ => Err(see_other(&back(form.lang(), "session", None), None)),
        }
    }
}

super::pages::posted_form!(TicketForm, CsrfForm);

async fn take(State(s): State<HttpState>, post: ResidentForm<TicketForm>) -> Response {
    let ResidentForm { resident: r, form: f, .. } = post;
    match s.queues.take(&r.id, &f.department).await {
        Ok(_) => see_other(&back(&f.lang, "taken", None), None),
        Err(e) => see_other(&back(&f.lang, queue_notice(&e), Some(&f.department)), None),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lang: String,
}

async fn cancel(State(s): State<HttpState>, Path(id): Path<i64>, post: ResidentForm<CsrfForm>) -> Response {
    let ResidentForm { resident: r, form: f, .. } = post;
    match s.queues.cancel(&r.id, id).await {
        Ok(_) => see_other(&back(&f.lang, "cancelled", None), None),
        Err(e) => see_other(&back(&f.lang, queue_notice(&e), None), None),
    }
}

async fn arrived(State(s): State<HttpState>, Path(id): Path<i64>, post: ResidentForm<CsrfForm>) -> Response {
    let ResidentForm { resident: r, form: f, .. } = post;
    match s.queues.arrived(&r.id, id).await {
        Ok(_) => {
            let lang = Lang::from_code(&f.lang).code();
            see_other(&format!("/text/consultation?lang={lang}"), None)
        }
        Err(e) => see_other(&back(&f.lang, queue_notice(&e), None), None),
    }
}

async fn leave(State(s): State<HttpState>, headers: HeaderMap, post: ResidentForm<CsrfForm>) -> Response {
    // Only a form of this session may end it: another site cannot log a resident out.
    let ResidentForm { resident: r, token, form: f } = post;
    let lang = Lang::from_code(&f.lang).code();
    let _ = super::sessions::end_session(&s, &token, None).await;
    let gone = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    // A resident who signed in with a provider ends their session there too, where the
    // provider offers it; it sends them back to the text mode.
    let provider = crate::identity::oidc::last_provider(&s.db, &r.id).await.ok().flatten();
    if let (Some(p), Some(origin)) = (provider, s.origin(&headers))
        && let Some(url) = s.oidc.end_session_url(&p, &format!("{origin}/text")).await
    {
        return see_other(&url, Some(gone));
    }
    see_other(&format!("/text?lang={lang}"), Some(gone))
}

/// Live updates of the resident's ticket section, as server-sent events: an event `tickets`
/// whose data is the section's HTML, first on connecting (so a reconnect misses nothing) and
/// then whenever it changes. The stream keeps the session alive while the page is open, and
/// ends when the session does (at once when it is ended here: an event `ended` says why).
async fn events(State(s): State<HttpState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    // Listening before the session is checked: an end published in between is heard.
    let ends = s.session_ends.subscribe();
    let Some((r, token)) = resident(&s, &headers).await else {
        return (StatusCode::UNAUTHORIZED, "no session").into_response();
    };
    let lang = pick_lang(q.lang.as_deref(), &headers);
    let csrf = csrf_for(&token);
    let (mine, resident_id) = (r.id.clone(), r.id);
    let section = live::Section {
        name: "tickets",
        every: Duration::from_secs(5 * 60),
        redraw_every: false,
        wants: move |e: &OfficeEvent| matches!(e, OfficeEvent::Tickets { tickets, .. } if tickets.iter().any(|(owner, _)| *owner == mine)),
        draw: move |s: HttpState| {
            let (resident, csrf) = (resident_id.clone(), csrf.clone());
            async move {
                let tickets = s.queues.mine(&resident).await.unwrap_or_default();
                Some(Ctx::new(&s, lang).tickets_html(&tickets, &csrf))
            }
        },
    };
    live::stream(&s, &token, ends, section)
}

/// The progressive enhancement: replace the ticket section when the server says it changed.
const LIVE_JS: &str = include_str!("../../templates/text/live.js");

async fn live_js() -> Response {
    super::pages::script(LIVE_JS, "public, max-age=300")
}

#[cfg(test)]
mod tests {
    use super::*;
    use madoguchi_shared::i18n::Catalog;

    #[test]
    fn form_origin_is_checked_against_host_or_the_public_url() {
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, HeaderValue::from_static(v));
            }
            m
        };
        let direct = h(&[("origin", "http://office.test:8080"), ("host", "office.test:8080")]);
        assert!(same_origin(&direct, None));
        // Behind a proxy that rewrites Host, only --public-url tells the real origin.
        let proxied = h(&[("origin", "https://madoguchi.example.jp"), ("host", "127.0.0.1:8080")]);
        assert!(!same_origin(&proxied, None));
        assert!(same_origin(&proxied, Some("https://madoguchi.example.jp")));
        assert!(!same_origin(&direct, Some("https://madoguchi.example.jp")), "another origin is refused");
        let cross = h(&[("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")]);
        assert!(!same_origin(&cross, Some("https://madoguchi.example.jp")));
        assert!(same_origin(&h(&[]), None), "no Origin (an old browser, curl): the CSRF token still guards");
    }

    #[test]
    fn escaping_and_cookies() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; madoguchi_session=abc; b=2"));
        assert_eq!(super::cookie(&h, COOKIE).as_deref(), Some("abc"));
        assert_eq!(csrf_for("abc").len(), 32);
        assert_ne!(csrf_for("abc"), csrf_for("abd"));
        assert_eq!(back("en", "taken", Some("welfare\"><script>")), "/text?lang=en&notice=taken");
    }

    #[test]
    fn what_people_typed_is_escaped_in_pages() {
        let catalog = Catalog::new();
        let section = TicketsSection {
            tr: Tr { catalog: &catalog, lang: Lang::En },
            lang: "en",
            csrf: "c0ffee",
            active: vec![TicketRow {
                id: 7,
                label: "A-001".into(),
                department: "<script>alert(1)</script>".into(),
                waiting: Some("Position 1 & \"more\"".into()),
                called: None,
                serving: false,
            }],
            ended: vec![],
        };
        let html = section.render().unwrap();
        assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("Position 1 &#38; &#34;more&#34;"), "{html}");
        assert!(html.contains("action=\"/text/tickets/7/cancel\""), "{html}");
        assert!(html.contains("Cancel<span class=\"vh\"> A-001</span>"), "words come from the catalog: {html}");
    }
}
