//! The text mode's consultation page (`/text/consultation`): the resident's running
//! consultation with the clerk's video and their own, mute, camera and hang-up, the people
//! present, the linked applications and the chat. The page carries a one-time signalling pass
//! for the cookie's resident; its script (`server/templates/text/consult.js`) opens one peer
//! connection to the office. While the resident waits at the counter for the clerk to start,
//! the page says so and looks again every few seconds.

use super::state::HttpState;
use super::text::{Tr, other_lang, pick_lang, render, resident, see_other, session_cookie};
use crate::consult::Joiner;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use madoguchi_shared::consult::Role;
use madoguchi_shared::protocol::TicketStatus;
use serde::Deserialize;

const CONSULT_JS: &str = include_str!("../../templates/text/consult.js");

pub(super) fn router() -> Router<HttpState> {
    Router::new()
        .route("/text/consultation", get(page))
        .route("/text/consultation/open", get(open))
        .route("/text/consult.js", get(script))
}

#[derive(Deserialize)]
struct OpenQuery {
    #[serde(default)]
    code: String,
    lang: Option<String>,
}

/// A one-time link from the 3D or desktop client (`POST /api/v1/consultations/page-link`):
/// this browser gets the client's session, and goes on to the consultation page.
async fn open(State(s): State<HttpState>, headers: HeaderMap, Query(q): Query<OpenQuery>) -> Response {
    let l = pick_lang(q.lang.as_deref(), &headers);
    let to = format!("/text/consultation?lang={}", l.code());
    match (q.code.len() <= 64).then(|| s.page_links.redeem(&q.code)).flatten() {
        Some(token) => see_other(&to, Some(session_cookie(&token, s.secure_cookies))),
        None => (StatusCode::FORBIDDEN, Tr::of(&s.words, l).t("text-consult-link-used")).into_response(),
    }
}

struct Running {
    signal: String,
    ice: String,
    words: String,
    ticket: String,
    place: String,
}

#[derive(Template)]
#[template(path = "text/consult.html")]
struct ConsultPage<'a> {
    tr: Tr<'a>,
    lang: &'static str,
    other: (&'static str, &'static str),
    office_name: String,
    consult: Option<Running>,
    /// Waiting at the counter for the clerk (the page looks again).
    waiting: bool,
    message: String,
}

#[derive(Deserialize, Default)]
struct PageQuery {
    lang: Option<String>,
}

async fn page(State(s): State<HttpState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let l = pick_lang(q.lang.as_deref(), &headers);
    let Some((r, _)) = resident(&s, &headers).await else {
        return see_other(&format!("/text?lang={}", l.code()), None);
    };
    let tr = Tr::of(&s.words, l);
    let office = s.queues.office();
    let mut page = ConsultPage {
        lang: l.code(),
        other: other_lang(l),
        office_name: l.name(&office.name).to_string(),
        consult: None,
        waiting: false,
        message: tr.t("text-consult-none"),
        tr,
    };
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
            match s.consults.grant(view.id, &joiner).await {
                Ok(grant) => {
                    let t = &page.tr;
                    let words = serde_json::json!({
                        "connected": t.t("text-consult-connected"),
                        "mediaFailed": t.t("text-consult-media-failed"),
                        "noMedia": t.t("text-consult-no-media"),
                        "ended": t.t("text-consult-ended"),
                        "mute": t.t("text-consult-mute"),
                        "unmute": t.t("text-consult-unmute"),
                        "cameraOff": t.t("text-consult-camera-off"),
                        "cameraOn": t.t("text-consult-camera-on"),
                        "roles": Role::ALL.iter().map(|r| (r.as_str().to_string(), serde_json::Value::String(t.t(&format!("text-consult-role-{}", r.as_str()))))).collect::<serde_json::Map<_, _>>(),
                    });
                    let dept =
                        office.department(&view.department).map(|d| l.name(&d.name).to_string()).unwrap_or_default();
                    page.consult = Some(Running {
                        signal: format!("/api/v1/consultations/signal?ticket={}", grant.ticket),
                        ice: serde_json::to_string(&grant.ice_servers).unwrap_or_else(|_| "[]".into()),
                        words: words.to_string(),
                        ticket: view.ticket.clone(),
                        place: format!("{dept} {}", view.counter.to_uppercase()),
                    });
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
    let mut r = render(StatusCode::OK, &page);
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; form-action 'self'; frame-ancestors 'self'"),
    );
    r
}

async fn script() -> Response {
    let mut r = CONSULT_JS.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    r
}
