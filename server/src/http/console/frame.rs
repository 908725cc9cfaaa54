//! What every console page shares: who is logged in (the console's cookie), the page's frame
//! (office, navigation by role, language switch), the session cookie, and the check of a form
//! post.

use crate::http::cookies::{STAFF_COOKIE, cookie, csrf_for, csrf_ok};
use crate::http::pages::{PostedForm, pick_staff_lang};
use crate::http::pages::{Tr, same_origin, see_other};
use crate::http::state::HttpState;
use crate::identity::sessions::{self, Principal};
use crate::identity::staff::StaffAccount;
use axum::extract::{Form, FromRequest, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use madoguchi_shared::i18n::Lang;
use serde::de::DeserializeOwned;

pub(super) fn session_cookie(token: &str, secure: bool) -> String {
    let max_age = sessions::STAFF_ABSOLUTE_EXPIRY_MS / 1000;
    let secure = if secure { "; Secure" } else { "" };
    format!("{STAFF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// The staff member behind the console's cookie, and the session token.
pub(super) async fn staff_member(s: &HttpState, headers: &HeaderMap) -> Option<(StaffAccount, String)> {
    let token = cookie(headers, STAFF_COOKIE)?;
    match sessions::resume(&s.db, &token).await.ok()?? {
        Principal::Staff(st) => Some((st, token)),
        Principal::Resident(_) => None,
    }
}

pub(super) fn lang_code(l: Lang) -> &'static str {
    if l == Lang::En { "en" } else { "ja" }
}

fn other(l: Lang) -> (&'static str, &'static str) {
    if l == Lang::En { ("ja", "日本語") } else { ("en", "English") }
}

/// A page's frame: who is logged in, the navigation their roles allow, the language switch.
pub(super) struct Frame {
    pub(super) lang: &'static str,
    pub(super) other: (&'static str, &'static str),
    pub(super) office: String,
    /// `None` on the login page.
    pub(super) me: Option<Me>,
}

pub(super) struct Me {
    /// Works a desk (clerk or supervisor), oversees the department, administers accounts.
    pub(super) desk: bool,
    pub(super) supervisor: bool,
    pub(super) admin: bool,
    pub(super) name: String,
    pub(super) department: String,
    pub(super) roles: String,
    pub(super) csrf: String,
}

impl Frame {
    pub(super) fn new(s: &HttpState, l: Lang, me: Option<(&StaffAccount, &str)>) -> Frame {
        let office = s.queues.office();
        let tr = Tr::of(&s.words, l);
        Frame {
            lang: lang_code(l),
            other: other(l),
            office: l.name(&office.name).to_string(),
            me: me.map(|(st, token)| Me {
                desk: st.works_counter(),
                supervisor: st.is_supervisor(),
                admin: st.is_admin(),
                name: st.display_name.clone(),
                department: office
                    .department(&st.department_id)
                    .map(|d| l.name(&d.name).to_string())
                    .unwrap_or_else(|| st.department_id.clone()),
                roles: st
                    .roles
                    .iter()
                    .map(|r| tr.t(&format!("staff-role-{}", r.as_str())))
                    .collect::<Vec<_>>()
                    .join("・"),
                csrf: csrf_for(token),
            }),
        }
    }
}

/// A form post of this console's session: the staff member and the token, or a response that
/// sends the browser back to the login page.
async fn authorised(
    s: &HttpState,
    headers: &HeaderMap,
    csrf: &str,
    l: Lang,
) -> Result<(StaffAccount, String), Response> {
    if !same_origin(headers, s.public_origin.as_deref()) {
        return Err((StatusCode::FORBIDDEN, "cross-site form").into_response());
    }
    match staff_member(s, headers).await {
        Some((st, token)) if csrf_ok(&token, csrf) => Ok((st, token)),
        _ => Err(see_other(&format!("/staff?lang={}&notice=session", lang_code(l)), None)),
    }
}

/// The staff member posting this form from the console: it came from this site, carries the
/// session's CSRF token, and the session is a live staff session ([`authorised`]). Otherwise a
/// cross-site post gets `403` and anything else goes back to the login page.
pub(super) struct StaffForm<T> {
    pub staff: StaffAccount,
    pub token: String,
    /// The page's language (the form's, else the browser's).
    pub lang: Lang,
    pub form: T,
}

impl<T> FromRequest<HttpState> for StaffForm<T>
where
    T: DeserializeOwned + PostedForm + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, s: &HttpState) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let Form(form) = Form::<T>::from_request(req, s).await.map_err(IntoResponse::into_response)?;
        let lang = pick_staff_lang(Some(form.lang()), &headers);
        let (staff, token) = authorised(s, &headers, form.csrf(), lang).await?;
        Ok(StaffForm { staff, token, lang, form })
    }
}

/// The words of a `?notice=` key (`staff-notice-…`), if it looks like one.
pub(super) fn notice_text(tr: &Tr<'_>, notice: Option<&str>) -> String {
    notice
        .filter(|n| n.len() <= 40 && n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
        .map(|n| tr.t(&format!("staff-notice-{n}")))
        .unwrap_or_default()
}
