//! The accessible text mode (テキスト版): plain server-rendered HTML for residents who cannot
//! or would rather not use the 3D office. Departments with their state and queue length, taking
//! a ticket, its number, position and wait, being called, cancelling — all with plain forms
//! that work without JavaScript. A small script (progressive enhancement) listens to
//! `/text/events` (server-sent events) and refreshes the ticket section live.
//!
//! The session is a cookie (HttpOnly, SameSite=Lax); every form carries a token derived from the
//! session, so another site cannot post forms for a resident.

use super::HttpState;
use crate::queue::QueueError;
use crate::sessions::{self, Principal, Resident};
use axum::Router;
use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use madoguchi_shared::hours::LocalTime;
use madoguchi_shared::protocol::{TicketInfo, TicketStatus};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::fmt::Write;
use std::net::SocketAddr;
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

/// The page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Ja,
    En,
}

impl Lang {
    fn pick(q: Option<&str>, headers: &HeaderMap) -> Lang {
        match q {
            Some("en") => Lang::En,
            Some("ja") => Lang::Ja,
            _ => {
                let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
                if accept.trim_start().starts_with("en") { Lang::En } else { Lang::Ja }
            }
        }
    }

    fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    fn t<'a>(self, ja: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Ja => ja,
            Lang::En => en,
        }
    }
}

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == COOKIE && !v.is_empty() && v.len() <= 128).then(|| v.to_string())
    })
}

fn csrf_for(token: &str) -> String {
    hex::encode(&Sha256::digest(format!("madoguchi-csrf:{token}").as_bytes())[..16])
}

async fn resident(s: &HttpState, headers: &HeaderMap) -> Option<(Resident, String)> {
    let token = cookie_token(headers)?;
    match sessions::resume(&s.db, &token).await.ok()?? {
        Principal::Resident(r) => Some((r, token)),
        Principal::Staff(_) => None,
    }
}

fn html(status: StatusCode, body: String) -> Response {
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

fn see_other(to: &str, cookie: Option<String>) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    r
}

fn session_cookie(token: &str, secure: bool) -> String {
    let max_age = sessions::ABSOLUTE_EXPIRY_MS / 1000;
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

const STYLE: &str = "body{font-family:system-ui,'Noto Sans JP',sans-serif;max-width:46rem;margin:0 auto;padding:1rem;line-height:1.6;color:#1a1a1a;background:#fff}\
a{color:#0b57a4}a:focus,button:focus,input:focus{outline:3px solid #b35c00;outline-offset:2px}\
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem}\
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}\
table{border-collapse:collapse;width:100%}th,td{border:1px solid #767676;padding:.4rem;text-align:left;vertical-align:top}\
button{font:inherit;padding:.35rem .8rem;border:2px solid #0b57a4;background:#0b57a4;color:#fff;border-radius:4px;cursor:pointer}\
button.secondary{background:#fff;color:#0b57a4}input{font:inherit;padding:.3rem;border:2px solid #555}\
.ticket{border:2px solid #0b57a4;border-radius:6px;padding:.6rem 1rem;margin:.6rem 0}.num{font-size:2rem;font-weight:700}\
.called{border:3px solid #b00020;background:#fff4f4;padding:.8rem;font-size:1.2rem}\
.notice{border-left:6px solid #b35c00;background:#fff8ec;padding:.6rem}\
form.inline{display:inline}";

fn weekday_name(lang: Lang, i: usize) -> &'static str {
    match lang {
        Lang::Ja => ["月", "火", "水", "木", "金", "土", "日"][i],
        Lang::En => ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][i],
    }
}

fn when(lang: Lang, ms: i64, offset: i32) -> String {
    let t = LocalTime::at(ms, offset);
    let wd = weekday_name(lang, t.weekday as usize);
    match lang {
        Lang::Ja => format!("{}月{}日（{wd}）{}", t.month, t.day, t.clock()),
        Lang::En => format!("{wd} {} {}", t.date(), t.clock()),
    }
}

fn describe_hours(lang: Lang, h: &madoguchi_shared::hours::Hours) -> String {
    let days: Vec<&str> = (0..7).filter(|i| h.days & (1 << i) != 0).map(|i| weekday_name(lang, i)).collect();
    let clock = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
    let sep = lang.t("・", ", ");
    format!("{} {}–{}", days.join(sep), clock(h.open), clock(h.close))
}

fn minutes(lang: Lang, s: u32) -> String {
    let m = s.div_ceil(60).max(1);
    match lang {
        Lang::Ja => format!("約{m}分"),
        Lang::En => format!("about {m} min"),
    }
}

struct Ctx<'a> {
    s: &'a HttpState,
    lang: Lang,
}

impl Ctx<'_> {
    fn dept_name(&self, id: &str) -> String {
        self.s
            .queues
            .office()
            .department(id)
            .map(|d| match self.lang {
                Lang::Ja => d.name.ja.clone(),
                Lang::En => d.name.en.clone(),
            })
            .unwrap_or_else(|| id.to_string())
    }

    fn counter_name(&self, id: &str) -> String {
        let office = self.s.queues.office();
        let room = office.counter(id).map(|(r, _)| match self.lang {
            Lang::Ja => r.file.name.ja.clone(),
            Lang::En => r.file.name.en.clone(),
        });
        let label = id.to_uppercase();
        match (self.lang, room) {
            (Lang::Ja, Some(r)) => format!("{r}の {label} 番窓口"),
            (Lang::En, Some(r)) => format!("counter {label} ({r})"),
            (_, None) => label,
        }
    }

    /// The "your tickets" section's content: also what live updates replace.
    fn tickets_html(&self, tickets: &[TicketInfo], csrf: &str) -> String {
        let l = self.lang;
        let mut o = String::new();
        let active: Vec<&TicketInfo> = tickets.iter().filter(|t| t.status.is_active()).collect();
        if active.is_empty() {
            let _ = write!(
                o,
                "<p>{}</p>",
                l.t(
                    "番号札はありません。下の一覧から課を選んで番号札を取れます。",
                    "You hold no ticket. Choose a department below to take one."
                )
            );
        }
        for t in active {
            let dept = esc(&self.dept_name(&t.department));
            let label = esc(&t.label);
            let _ = write!(
                o,
                "<div class=\"ticket\"><p><span class=\"vh\">{}</span><span class=\"num\">{label}</span> {dept}</p>",
                l.t("番号", "Number")
            );
            match t.status {
                TicketStatus::Waiting => {
                    let pos = t.position.unwrap_or(0);
                    let wait = match t.wait_s {
                        Some(s) => minutes(l, s),
                        None => l.t("不明", "unknown").to_string(),
                    };
                    let _ = match l {
                        Lang::Ja => {
                            write!(o, "<p>あなたの前に {} 人。待ち時間の目安: {wait}</p>", pos.saturating_sub(1))
                        }
                        Lang::En => write!(
                            o,
                            "<p>Position {pos} in the queue ({} ahead of you). Estimated wait: {wait}</p>",
                            pos.saturating_sub(1)
                        ),
                    };
                }
                TicketStatus::Called => {
                    let counter = esc(&self.counter_name(t.counter.as_deref().unwrap_or("?")));
                    let again = if t.recalls > 0 { l.t("（再度の呼び出し）", " (called again)") } else { "" };
                    let _ = match l {
                        Lang::Ja => write!(
                            o,
                            "<p class=\"called\" role=\"alert\" data-called>番号 {label} をお呼びしています{again}。{counter}へお越しください。</p>"
                        ),
                        Lang::En => write!(
                            o,
                            "<p class=\"called\" role=\"alert\" data-called>Number {label} is being called{again}. Please go to {counter}.</p>"
                        ),
                    };
                    let _ = write!(
                        o,
                        "<form class=\"inline\" method=\"post\" action=\"/text/tickets/{}/arrived\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"lang\" value=\"{}\"><button type=\"submit\">{}</button></form> ",
                        t.id,
                        l.code(),
                        l.t("窓口に来ました", "I am at the counter")
                    );
                }
                TicketStatus::Serving => {
                    let _ = write!(o, "<p>{}</p>", l.t("窓口で対応中です。", "You are being served at the counter."));
                }
                _ => {}
            }
            let _ = write!(
                o,
                "<form class=\"inline\" method=\"post\" action=\"/text/tickets/{}/cancel\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"lang\" value=\"{}\"><button type=\"submit\" class=\"secondary\">{}<span class=\"vh\"> {label}</span></button></form></div>",
                t.id,
                l.code(),
                l.t("取り消す", "Cancel")
            );
        }
        let ended: Vec<&TicketInfo> = tickets.iter().filter(|t| !t.status.is_active()).take(5).collect();
        if !ended.is_empty() {
            let _ = write!(o, "<h3>{}</h3><ul>", l.t("本日の終わった番号札", "Earlier tickets today"));
            for t in ended {
                let st = match t.status {
                    TicketStatus::Served => l.t("対応済み", "served"),
                    TicketStatus::NoShow => {
                        l.t("呼び出しに来られなかったため終了", "ended: not at the counter when called")
                    }
                    TicketStatus::Cancelled => l.t("取り消し済み", "cancelled"),
                    _ => l.t("終了", "ended"),
                };
                let _ = write!(o, "<li>{} — {} — {st}</li>", esc(&t.label), esc(&self.dept_name(&t.department)));
            }
            o.push_str("</ul>");
        }
        o
    }
}

#[derive(Deserialize, Default)]
struct PageQuery {
    lang: Option<String>,
    /// A notice to show after a redirect: a code, not free text.
    notice: Option<String>,
    dept: Option<String>,
}

fn notice_text(c: &Ctx, code: &str, dept: Option<&str>) -> Option<(bool, String)> {
    let l = c.lang;
    let office = c.s.queues.office();
    Some(match code {
        "taken" => (false, l.t("番号札を取りました。", "You have taken a ticket.").into()),
        "cancelled" => (false, l.t("番号札を取り消しました。", "Your ticket is cancelled.").into()),
        "arrived" => (false, l.t("窓口への到着を伝えました。", "The counter knows you are there.").into()),
        "ticket_exists" => {
            (true, l.t("この課の番号札はすでにお持ちです。", "You already hold a ticket for this department.").into())
        }
        "rate_limited" => (
            true,
            l.t(
                "短い時間に番号札を取りすぎています。少し待ってからお試しください。",
                "Too many tickets in a short time; please wait a minute.",
            )
            .into(),
        ),
        "unknown_department" => (true, l.t("その課はありません。", "There is no such department.").into()),
        "no_ticket" => (true, l.t("その番号札は見つかりませんでした。", "That ticket was not found.").into()),
        "session" => (
            true,
            l.t("もう一度はじめてください（セッションが切れました）。", "Please start again (your session has ended).")
                .into(),
        ),
        "name" => {
            (true, l.t("お名前は1〜32文字で入力してください。", "Please enter a name of 1 to 32 characters.").into())
        }
        "unavailable" => (
            true,
            l.t(
                "ただいま混み合っています。少し待ってからお試しください。",
                "The office is busy; please try again shortly.",
            )
            .into(),
        ),
        "queue_closed" => {
            let dept = dept?;
            let name = c.dept_name(dept);
            let next = office
                .hours_of(dept)
                .and_then(|h| h.next_opening(crate::db::now_ms(), office.utc_offset_min))
                .map(|ms| when(l, ms, office.utc_offset_min));
            let text = match (l, next) {
                (Lang::Ja, Some(n)) => format!("{name}は受付時間外です。次の受付開始は {n} です。"),
                (Lang::En, Some(n)) => format!("{name} is closed now. Tickets are taken again from {n}."),
                (Lang::Ja, None) => format!("{name}は受付時間外です。"),
                (Lang::En, None) => format!("{name} is closed now."),
            };
            (true, text)
        }
        _ => return None,
    })
}

/// The office's front page: the ways in.
async fn front(State(s): State<HttpState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let l = Lang::pick(q.lang.as_deref(), &headers);
    let office = s.queues.office();
    let name = esc(l.t(&office.name.ja, &office.name.en));
    let other = match l {
        Lang::Ja => "<a href=\"/?lang=en\" lang=\"en\" hreflang=\"en\">English</a>",
        Lang::En => "<a href=\"/?lang=ja\" lang=\"ja\" hreflang=\"ja\">日本語</a>",
    };
    let body = format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{name}</title><style>{STYLE}</style></head><body><header><nav aria-label=\"{}\">{other}</nav></header><main><h1>{name}</h1><p>{}</p><ul><li><a href=\"/play?lang={}\">{}</a></li><li><a href=\"/text?lang={}\">テキスト版 / Text mode</a> — {}</li></ul></main></body></html>",
        l.code(),
        l.t("言語", "Language"),
        l.t(
            "窓口に行かずに、手続きの相談や番号札の受け取りができます。",
            "Take a queue ticket and talk to the ward office without going there."
        ),
        l.code(),
        l.t("3D の区役所に入る", "Enter the 3D office"),
        l.code(),
        l.t(
            "番号札の受け取り、呼び出しの確認（画面読み上げ・キーボード操作に対応）",
            "take a ticket and follow the queue (screen readers and keyboard welcome)"
        ),
    );
    html(StatusCode::OK, body)
}

/// The text-mode page.
async fn page(State(s): State<HttpState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let l = Lang::pick(q.lang.as_deref(), &headers);
    let c = Ctx { s: &s, lang: l };
    let me = resident(&s, &headers).await;
    let depts = match s.queues.departments().await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "text mode: departments");
            return html(
                StatusCode::SERVICE_UNAVAILABLE,
                l.t("ただいま表示できません。", "Unavailable; try again shortly.").into(),
            );
        }
    };
    let office = s.queues.office();
    let office_name = esc(l.t(&office.name.ja, &office.name.en));
    let title = l.t("テキスト版 窓口", "Text mode counter");
    let mut o = String::with_capacity(16 * 1024);
    let other = match l {
        Lang::Ja => "<a href=\"/text?lang=en\" lang=\"en\" hreflang=\"en\">English</a>",
        Lang::En => "<a href=\"/text?lang=ja\" lang=\"ja\" hreflang=\"ja\">日本語</a>",
    };
    let _ = write!(
        o,
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title} — {office_name}</title><style>{STYLE}</style></head><body><a class=\"skip\" href=\"#main\">{}</a><header><p><a href=\"/?lang={}\">{office_name}</a></p><nav aria-label=\"{}\">{other}</nav></header><main id=\"main\"><h1>{title}</h1>",
        l.code(),
        l.t("本文へ移動", "Skip to content"),
        l.code(),
        l.t("言語", "Language"),
    );
    if let Some((is_error, text)) = q.notice.as_deref().and_then(|n| notice_text(&c, n, q.dept.as_deref())) {
        let role = if is_error { "alert" } else { "status" };
        let _ = write!(o, "<p class=\"notice\" role=\"{role}\">{}</p>", esc(&text));
    }
    let csrf = me.as_ref().map(|(_, t)| csrf_for(t)).unwrap_or_default();
    match &me {
        Some((r, _)) => {
            let tickets = s.queues.mine(&r.id).await.unwrap_or_default();
            let _ = write!(
                o,
                "<section aria-labelledby=\"my-h\"><h2 id=\"my-h\">{}</h2><p>{} {}</p><div id=\"my-tickets\" data-lang=\"{}\">{}</div><p id=\"live-status\" class=\"vh\" role=\"status\"></p></section>",
                l.t("あなたの番号札", "Your tickets"),
                l.t("お名前:", "Name:"),
                esc(&r.display_name),
                l.code(),
                c.tickets_html(&tickets, &csrf)
            );
            if tickets.iter().any(|t| t.status.is_active()) {
                let minutes = s.queues.no_show_after().as_secs().div_ceil(60);
                let _ = match l {
                    Lang::Ja => write!(
                        o,
                        "<p id=\"reload-hint\">このページは、ブラウザーで JavaScript が使えるときは自動で更新されます。使えないときは、ときどき「最新の状態に更新」を押して呼び出しを確認してください。呼ばれてから {minutes} 分以内に窓口へお越しください。</p>"
                    ),
                    Lang::En => write!(
                        o,
                        "<p id=\"reload-hint\">This page updates itself when JavaScript is on. Without it, press \"Refresh\" now and then to see whether you are called. Once called, please come to the counter within {minutes} minutes.</p>"
                    ),
                };
            }
        }
        None => {
            let _ = write!(
                o,
                "<section aria-labelledby=\"start-h\"><h2 id=\"start-h\">{}</h2><p>{}</p><form method=\"post\" action=\"/text/start\"><input type=\"hidden\" name=\"lang\" value=\"{}\"><p><label for=\"name\">{}</label><br><input id=\"name\" name=\"name\" required maxlength=\"32\" autocomplete=\"nickname\"></p><p><button type=\"submit\">{}</button></p></form></section>",
                l.t("はじめる", "Start"),
                l.t(
                    "窓口で呼ばれるときのお名前（ニックネームで構いません）を入力してください。",
                    "Enter the name the clerk will call you by (a nickname is fine)."
                ),
                l.code(),
                l.t("お名前", "Name"),
                l.t("はじめる", "Start"),
            );
        }
    }
    let _ = write!(
        o,
        "<section aria-labelledby=\"dept-h\"><h2 id=\"dept-h\">{}</h2><table><caption class=\"vh\">{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th>{}</tr></thead><tbody>",
        l.t("課と待ち状況", "Departments and queues"),
        l.t("課ごとの受付状況、待っている人数、受付時間", "Each department's state, people waiting and opening hours"),
        l.t("課", "Department"),
        l.t("受付", "Status"),
        l.t("待っている人", "Waiting"),
        l.t("受付時間", "Hours"),
        if me.is_some() { format!("<th scope=\"col\">{}</th>", l.t("番号札", "Ticket")) } else { String::new() },
    );
    for d in &depts {
        let name = esc(l.t(&d.name_ja, &d.name_en));
        let state = if d.open {
            match l {
                Lang::Ja => format!("受付中（窓口 {} か所）", d.open_desks),
                Lang::En => {
                    format!("open ({} counter{} staffed)", d.open_desks, if d.open_desks == 1 { "" } else { "s" })
                }
            }
        } else {
            let next = office
                .hours_of(&d.id)
                .and_then(|h| h.next_opening(crate::db::now_ms(), office.utc_offset_min))
                .map(|ms| when(l, ms, office.utc_offset_min));
            match (l, next) {
                (Lang::Ja, Some(n)) => format!("受付時間外（次の受付: {n}）"),
                (Lang::En, Some(n)) => format!("closed (opens {n})"),
                (_, None) => l.t("受付時間外", "closed").into(),
            }
        };
        let waiting = match l {
            Lang::Ja => format!("{} 人", d.waiting),
            Lang::En => format!("{}", d.waiting),
        };
        let hours = office.hours_of(&d.id).map(|h| describe_hours(l, h)).unwrap_or_default();
        let _ = write!(
            o,
            "<tr><th scope=\"row\">{name}</th><td>{}</td><td>{waiting}</td><td>{}</td>",
            esc(&state),
            esc(&hours)
        );
        if me.is_some() {
            if d.open {
                let _ = write!(
                    o,
                    "<td><form method=\"post\" action=\"/text/tickets\"><input type=\"hidden\" name=\"department\" value=\"{}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"lang\" value=\"{}\"><button type=\"submit\">{}<span class=\"vh\">（{name}）</span></button></form></td>",
                    esc(&d.id),
                    l.code(),
                    l.t("番号札を取る", "Take a ticket"),
                );
            } else {
                let _ = write!(o, "<td>—</td>");
            }
        }
        o.push_str("</tr>");
    }
    o.push_str("</tbody></table></section>");
    if me.is_some() {
        let _ = write!(
            o,
            "<form method=\"post\" action=\"/text/leave\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"lang\" value=\"{}\"><p><button type=\"submit\" class=\"secondary\">{}</button></p></form>",
            l.code(),
            l.t("終了する（この端末から番号札の情報を消す）", "Finish (forget this session on this device)"),
        );
    }
    let _ = write!(
        o,
        "<p><a href=\"/text?lang={}\">{}</a></p></main><script src=\"/text/live.js\" defer></script></body></html>",
        l.code(),
        l.t("最新の状態に更新", "Refresh"),
    );
    html(StatusCode::OK, o)
}

fn back(lang: &str, notice: &str, dept: Option<&str>) -> String {
    let lang = if lang == "en" { "en" } else { "ja" };
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

/// Whether a form post comes from this site: browsers say where a request comes from
/// (`Sec-Fetch-Site`, `Origin`); a post from another site is refused.
fn same_origin(headers: &HeaderMap) -> bool {
    let get = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    match (get("origin"), get("host")) {
        (Some(origin), Some(host)) => origin.split_once("://").map(|(_, a)| a) == Some(host),
        _ => true,
    }
}

async fn start(
    State(s): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<StartForm>,
) -> Response {
    if !same_origin(&headers) {
        return (StatusCode::FORBIDDEN, "cross-site form").into_response();
    }
    if s.guest_limit.check(super::ratelimit::address_key(peer.ip())).is_err() {
        return see_other(&back(&f.lang, "rate_limited", None), None);
    }
    let name = crate::chat::clean_text(&f.name);
    if name.is_empty() || name.chars().count() > madoguchi_shared::limits::NAME_MAX_CHARS {
        return see_other(&back(&f.lang, "name", None), None);
    }
    let locale = if f.lang == "en" { "en" } else { "ja" };
    match sessions::create_guest(&s.db, &name, locale).await {
        Ok((_, token)) => {
            let lang = if f.lang == "en" { "en" } else { "ja" };
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

fn queue_notice(e: &QueueError) -> &'static str {
    match e {
        QueueError::Closed { .. } => "queue_closed",
        QueueError::Exists(_) | QueueError::TargetHasTicket => "ticket_exists",
        QueueError::RateLimited(_) => "rate_limited",
        QueueError::UnknownDepartment | QueueError::UnknownCounter => "unknown_department",
        QueueError::NoTicket => "no_ticket",
        _ => "unavailable",
    }
}

/// The resident behind the cookie, if the form's token matches their session.
async fn authorised(s: &HttpState, headers: &HeaderMap, csrf: &str) -> Option<Resident> {
    let (r, token) = resident(s, headers).await?;
    let expected = csrf_for(&token);
    // Constant-time enough: both are fixed-length hex of a hash.
    (expected.len() == csrf.len() && expected.bytes().zip(csrf.bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0)
        .then_some(r)
}

async fn take(State(s): State<HttpState>, headers: HeaderMap, Form(f): Form<TicketForm>) -> Response {
    let Some(r) = authorised(&s, &headers, &f.csrf).await else {
        return see_other(&back(&f.lang, "session", None), None);
    };
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

async fn cancel(
    State(s): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let Some(r) = authorised(&s, &headers, &f.csrf).await else {
        return see_other(&back(&f.lang, "session", None), None);
    };
    match s.queues.cancel(&r.id, id).await {
        Ok(_) => see_other(&back(&f.lang, "cancelled", None), None),
        Err(e) => see_other(&back(&f.lang, queue_notice(&e), None), None),
    }
}

async fn arrived(
    State(s): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let Some(r) = authorised(&s, &headers, &f.csrf).await else {
        return see_other(&back(&f.lang, "session", None), None);
    };
    match s.queues.arrived(&r.id, id).await {
        Ok(_) => see_other(&back(&f.lang, "arrived", None), None),
        Err(e) => see_other(&back(&f.lang, queue_notice(&e), None), None),
    }
}

async fn leave(State(s): State<HttpState>, headers: HeaderMap, Form(f): Form<CsrfForm>) -> Response {
    let lang = if f.lang == "en" { "en" } else { "ja" };
    // Only a form of this session may end it: another site cannot log a resident out.
    if authorised(&s, &headers, &f.csrf).await.is_none() {
        return see_other(&back(lang, "session", None), None);
    }
    if let Some(token) = cookie_token(&headers) {
        let _ = sessions::revoke(&s.db, &token).await;
    }
    see_other(&format!("/text?lang={lang}"), Some(format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")))
}

/// Live updates of the resident's ticket section, as server-sent events: an event `tickets`
/// whose data is the section's HTML, first on connecting (so a reconnect misses nothing) and
/// then whenever it changes. The stream keeps the session alive while the page is open, and
/// ends when the session does.
async fn events(State(s): State<HttpState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let Some((r, token)) = resident(&s, &headers).await else {
        return (StatusCode::UNAUTHORIZED, "no session").into_response();
    };
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    let csrf = csrf_for(&token);
    let rx = s.queues.subscribe();
    struct Live {
        rx: tokio::sync::broadcast::Receiver<std::sync::Arc<crate::queue::QueueChange>>,
        s: HttpState,
        resident: String,
        token: String,
        csrf: String,
        last: Option<String>,
        touch: tokio::time::Interval,
    }
    let mut touch = tokio::time::interval(Duration::from_secs(5 * 60));
    touch.reset(); // the first touch is due in five minutes, not now
    let live = Live { rx, s: s.clone(), resident: r.id, token, csrf, last: None, touch };
    let stream = futures_util::stream::unfold(live, move |mut st| async move {
        loop {
            if st.last.is_some() {
                tokio::select! {
                    msg = st.rx.recv() => match msg {
                        Ok(change) if !change.tickets.iter().any(|(owner, _)| *owner == st.resident) => continue,
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    },
                    _ = st.touch.tick() => {
                        // Resuming touches the session; a session that ended ends the stream.
                        match sessions::resume(&st.s.db, &st.token).await {
                            Ok(Some(_)) => continue,
                            _ => return None,
                        }
                    }
                }
            }
            let tickets = st.s.queues.mine(&st.resident).await.unwrap_or_default();
            let body = Ctx { s: &st.s, lang }.tickets_html(&tickets, &st.csrf);
            if st.last.as_deref() == Some(body.as_str()) {
                continue;
            }
            st.last = Some(body.clone());
            let ev = Event::default().event("tickets").data(body);
            return Some((Ok::<_, Infallible>(ev), st));
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

/// The progressive enhancement: replace the ticket section when the server says it changed.
const LIVE_JS: &str = r#""use strict";
(function () {
  var box = document.getElementById("my-tickets");
  var status = document.getElementById("live-status");
  if (!box || !window.EventSource) return;
  var hint = document.getElementById("reload-hint");
  var es = new EventSource("/text/events?lang=" + encodeURIComponent(box.getAttribute("data-lang") || "ja"));
  es.addEventListener("tickets", function (e) {
    if (box.innerHTML === e.data) return;
    // Keep keyboard focus on the same button when the section is redrawn.
    var active = document.activeElement;
    var form = active && box.contains(active) && active.form ? active.form.getAttribute("action") : null;
    var wasCalled = !!box.querySelector("[data-called]");
    box.innerHTML = e.data;
    if (form) {
      var again = box.querySelector('form[action="' + form + '"] button');
      if (again) again.focus();
    }
    var called = box.querySelector("[data-called]");
    if (called && !wasCalled) {
      document.title = "\u2757 " + document.title.replace(/^\u2757 /, "");
      try { navigator.vibrate && navigator.vibrate([300, 100, 300]); } catch (_) {}
    } else if (status) {
      // A short, polite summary for screen readers; a call is announced by its own alert.
      var first = box.querySelector(".ticket p:nth-of-type(2)");
      status.textContent = first ? first.textContent : "";
    }
  });
  if (hint) hint.hidden = true;
  document.documentElement.setAttribute("data-live", "1");
})();
"#;

async fn live_js() -> Response {
    let mut r = LIVE_JS.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_cookies() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; madoguchi_session=abc; b=2"));
        assert_eq!(cookie_token(&h).as_deref(), Some("abc"));
        assert_eq!(csrf_for("abc").len(), 32);
        assert_ne!(csrf_for("abc"), csrf_for("abd"));
        assert_eq!(back("en", "taken", Some("welfare\"><script>")), "/text?lang=en&notice=taken");
    }
}
