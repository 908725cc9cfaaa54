//! Signing in with an OpenID Connect provider (`identity::oidc` does the protocol):
//!
//! - `GET /auth/oidc/{provider}/start?lang=ja&back=text|consultation|play` begins it from a page
//!   (the text mode's session cookie says which guest is signing in): the browser goes to the
//!   provider, and gets a short-lived cookie holding the sign-in's `state`, so that only the
//!   browser that began a sign-in can finish it (a link planted by someone else cannot sign a
//!   resident in as them).
//! - `POST /api/v1/signin/{provider}` begins it for a guest of the 3D office's page, whose session
//!   is a bearer token: the answer names the provider's URL and sets the same cookie.
//! - `GET /auth/oidc/callback?state=…&code=…` finishes it: the code is exchanged, the ID token
//!   checked, and the resident gets a new session (the guest session they had ends; a guest who
//!   signs in keeps their tickets and drafts). The browser goes back where it began: the text
//!   mode with a notice, the consultation page, or the 3D office's page with a one-time code for
//!   the new session (`POST /api/v1/sessions/handoff` trades it for the token). Any failure goes
//!   back to the text mode with a notice saying what happened; nothing is signed in.

use super::error::{ApiError, body};
use super::extract::ClientAddr;
use super::pages::see_other;
use super::state::HttpState;
use super::text::session_cookie;
use crate::identity::oidc::{Back, OidcError};
use crate::identity::sessions;
use crate::identity::sessions::Principal;
use crate::ratelimit::address_key;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use madoguchi_shared::api::paths;
use madoguchi_shared::api::{HandoffAnswer, HandoffBody, Provider, ProvidersAnswer, StartAnswer, StartBody};
use serde::Deserialize;

/// The cookie that binds a sign-in to the browser that began it.
const STATE_COOKIE: &str = "madoguchi_oidc";

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/auth/oidc/{provider}/start", get(start))
        .route("/auth/oidc/callback", get(callback))
        .route(paths::SIGNIN, get(providers))
        .route(paths::SIGNIN_PROVIDER, post(start_api))
        .route(paths::HANDOFF, post(handoff))
}

/// Where a sign-in comes back to; `None` for a `loopback` without a usable port and challenge.
fn back_of(q: &StartBody) -> Option<Back> {
    let lang = lang_of(&q.lang);
    Some(match q.back.as_str() {
        "play" => Back::Play { lang },
        "consultation" => Back::Consultation { lang },
        "loopback" => {
            let port = q.port.filter(|p| *p >= 1024)?;
            // An S256 challenge: 43 characters of base64url.
            let challenge = q
                .challenge
                .clone()
                .filter(|c| c.len() == 43 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))?;
            Back::Loopback { lang, port, challenge }
        }
        _ => Back::Text { lang },
    })
}

fn lang_of(l: &str) -> &'static str {
    madoguchi_shared::i18n::Lang::from_code(l).code()
}

fn text_back(lang: &str, notice: &str) -> String {
    format!("/text?lang={lang}&notice={notice}")
}

/// Where the provider sends the browser back: this office's callback.
fn callback_url(s: &HttpState, headers: &HeaderMap) -> Option<String> {
    Some(format!("{}/auth/oidc/callback", s.origin(headers)?))
}

fn state_cookie(value: &str, max_age: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{STATE_COOKIE}={value}; Path=/auth/oidc; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

/// Why a sign-in could not begin: a text-mode notice code.
async fn begin(
    s: &HttpState,
    client: std::net::IpAddr,
    headers: &HeaderMap,
    provider: &str,
    guest: Option<String>,
    back: Back,
) -> Result<(String, String), &'static str> {
    // Each start holds a little memory until it finishes or expires: starts are limited like
    // logins, per address.
    if s.login_limit.check(address_key(client)).is_err() {
        return Err("rate_limited");
    }
    let redirect = callback_url(s, headers).ok_or("signin_failed")?;
    match s.oidc.start(provider, &redirect, guest, back, client).await {
        Ok((url, state)) => Ok((url, state_cookie(&state, 600, s.secure_cookies))),
        Err(OidcError::UnknownProvider) => Err("signin_unknown"),
        Err(e) => {
            tracing::warn!(provider, error = %e, "sign-in could not start");
            Err("signin_failed")
        }
    }
}

async fn start(
    State(s): State<HttpState>,
    ClientAddr(client): ClientAddr,
    Path(provider): Path<String>,
    Query(q): Query<StartBody>,
    headers: HeaderMap,
) -> Response {
    let Some(back) = back_of(&q) else {
        return see_other(&text_back(lang_of(&q.lang), "signin_failed"), None);
    };
    // The text mode's guest; the desktop client's sign-in begins for nobody yet (its guest, if
    // any, is in the app, not in this browser).
    let guest = match back {
        Back::Loopback { .. } => None,
        _ => super::text::resident(&s, &headers).await.map(|(r, _)| r.id),
    };
    match begin(&s, client, &headers, &provider, guest, back.clone()).await {
        Ok((url, cookie)) => see_other(&url, Some(cookie)),
        Err(notice) => see_other(&text_back(back.lang(), notice), None),
    }
}

/// Begins a sign-in with an OpenID Connect provider for the resident of this bearer token (a
/// guest of the 3D office's page, whose tickets and drafts then come along), or for nobody yet
/// without one. The answer's cookie binds the sign-in to this browser; send the browser to
/// `url`.
#[utoipa::path(post, path = "/api/v1/signin/{provider}", tag = "sessions", request_body = StartBody,
    params(("provider" = String, Path, description = "a provider's id")),
    responses((status = 200, body = StartAnswer), (status = 404, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)))]
pub async fn start_api(
    State(s): State<HttpState>,
    ClientAddr(client): ClientAddr,
    Path(provider): Path<String>,
    headers: HeaderMap,
    req: Result<Json<StartBody>, JsonRejection>,
) -> Response {
    let b = match body(req) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let guest = match super::extract::bearer(&headers) {
        Some(token) => match sessions::resume(&s.db, token).await {
            Ok(Some(Principal::Resident(r))) => Some(r.id),
            Ok(Some(Principal::Staff(_))) => {
                return ApiError::Forbidden("resident_only", "staff do not sign in as residents".into())
                    .into_response();
            }
            Ok(None) => return ApiError::Unauthorized.into_response(),
            Err(e) => return ApiError::from(e).into_response(),
        },
        None => None,
    };
    let Some(back) = back_of(&b) else {
        return ApiError::BadRequest(
            "loopback_invalid",
            "a loopback sign-in needs a port (1024 or above) and an S256 challenge".into(),
        )
        .into_response();
    };
    // The desktop client cannot take the state cookie: the system browser begins its sign-in
    // at the office's own start address.
    if let Back::Loopback { lang, port, challenge } = &back {
        if guest.is_some() {
            return ApiError::BadRequest("loopback_guest", "a loopback sign-in begins without a session".into())
                .into_response();
        }
        if !s.oidc.offered().iter().any(|(id, _)| *id == provider) {
            return ApiError::NotFoundWhat("unknown_provider", "no such provider".into()).into_response();
        }
        let url = format!("/auth/oidc/{provider}/start?lang={lang}&back=loopback&port={port}&challenge={challenge}");
        return Json(StartAnswer { url }).into_response();
    }
    match begin(&s, client, &headers, &provider, guest, back).await {
        Ok((url, cookie)) => {
            let mut r = Json(StartAnswer { url }).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r
        }
        Err("signin_unknown") => ApiError::NotFoundWhat("unknown_provider", "no such provider".into()).into_response(),
        Err("rate_limited") => ApiError::RateLimited(60).into_response(),
        Err(_) => ApiError::Unavailable.into_response(),
    }
}

/// Trades a sign-in's one-time code for its session (the 3D office's page and the desktop
/// client, after signing in): valid once, for a minute. With a guest's session as the bearer
/// token (the desktop client's guest, whose sign-in began for nobody), what the guest did moves
/// to the signed-in resident, as when a guest signs in from a page, and the guest's session ends.
#[utoipa::path(post, path = "/api/v1/sessions/handoff", tag = "sessions", request_body = HandoffBody,
    responses((status = 200, body = HandoffAnswer), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 429, body = super::error::ErrorBody), (status = 503, body = super::error::ErrorBody)))]
pub async fn handoff(
    State(s): State<HttpState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    req: Result<Json<HandoffBody>, JsonRejection>,
) -> Result<Json<HandoffAnswer>, ApiError> {
    let b = body(req)?;
    if s.guest_limit.check(address_key(client)).is_err() {
        return Err(ApiError::RateLimited(60));
    }
    // The guest, checked before the code is spent: a bad bearer loses nothing.
    let guest = match super::extract::bearer(&headers) {
        Some(token) => match sessions::resume(&s.db, token).await? {
            Some(Principal::Resident(r)) => Some(r.id),
            Some(Principal::Staff(_)) => {
                return Err(ApiError::Forbidden("resident_only", "staff do not sign in as residents".into()));
            }
            None => return Err(ApiError::Unauthorized),
        },
        None => None,
    };
    let verifier = b.verifier.as_deref().filter(|v| v.len() <= 128);
    let token = (b.code.len() <= 64).then(|| s.handoffs.redeem_with(&b.code, verifier)).flatten().ok_or_else(|| {
        ApiError::NotFoundWhat("handoff_invalid", "this sign-in code is not valid, or was used".into())
    })?;
    let resident = match sessions::resume(&s.db, &token).await? {
        Some(Principal::Resident(r)) => r,
        _ => return Err(ApiError::NotFoundWhat("handoff_invalid", "this sign-in's session has ended".into())),
    };
    if let Some(g) = guest {
        match crate::identity::oidc::merge_guest(&s.db, (&s.session_ends, &s.events), &g, &resident.id).await {
            Ok(Some(moved)) => {
                tracing::info!(resident = %resident.id, tickets = moved.tickets, applications = moved.applications, "a desktop guest signed in");
            }
            Ok(None) => {}
            Err(e) => {
                // Nothing moved, and the guest session stays: the code is spent, so the new
                // session ends too (nobody could hold it), and the app keeps its guest and may
                // sign in again.
                tracing::error!(error = %e, "sign-in: moving the desktop guest's records");
                let _ = sessions::end(&s.db, &token).await;
                return Err(ApiError::Unavailable);
            }
        }
    }
    Ok(Json(HandoffAnswer { token, display_name: resident.display_name }))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ProvidersQuery {
    /// The language of the providers' names (`ja`, `en`, `zh-Hans`, …; Japanese without it).
    #[serde(default)]
    lang: String,
}

/// The OpenID Connect providers residents may sign in with (the desktop client's join screen
/// lists them).
#[utoipa::path(get, path = "/api/v1/signin", tag = "sessions", params(ProvidersQuery),
    responses((status = 200, body = ProvidersAnswer)))]
pub async fn providers(State(s): State<HttpState>, Query(q): Query<ProvidersQuery>) -> Json<ProvidersAnswer> {
    let lang = madoguchi_shared::i18n::Lang::from_code(&q.lang);
    Json(ProvidersAnswer {
        providers: s
            .oidc
            .offered()
            .into_iter()
            .map(|(id, name)| Provider { id, name: lang.name(&name).into_owned() })
            .collect(),
    })
}

#[derive(Deserialize, Default)]
struct CallbackQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    error: Option<String>,
}

async fn callback(State(s): State<HttpState>, Query(q): Query<CallbackQuery>, headers: HeaderMap) -> Response {
    let clear = state_cookie("", 0, s.secure_cookies);
    let fail = |notice: &str, lang: &str| see_other(&text_back(lang, notice), Some(clear.clone()));
    // Before the sign-in under way is known, a refusal speaks the browser's language.
    let browser_lang = super::pages::pick_lang(None, &headers).code();
    // Only the browser that began this sign-in may finish it.
    if q.state.is_empty()
        || q.state.len() > 128
        || super::cookies::cookie(&headers, STATE_COOKIE).as_deref() != Some(&q.state)
    {
        return fail("signin_state", browser_lang);
    }
    if let Some(e) = &q.error {
        tracing::info!(error = %e.chars().take(64).collect::<String>(), "the provider refused a sign-in");
    }
    if q.code.is_empty() || q.code.len() > 2048 {
        // The provider said no (or sent nothing): the state is spent either way.
        s.oidc.forget(&q.state);
        return fail("signin_failed", browser_lang);
    }
    let finished = match s.oidc.finish(&q.state, &q.code).await {
        Ok(f) => f,
        Err(OidcError::UnknownState) => return fail("signin_state", browser_lang),
        Err(e) => {
            tracing::warn!(error = %e, "sign-in refused");
            return fail("signin_failed", browser_lang);
        }
    };
    let back = finished.back;
    let lang = back.lang();
    let old = super::text::resident(&s, &headers).await;
    // The guest who began it: from a page, if still the one signed in here; from the 3D office's
    // page, the one whose token began it (this browser holds its state cookie).
    let guest = finished
        .guest
        .as_deref()
        .filter(|g| matches!(back, Back::Play { .. }) || old.as_ref().is_some_and(|(r, _)| &r.id == g));
    // The system browser of a desktop sign-in keeps no session of its own.
    let old = if matches!(back, Back::Loopback { .. }) { None } else { old };
    let (resident, token, moved) = match crate::identity::oidc::sign_in(
        &s.db,
        (&s.session_ends, &s.events),
        &finished.identity,
        guest,
        madoguchi_shared::i18n::Lang::from_code(lang).code(),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "sign-in: records");
            return fail("unavailable", lang);
        }
    };
    // The guest session ends: its holder has a new one. A guest's other sessions (the 3D
    // office's page keeps its own) end too, unless the guest became this resident.
    if let Some((_, old_token)) = old {
        let key = sessions::SessionKey::of(&old_token);
        let _ = sessions::end(&s.db, &old_token).await;
        s.session_ends.publish(vec![key], None, sessions::EndReason::SignedIn);
    }
    tracing::info!(resident = %resident.id, level = %resident.identity_level, tickets = moved.tickets, applications = moved.applications, "a resident signed in");
    let notice = if resident.identity_level == "verified" { "signed_in_verified" } else { "signed_in" };
    let to = match back {
        Back::Text { .. } => format!("/text?lang={lang}&notice={notice}"),
        Back::Consultation { .. } => format!("/text/consultation?lang={lang}"),
        Back::Play { .. } => format!("/play?lang={lang}#signed-in={}", s.handoffs.issue(&token)),
        Back::Loopback { port, ref challenge, .. } => {
            let code = s.handoffs.issue_bound(&token, challenge);
            let mut r = see_other(&format!("http://127.0.0.1:{port}/signed-in?code={code}"), None);
            if let Ok(v) = HeaderValue::from_str(&clear) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            return r;
        }
    };
    let mut r = see_other(&to, Some(session_cookie(&token, s.secure_cookies)));
    if let Ok(v) = HeaderValue::from_str(&clear) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}
