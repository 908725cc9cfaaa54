//! What every page is made with, resident pages and staff pages alike: the page's language
//! (`?lang=`, else the browser's), links to it in the others, its words ([`Tr`]), rendering a
//! template with the pages' headers (no caching, a strict content security policy), redirects
//! after a form, the same-site check every form post passes, and the pages' scripts, served as
//! files.

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use madoguchi_shared::i18n::{Arg, Catalog, Lang};

/// A resident page's language: `?lang=` if it names one of the office's, else the browser's
/// `Accept-Language`, else Japanese.
pub(crate) fn pick_lang(q: Option<&str>, headers: &HeaderMap) -> Lang {
    q.and_then(Lang::from_tag)
        .or_else(|| {
            let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok())?;
            Lang::from_accept_language(accept)
        })
        .unwrap_or(Lang::Ja)
}

/// A staff page's language: the console is in Japanese and English (やさしい日本語 gives
/// Japanese; the other residents' languages English).
pub(crate) fn pick_staff_lang(q: Option<&str>, headers: &HeaderMap) -> Lang {
    match pick_lang(q, headers) {
        Lang::Ja | Lang::JaEasy => Lang::Ja,
        _ => Lang::En,
    }
}

/// A link to the same page in another language.
pub(crate) struct LangLink {
    pub href: String,
    /// The language's BCP 47 tag, for `lang` and `hreflang`.
    pub tag: &'static str,
    pub name: &'static str,
}

/// Links to the page in every language but `l`; `href` makes a page address from a language's
/// code.
pub(crate) fn lang_links(l: Lang, href: impl Fn(&str) -> String) -> Vec<LangLink> {
    Lang::ALL
        .into_iter()
        .filter(|o| *o != l)
        .map(|o| LangLink { href: href(o.code()), tag: o.html_lang(), name: o.endonym() })
        .collect()
}

/// A rendered page, or a plain error if the template failed (it cannot: its inputs are all
/// strings and numbers, but the error is handled rather than unwrapped).
pub(crate) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, "text mode: template");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

pub(crate) fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; form-action 'self'; frame-ancestors 'none'"),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    r
}

pub(crate) fn see_other(to: &str, cookie: Option<String>) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    r
}

/// The words of one page: the office's Fluent catalog in the page's language. Templates call
/// `tr.t("id")`; sentences with arguments are made here, with [`Tr::a`].
pub struct Tr<'a> {
    pub(crate) catalog: &'a Catalog,
    pub(crate) lang: Lang,
}

impl Tr<'_> {
    /// The words of `lang`.
    pub(crate) fn of(catalog: &Catalog, lang: Lang) -> Tr<'_> {
        Tr { catalog, lang }
    }

    /// Message `id`.
    pub fn t(&self, id: &str) -> String {
        self.catalog.format(self.lang, id, &[])
    }

    /// Message `id` with arguments.
    pub fn a(&self, id: &str, args: &[(&str, Arg<'_>)]) -> String {
        self.catalog.format(self.lang, id, args)
    }
}

/// Whether a form post (or a navigation that must not be started by another site) comes from
/// this site: browsers say where a request comes from (`Sec-Fetch-Site`, `Origin`, `Referer`);
/// one from another site, or a sibling site, is refused; one the user started (`none`: typed,
/// a bookmark, an app opening the browser) is not. The origin (`Origin`, or else `Referer`'s) is
/// compared with the office's public origin (`--public-url`) when one is set — behind a proxy
/// that rewrites `Host` — and otherwise with the request's `Host`.
pub(crate) fn same_origin(headers: &HeaderMap, public_origin: Option<&str>) -> bool {
    let get = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    // `Referer` is a whole URL; its origin is the scheme and the authority.
    let referer = get("referer").map(|r| match r.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.split(['/', '?', '#']).next().unwrap_or("")),
        None => r.to_string(),
    });
    let origin = get("origin").map(str::to_string).or(referer);
    match (origin.as_deref(), public_origin, get("host")) {
        (Some(origin), Some(public), _) => origin.eq_ignore_ascii_case(public.trim_end_matches('/')),
        (Some(origin), None, Some(host)) => origin.split_once("://").map(|(_, a)| a) == Some(host),
        _ => true,
    }
}

/// A form posted from a page: the session's CSRF token and the page's language ride in it. The
/// extractors of the staff member or the resident posting it check the token.
pub(crate) trait PostedForm {
    fn csrf(&self) -> &str;
    fn lang(&self) -> &str;
}

/// Implements [`PostedForm`] for forms with `csrf` and `lang` fields.
macro_rules! posted_form {
    ($($form:ty),+) => {$(
        impl $crate::http::pages::PostedForm for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
            fn lang(&self) -> &str {
                &self.lang
            }
        }
    )+};
}
pub(crate) use posted_form;

/// A page's script (a file under `server/templates/`, built in), with its `Cache-Control`.
pub(crate) fn script(js: &'static str, cache_control: &'static str) -> Response {
    let mut r = js.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    r
}
