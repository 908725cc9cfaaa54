//! Signing in with an OpenID Connect provider, from the text mode (`identity::oidc` does the
//! protocol):
//!
//! - `GET /auth/oidc/{provider}/start?lang=ja` begins it: the browser goes to the provider, and
//!   gets a short-lived cookie holding the sign-in's `state`, so that only the browser that began
//!   a sign-in can finish it (a link planted by someone else cannot sign a resident in as them).
//! - `GET /auth/oidc/callback?state=…&code=…` finishes it: the code is exchanged, the ID token
//!   checked, and the resident gets a new session (the guest session they had ends; a guest who
//!   signs in keeps their tickets and drafts). Any failure goes back to the text mode with a
//!   notice saying what happened; nothing is signed in.

use super::extract::ClientAddr;
use super::state::HttpState;
use super::text::{see_other, session_cookie};
use crate::identity::oidc::{Back, OidcError};
use crate::identity::sessions;
use crate::ratelimit::address_key;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

/// The cookie that binds a sign-in to the browser that began it.
const STATE_COOKIE: &str = "madoguchi_oidc";

pub fn router() -> Router<HttpState> {
    Router::new().route("/auth/oidc/{provider}/start", get(start)).route("/auth/oidc/callback", get(callback))
}

#[derive(Deserialize, Default)]
struct StartQuery {
    #[serde(default)]
    lang: String,
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

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

async fn start(
    State(s): State<HttpState>,
    ClientAddr(client): ClientAddr,
    Path(provider): Path<String>,
    Query(q): Query<StartQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q.lang);
    // Each start holds a little memory until it finishes or expires: starts are limited like
    // logins, per address.
    if s.login_limit.check(address_key(client)).is_err() {
        return see_other(&text_back(lang, "rate_limited"), None);
    }
    let Some(redirect) = callback_url(&s, &headers) else {
        return see_other(&text_back(lang, "signin_failed"), None);
    };
    let guest = super::text::resident(&s, &headers).await.map(|(r, _)| r.id);
    match s.oidc.start(&provider, &redirect, guest, Back::Text { lang }).await {
        Ok((url, state)) => see_other(&url, Some(state_cookie(&state, 600, s.secure_cookies))),
        Err(OidcError::UnknownProvider) => see_other(&text_back(lang, "signin_unknown"), None),
        Err(OidcError::Busy) => see_other(&text_back(lang, "rate_limited"), None),
        Err(e) => {
            tracing::warn!(provider, error = %e, "sign-in could not start");
            see_other(&text_back(lang, "signin_failed"), None)
        }
    }
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
    let browser_lang = super::text::pick_lang(None, &headers).code();
    // Only the browser that began this sign-in may finish it.
    if q.state.is_empty() || q.state.len() > 128 || cookie_value(&headers, STATE_COOKIE).as_deref() != Some(&q.state) {
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
    let Back::Text { lang } = finished.back;
    let old = super::text::resident(&s, &headers).await;
    // The guest who began it, if still the one signed in here.
    let guest = finished.guest.as_deref().filter(|g| old.as_ref().is_some_and(|(r, _)| &r.id == g));
    let (resident, token, moved) = match crate::identity::oidc::sign_in(
        &s.db,
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
    // The guest session ends: its holder has a new one.
    if let Some((_, old_token)) = old {
        let key = sessions::SessionKey::of(&old_token);
        let _ = sessions::end(&s.db, &old_token).await;
        let _ = s.ended_sessions.send(key);
    }
    tracing::info!(resident = %resident.id, level = %resident.identity_level, tickets = moved.tickets, applications = moved.applications, "a resident signed in");
    // Tickets that changed hands: their queues tell the resident, the pages and the desks again.
    for department in &moved.departments {
        if let Err(e) = s.queues.republish(department).await {
            tracing::warn!(error = %e, department, "sign-in: telling the queue");
        }
    }
    let notice = if resident.identity_level == "verified" { "signed_in_verified" } else { "signed_in" };
    let mut r =
        see_other(&format!("/text?lang={lang}&notice={notice}"), Some(session_cookie(&token, s.secure_cookies)));
    if let Ok(v) = HeaderValue::from_str(&clear) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}
