//! The text mode's consultation page (`/text/consultation`): the resident's running
//! consultation with the clerk's video and their own, mute, camera and hang-up, the people
//! present, the linked applications and the chat. The page carries a one-time signalling pass
//! for the cookie's resident; its script (`server/templates/text/consult.js`) opens one peer
//! connection to the office. While the resident waits at the counter for the clerk to start,
//! the page says so and looks again every few seconds.
//!
//! An interpreter has no account: `/consult/join` asks for the one-time code the clerk gave
//! them and their name, and answers with the same page, joined as the interpreter.

use super::extract::ClientAddr;
use super::pages::{LangLink, Tr, lang_links, pick_lang, render, see_other};
use super::state::HttpState;
use super::text::{resident, session_cookie};
use crate::consult::ConsultError;
use crate::consult::Joiner;
use crate::ratelimit::address_key;
use askama::Template;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use madoguchi_shared::consult::ConsultView;
use madoguchi_shared::consult::Role;
use madoguchi_shared::protocol::TicketStatus;
use serde::Deserialize;

const CONSULT_JS: &str = include_str!("../../templates/text/consult.js");

pub(super) fn router() -> Router<HttpState> {
    Router::new()
        .route("/text/consultation", get(page))
        .route("/text/consultation/open", get(open).post(open_confirmed))
        .route("/text/consult.js", get(script))
        .route("/consult/join", get(join_form).post(join))
}

#[derive(Deserialize)]
struct OpenQuery {
    #[serde(default)]
    code: String,
    lang: Option<String>,
}

/// A one-time link from the 3D or desktop client (`POST /api/v1/consultations/page-link`):
/// this browser gets the client's session, and goes on to the consultation page.
///
/// Only the browser the link was made for may use it. The browser client opens it in a frame of
/// its own page: the browser says so (`Sec-Fetch-Site: same-origin`), and the link works at
/// once. Anything else may have been started by someone else — a link from another site (an
/// attacker's page sending a victim to the attacker's link, to put them in the attacker's
/// consultation) is refused and stays unused; a navigation that says nothing of where it came
/// from (`none`, as when the desktop client opens the system browser, or a link in a mail; or a
/// browser that sends no such headers) is asked first, with a button that posts back here from
/// this page. So is a browser already in the office as someone else.
async fn open(State(s): State<HttpState>, headers: HeaderMap, Query(q): Query<OpenQuery>) -> Response {
    let l = pick_lang(q.lang.as_deref(), &headers);
    let tr = Tr::of(&s.words, l);
    if !super::pages::same_origin(&headers, s.public_origin.as_deref()) {
        return (StatusCode::FORBIDDEN, tr.t("text-consult-link-elsewhere")).into_response();
    }
    let Some(token) = (q.code.len() <= 64).then(|| s.page_links.peek(&q.code)).flatten() else {
        return (StatusCode::FORBIDDEN, tr.t("text-consult-link-used")).into_response();
    };
    let from_this_page = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("same-origin");
    let current = resident(&s, &headers).await;
    let someone_else = current.as_ref().is_some_and(|(_, t)| *t != token);
    if from_this_page && !someone_else {
        return redeem_link(&s, l, &q.code);
    }
    let other = match crate::identity::sessions::resume(&s.db, &token).await {
        Ok(Some(crate::identity::sessions::Principal::Resident(r))) => r,
        Ok(_) => return (StatusCode::FORBIDDEN, tr.t("text-consult-link-used")).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "consultation link");
            return (StatusCode::SERVICE_UNAVAILABLE, tr.t("text-unavailable")).into_response();
        }
    };
    // The same resident in another session of theirs: nothing to ask.
    if from_this_page && current.as_ref().is_some_and(|(r, _)| r.id == other.id) {
        return redeem_link(&s, l, &q.code);
    }
    let mut page = ConsultPage::empty(&s, l, format!("/text?lang={}", l.code()));
    page.message = match &current {
        Some((r, _)) if r.id != other.id => page.tr.a(
            "text-consult-switch",
            &[("current", r.display_name.clone().into()), ("other", other.display_name.clone().into())],
        ),
        _ => page.tr.a("text-consult-open-as", &[("other", other.display_name.clone().into())]),
    };
    page.switch = Some(Switch {
        code: q.code.clone(),
        csrf: current.as_ref().map(|(_, t)| super::cookies::csrf_for(t)).unwrap_or_default(),
        button: page.tr.a("text-consult-switch-continue", &[("other", other.display_name.into())]),
    });
    with_policy(render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
struct SwitchForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf: String,
    lang: Option<String>,
}

/// The answer to "this browser is someone else in the office; continue as the link's
/// resident?": a post from this site's own question, with the current session's form token.
async fn open_confirmed(State(s): State<HttpState>, headers: HeaderMap, Form(f): Form<SwitchForm>) -> Response {
    let l = pick_lang(f.lang.as_deref(), &headers);
    let current = resident(&s, &headers).await.map(|(_, t)| t);
    let vouched = current.as_deref().is_none_or(|t| super::cookies::csrf_ok(t, &f.csrf));
    // The browser must say where the post comes from (every current browser does).
    let says = headers.contains_key("sec-fetch-site") || headers.contains_key(header::ORIGIN);
    if !says || !super::pages::same_origin(&headers, s.public_origin.as_deref()) || !vouched {
        return (StatusCode::FORBIDDEN, "cross-site form").into_response();
    }
    redeem_link(&s, l, &f.code)
}

fn redeem_link(s: &HttpState, l: madoguchi_shared::i18n::Lang, code: &str) -> Response {
    let to = format!("/text/consultation?lang={}", l.code());
    match (code.len() <= 64).then(|| s.page_links.redeem(code)).flatten() {
        Some(token) => see_other(&to, Some(session_cookie(&token, s.secure_cookies))),
        None => (StatusCode::FORBIDDEN, Tr::of(&s.words, l).t("text-consult-link-used")).into_response(),
    }
}

/// The question before a link replaces the browser's own session: the link's code, the current
/// session's form token, and the button's words.
struct Switch {
    code: String,
    csrf: String,
    button: String,
}

struct Running {
    signal: String,
    ice: String,
    words: String,
    ticket: String,
    place: String,
    /// Sign-in links (href, words), shown when confirming needs a verified identity the
    /// resident does not have yet; empty for others and when the office has no providers.
    signin: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "text/consult.html")]
struct ConsultPage<'a> {
    tr: Tr<'a>,
    lang: &'static str,
    html_lang: &'static str,
    office_name: String,
    /// Where the header's title link leads.
    home: String,
    /// The same page in the other languages.
    others: Vec<LangLink>,
    consult: Option<Running>,
    /// The interpreter's form (code and name), with what was wrong with the last try.
    join: Option<JoinForm>,
    /// Waiting at the counter for the clerk (the page looks again).
    waiting: bool,
    /// Asking before a link replaces this browser's session with another resident's.
    switch: Option<Switch>,
    message: String,
}

impl<'a> ConsultPage<'a> {
    /// A page with nothing in it yet but its frame, whose title links to `home`.
    fn empty(s: &'a HttpState, l: madoguchi_shared::i18n::Lang, home: String) -> ConsultPage<'a> {
        let tr = Tr::of(&s.words, l);
        ConsultPage {
            lang: l.code(),
            html_lang: l.html_lang(),
            office_name: l.name(&s.queues.office().name).to_string(),
            home,
            others: lang_links(l, |code| format!("/text/consultation?lang={code}")),
            consult: None,
            join: None,
            waiting: false,
            switch: None,
            message: tr.t("text-consult-none"),
            tr,
        }
    }
}

#[derive(Deserialize, Default)]
struct PageQuery {
    lang: Option<String>,
}

async fn page(State(s): State<HttpState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let l = pick_lang(q.lang.as_deref(), &headers);
    let Some((r, token)) = resident(&s, &headers).await else {
        return see_other(&format!("/text?lang={}", l.code()), None);
    };
    let mut page = ConsultPage::empty(&s, l, format!("/text?lang={}", l.code()));
    let current = match s.consults.current_for_resident(&r.id).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "text mode: consultation");
            return (StatusCode::SERVICE_UNAVAILABLE, page.tr.t("text-unavailable")).into_response();
        }
    };
    match current {
        Some(view) => {
            let joiner = Joiner::Resident { id: r.id.clone(), name: r.display_name.clone() };
            match s.consults.grant(view.id, &joiner, Some(crate::identity::sessions::SessionKey::of(&token))).await {
                Ok(grant) => {
                    let mut c = running(&s, l, &page.tr, &view, &grant.ticket, &grant.ice_servers);
                    if r.identity_level != "verified" {
                        c.signin = s
                            .oidc
                            .offered()
                            .into_iter()
                            .map(|(id, name)| {
                                let words =
                                    page.tr.a("text-signin-with", &[("provider", l.name(&name).into_owned().into())]);
                                (format!("/auth/oidc/{id}/start?lang={}&back=consultation", l.code()), words)
                            })
                            .collect();
                    }
                    page.consult = Some(c);
                }
                Err(ConsultError::RateLimited(_)) => {
                    return (StatusCode::TOO_MANY_REQUESTS, page.tr.t("consult-join-slow-down")).into_response();
                }
                Err(e) => tracing::warn!(error = %e, "text mode: consultation pass"),
            }
        }
        None => {
            // At the counter (being served), the clerk has yet to start.
            let serving = s.queues.mine(&r.id).await.is_ok_and(|t| t.iter().any(|t| t.status == TicketStatus::Serving));
            if serving {
                page.waiting = true;
                page.message = page.tr.t("text-consult-waiting");
            }
        }
    }
    with_policy(render(StatusCode::OK, &page))
}

fn with_policy(mut r: Response) -> Response {
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; form-action 'self'; frame-ancestors 'self'"),
    );
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// What the page's script needs for a running consultation: the pass, the ICE servers, its words.
fn running(
    s: &HttpState,
    l: madoguchi_shared::i18n::Lang,
    t: &Tr<'_>,
    view: &ConsultView,
    ticket: &str,
    ice: &[madoguchi_shared::consult::IceServer],
) -> Running {
    let words = words(t);
    let office = s.queues.office();
    let dept = office.department(&view.department).map(|d| l.name(&d.name).to_string()).unwrap_or_default();
    Running {
        signal: format!("/api/v1/consultations/signal?ticket={ticket}"),
        ice: serde_json::to_string(ice).unwrap_or_else(|_| "[]".into()),
        words: words.to_string(),
        ticket: view.ticket.clone(),
        place: format!("{dept} {}", view.counter.to_uppercase()),
        signin: Vec::new(),
    }
}

/// The words the consultation page's script shows (`data-words`), in the page's language.
pub(super) fn words(t: &Tr<'_>) -> serde_json::Value {
    let statuses: serde_json::Map<_, _> =
        ["draft", "submitted", "in_review", "needs_info", "approved", "rejected", "withdrawn"]
            .iter()
            .map(|k| (k.to_string(), serde_json::Value::String(t.t(&format!("app-status-{k}")))))
            .collect();
    let roles: serde_json::Map<_, _> = Role::ALL
        .iter()
        .map(|r| (r.as_str().to_string(), serde_json::Value::String(t.t(&format!("text-consult-role-{}", r.as_str())))))
        .collect();
    serde_json::json!({
        "connected": t.t("text-consult-connected"),
        "signInFirst": t.t("text-consult-sign-in-first"),
        "mediaFailed": t.t("text-consult-media-failed"),
        "noMedia": t.t("text-consult-no-media"),
        "ended": t.t("text-consult-ended"),
        "mute": t.t("text-consult-mute"),
        "unmute": t.t("text-consult-unmute"),
        "cameraOff": t.t("text-consult-camera-off"),
        "cameraOn": t.t("text-consult-camera-on"),
        "form": {
            "empty": t.t("text-consult-form-empty"),
            "confirm": t.t("text-consult-form-confirm"),
            "confirmHint": t.t("text-consult-form-confirm-hint"),
            "waiting": t.t("text-consult-form-waiting"),
            "documents": t.t("text-consult-form-documents"),
            "note": t.t("text-consult-form-note"),
            "status": t.t("text-consult-form-status"),
            "yes": t.t("text-consult-form-yes"),
            "no": t.t("text-consult-form-no"),
        },
        "statuses": statuses,
        "roles": roles,
    })
}

struct JoinForm {
    error: String,
    name: String,
}

fn join_page<'a>(s: &'a HttpState, l: madoguchi_shared::i18n::Lang, form: JoinForm) -> ConsultPage<'a> {
    let mut page = ConsultPage::empty(s, l, format!("/consult/join?lang={}", l.code()));
    page.others = lang_links(l, |code| format!("/consult/join?lang={code}"));
    page.join = Some(form);
    page.message = page.tr.t("consult-join-intro");
    page
}

/// The interpreter's form.
async fn join_form(State(s): State<HttpState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let l = pick_lang(q.lang.as_deref(), &headers);
    with_policy(render(StatusCode::OK, &join_page(&s, l, JoinForm { error: String::new(), name: String::new() })))
}

#[derive(Deserialize)]
struct JoinRequest {
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    lang: Option<String>,
}

/// The interpreter's code and name: the consultation page, joined as the interpreter, or the
/// form again with what was wrong. Guessing codes is slowed by the login limiter, per address.
async fn join(
    State(s): State<HttpState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<JoinRequest>,
) -> Response {
    let l = pick_lang(f.lang.as_deref(), &headers);
    let again = |status: StatusCode, key: &str| {
        let tr = Tr::of(&s.words, l);
        let form = JoinForm { error: tr.t(key), name: f.name.chars().take(64).collect() };
        with_policy(render(status, &join_page(&s, l, form)))
    };
    if !super::pages::same_origin(&headers, s.public_origin.as_deref()) {
        return (StatusCode::FORBIDDEN, "cross-site form").into_response();
    }
    if s.login_limit.check(address_key(client)).is_err() {
        return again(StatusCode::TOO_MANY_REQUESTS, "consult-join-slow-down");
    }
    let code: String = f.code.chars().filter(|c| !c.is_whitespace()).take(64).collect();
    let grant = match s.consults.redeem(&code, &f.name).await {
        Ok(g) => g,
        Err(ConsultError::Invalid(_)) => return again(StatusCode::BAD_REQUEST, "consult-join-name"),
        Err(ConsultError::BadCode) => return again(StatusCode::FORBIDDEN, "consult-join-bad-code"),
        Err(ConsultError::Ended) => return again(StatusCode::CONFLICT, "consult-join-ended"),
        Err(ConsultError::RoleTaken(_)) => return again(StatusCode::CONFLICT, "consult-join-taken"),
        Err(e) => {
            tracing::error!(error = %e, "interpreter page");
            return again(StatusCode::SERVICE_UNAVAILABLE, "text-unavailable");
        }
    };
    let view = match s.consults.view_of(grant.consultation, Role::Interpreter).await {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "interpreter page");
            return again(StatusCode::SERVICE_UNAVAILABLE, "text-unavailable");
        }
    };
    let mut page = join_page(&s, l, JoinForm { error: String::new(), name: String::new() });
    page.join = None;
    page.consult = Some(running(&s, l, &page.tr, &view, &grant.ticket, &grant.ice_servers));
    with_policy(render(StatusCode::OK, &page))
}

async fn script() -> Response {
    super::pages::script(CONSULT_JS, "public, max-age=300")
}
