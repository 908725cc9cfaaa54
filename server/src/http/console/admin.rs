//! The console's admin pages: the first admin from the first start's one-time link
//! (`/staff/setup`), and staff accounts (`/staff/admin`): list, add, change name, department and
//! roles, disable and enable, reset a password, each account's history. Admins only; every
//! change goes through `identity::accounts` and is recorded there.

use super::frame::{Frame, StaffForm, lang_code, notice_text, session_cookie, staff_member};
use crate::http::extract::ClientAddr;
use crate::http::pages::{Tr, pick_staff_lang, render, same_origin, see_other};
use crate::http::state::HttpState;
use crate::identity::accounts::{self, AccountEvent, Change};
use crate::identity::sessions;
use crate::identity::staff::{self, By, StaffAccount, StaffError};
use crate::ratelimit::address_key;
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use madoguchi_shared::i18n::Lang;
use serde::Deserialize;

pub(super) fn router() -> Router<HttpState> {
    Router::new()
        .route("/staff/setup", get(setup_form).post(setup))
        .route("/staff/admin", get(list))
        .route("/staff/admin/add", post(add))
        .route("/staff/admin/account/{login}", get(account))
        .route("/staff/admin/account/{login}/{action}", post(account_action))
}

/// Departments for a select: (id, name).
fn departments(s: &HttpState, l: Lang) -> Vec<(String, String)> {
    s.queues.office().departments.iter().map(|d| (d.id.clone(), l.name(&d.name).to_string())).collect()
}

fn role_names(tr: &Tr<'_>) -> Vec<(&'static str, String)> {
    ["clerk", "supervisor", "admin"].into_iter().map(|r| (r, tr.t(&format!("staff-role-{r}")))).collect()
}

fn notice_of(e: &StaffError) -> &'static str {
    match e {
        StaffError::BadLogin => "admin-bad-login",
        StaffError::WeakPassword => "admin-weak-password",
        StaffError::UnknownDepartment(_) => "admin-unknown-department",
        StaffError::UnknownRole(_) => "admin-no-role",
        StaffError::Taken(_) => "admin-taken",
        StaffError::Lockout(_) => "admin-lockout",
        StaffError::BadName => "admin-bad-name",
        StaffError::NoAccount(_) => "admin-no-account",
        _ => "unavailable",
    }
}

/// The roles ticked on a form.
#[derive(Deserialize, Default)]
struct Roles {
    #[serde(default)]
    role_clerk: Option<String>,
    #[serde(default)]
    role_supervisor: Option<String>,
    #[serde(default)]
    role_admin: Option<String>,
}

impl Roles {
    fn list(&self) -> Vec<String> {
        [("clerk", &self.role_clerk), ("supervisor", &self.role_supervisor), ("admin", &self.role_admin)]
            .into_iter()
            .filter(|(_, v)| v.is_some())
            .map(|(r, _)| r.to_string())
            .collect()
    }
}

#[derive(Template)]
#[template(path = "staff/setup.html")]
struct SetupPage<'a> {
    tr: Tr<'a>,
    f: Frame,
    code: String,
    error: String,
    departments: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct SetupQuery {
    #[serde(default)]
    code: String,
    lang: Option<String>,
}

/// Whether `code` is the setup code, while there is one.
fn setup_code_ok(s: &HttpState, code: &str) -> bool {
    let held = s.setup_code.lock().unwrap_or_else(|e| e.into_inner()).clone();
    held.is_some_and(|c| c.len() == code.len() && c.bytes().zip(code.bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0)
}

async fn setup_form(State(s): State<HttpState>, headers: HeaderMap, Query(q): Query<SetupQuery>) -> Response {
    let l = pick_staff_lang(q.lang.as_deref(), &headers);
    if !setup_code_ok(&s, &q.code) {
        return (StatusCode::NOT_FOUND, Tr::of(&s.words, l).t("staff-setup-used")).into_response();
    }
    let page = SetupPage {
        tr: Tr::of(&s.words, l),
        f: Frame::new(&s, l, None),
        code: q.code,
        error: String::new(),
        departments: departments(&s, l),
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
struct SetupForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    lang: String,
}

/// The first admin (also a supervisor of their department, so they can see the desks): made
/// once, logged in, and the link is spent.
async fn setup(
    State(s): State<HttpState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<SetupForm>,
) -> Response {
    let l = pick_staff_lang(Some(&f.lang), &headers);
    if !same_origin(&headers, s.public_origin.as_deref()) {
        return (StatusCode::FORBIDDEN, "cross-site form").into_response();
    }
    if s.login_limit.check(address_key(client)).is_err() || !setup_code_ok(&s, &f.code) {
        return (StatusCode::NOT_FOUND, Tr::of(&s.words, l).t("staff-setup-used")).into_response();
    }
    let again = |key: &str| {
        let tr = Tr::of(&s.words, l);
        let error = tr.t(&format!("staff-notice-{key}"));
        let page =
            SetupPage { tr, f: Frame::new(&s, l, None), code: f.code.clone(), error, departments: departments(&s, l) };
        render(StatusCode::BAD_REQUEST, &page)
    };
    // Another tab may have made one meanwhile.
    if accounts::has_admin(&s.db).await.unwrap_or(true) {
        *s.setup_code.lock().unwrap_or_else(|e| e.into_inner()) = None;
        return (StatusCode::NOT_FOUND, Tr::of(&s.words, l).t("staff-setup-used")).into_response();
    }
    let roles = vec!["admin".to_string(), "supervisor".to_string()];
    let account =
        match staff::add(&s.db, By::SetupLink, f.login.trim(), &f.display_name, &f.department, &roles, &f.password)
            .await
        {
            Ok(a) => a,
            Err(e) => return again(notice_of(&e)),
        };
    *s.setup_code.lock().unwrap_or_else(|e| e.into_inner()) = None;
    tracing::info!(login = %account.login, "the first admin was made with the setup link");
    match sessions::create_staff(&s.db, account.id).await {
        Ok(token) => see_other(
            &format!("/staff/admin?lang={}&notice=admin-first", lang_code(l)),
            Some(session_cookie(&token, s.secure_cookies)),
        ),
        Err(_) => see_other(&format!("/staff?lang={}", lang_code(l)), None),
    }
}

#[derive(Template)]
#[template(path = "staff/admin.html")]
struct AdminPage<'a> {
    tr: Tr<'a>,
    f: Frame,
    notice: String,
    csrf: String,
    accounts: Vec<StaffAccount>,
    departments: Vec<(String, String)>,
    roles: Vec<(&'static str, String)>,
}

impl AdminPage<'_> {
    fn department(&self, id: &str) -> String {
        self.departments.iter().find(|(d, _)| d == id).map(|(_, n)| n.clone()).unwrap_or_else(|| id.to_string())
    }

    fn roles_of(&self, a: &StaffAccount) -> String {
        a.roles.iter().map(|r| self.tr.t(&format!("staff-role-{}", r.as_str()))).collect::<Vec<_>>().join("・")
    }
}

#[derive(Deserialize, Default)]
struct PageQuery {
    lang: Option<String>,
    notice: Option<String>,
}

/// The admin behind the cookie, or the way back to the login (or desk) page.
async fn admin_of(s: &HttpState, headers: &HeaderMap, l: Lang) -> Result<(StaffAccount, String), Response> {
    match staff_member(s, headers).await {
        Some((st, token)) if st.is_admin() => Ok((st, token)),
        Some(_) => Err(see_other(&format!("/staff?lang={}&notice=role-required", lang_code(l)), None)),
        None => Err(see_other(&format!("/staff?lang={}&notice=session", lang_code(l)), None)),
    }
}

async fn list(State(s): State<HttpState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let l = pick_staff_lang(q.lang.as_deref(), &headers);
    let (st, token) = match admin_of(&s, &headers, l).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let tr = Tr::of(&s.words, l);
    let accounts = match accounts::list(&s.db).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "console: accounts");
            return (StatusCode::SERVICE_UNAVAILABLE, tr.t("staff-unavailable")).into_response();
        }
    };
    let page = AdminPage {
        notice: notice_text(&tr, q.notice.as_deref()),
        csrf: crate::http::cookies::csrf_for(&token),
        f: Frame::new(&s, l, Some((&st, &token))),
        accounts,
        departments: departments(&s, l),
        roles: role_names(&tr),
        tr,
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    password: String,
    #[serde(flatten)]
    roles: Roles,
}

crate::http::pages::posted_form!(AddForm, AccountForm);

async fn add(State(s): State<HttpState>, post: StaffForm<AddForm>) -> Response {
    let StaffForm { staff: st, lang: l, form: f, .. } = post;
    if !st.is_admin() {
        return see_other(&format!("/staff?lang={}&notice=role-required", lang_code(l)), None);
    }
    let back = |n: &str| see_other(&format!("/staff/admin?lang={}&notice={n}", lang_code(l)), None);
    let roles = f.roles.list();
    if roles.is_empty() {
        return back("admin-no-role");
    }
    match staff::add(&s.db, By::Admin(&st), f.login.trim(), &f.display_name, &f.department, &roles, &f.password).await {
        Ok(_) => back("admin-created"),
        Err(e) => back(notice_of(&e)),
    }
}

#[derive(Template)]
#[template(path = "staff/account.html")]
struct AccountPage<'a> {
    tr: Tr<'a>,
    f: Frame,
    notice: String,
    csrf: String,
    account: StaffAccount,
    events: Vec<AccountEvent>,
    departments: Vec<(String, String)>,
    roles: Vec<(&'static str, String)>,
    /// The office's offset from UTC, in minutes.
    offset: i32,
}

impl AccountPage<'_> {
    fn has(&self, role: &str) -> bool {
        self.account.roles.iter().any(|r| r.as_str() == role)
    }

    fn when(&self, ms: &i64) -> String {
        crate::queue::local_rfc3339(*ms, self.offset).chars().take(16).collect::<String>().replace('T', " ")
    }
}

async fn account(
    State(s): State<HttpState>,
    headers: HeaderMap,
    Path(login): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let l = pick_staff_lang(q.lang.as_deref(), &headers);
    let (st, token) = match admin_of(&s, &headers, l).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let tr = Tr::of(&s.words, l);
    let (account, events) = match (accounts::by_login(&s.db, &login).await, accounts::events(&s.db, &login).await) {
        (Ok(a), Ok(e)) => (a, e),
        (Err(StaffError::NoAccount(_)), _) => {
            return (StatusCode::NOT_FOUND, tr.t("staff-notice-admin-no-account")).into_response();
        }
        _ => return (StatusCode::SERVICE_UNAVAILABLE, tr.t("staff-unavailable")).into_response(),
    };
    let page = AccountPage {
        notice: notice_text(&tr, q.notice.as_deref()),
        csrf: crate::http::cookies::csrf_for(&token),
        f: Frame::new(&s, l, Some((&st, &token))),
        account,
        events,
        departments: departments(&s, l),
        roles: role_names(&tr),
        offset: s.queues.office().utc_offset_min,
        tr,
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
struct AccountForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    password: String,
    #[serde(flatten)]
    roles: Roles,
}

/// `change` (name, department, roles), `disable`, `enable`, `password`.
async fn account_action(
    State(s): State<HttpState>,
    Path((login, action)): Path<(String, String)>,
    post: StaffForm<AccountForm>,
) -> Response {
    let StaffForm { staff: st, lang: l, form: f, .. } = post;
    if !st.is_admin() {
        return see_other(&format!("/staff?lang={}&notice=role-required", lang_code(l)), None);
    }
    let login: String = login.chars().take(64).collect();
    let back = |n: &str| {
        let safe = login.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        let path = if safe { login.as_str() } else { "" };
        see_other(&format!("/staff/admin/account/{path}?lang={}&notice={n}", lang_code(l)), None)
    };
    let outcome = match action.as_str() {
        "change" => {
            let roles = f.roles.list();
            if roles.is_empty() {
                return back("admin-no-role");
            }
            let c = Change {
                display_name: Some(f.display_name.clone()),
                department: Some(f.department.clone()),
                roles: Some(roles),
                disabled: None,
            };
            accounts::change(&s.db, &s.session_ends, &st, &login, c).await.map(|_| "admin-saved")
        }
        "disable" | "enable" => {
            let c = Change { disabled: Some(action == "disable"), ..Change::default() };
            accounts::change(&s.db, &s.session_ends, &st, &login, c).await.map(|_| "admin-saved")
        }
        "password" => accounts::reset_password(&s.db, &s.session_ends, &st, &login, &f.password)
            .await
            .map(|_| "admin-password-reset"),
        _ => return (StatusCode::NOT_FOUND, "no such action").into_response(),
    };
    match outcome {
        Ok(n) => back(n),
        Err(e) => back(notice_of(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::Roles;

    #[test]
    fn ticked_roles_are_listed_in_order() {
        let r = Roles { role_clerk: None, role_supervisor: Some("on".into()), role_admin: Some("on".into()) };
        assert_eq!(r.list(), vec!["supervisor", "admin"]);
        assert!(Roles::default().list().is_empty());
    }
}
