//! The browser client: `/play` is a small page with the join form and a progress bar of the
//! bytes fetched, its words in the language of `?lang=` or the browser's (from the Fluent
//! catalogs, like every surface); `/web/…` serves the wasm build from the web directory (`scripts/build-web`
//! writes it), the precompressed `.br` or `.gz` file when the browser accepts brotli or gzip, with cache headers.

use super::state::HttpState;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use madoguchi_shared::i18n::Lang;
use madoguchi_shared::protocol::Look;
use sha2::Digest;

pub(super) fn router() -> Router<HttpState> {
    Router::new().route("/play", get(play)).route("/web/{file}", get(file))
}

/// The files a build has, and their types. Nothing else is served from the directory.
fn content_type(name: &str) -> Option<&'static str> {
    match name.rsplit_once('.')?.1 {
        "wasm" => Some("application/wasm"),
        "js" => Some("text/javascript; charset=utf-8"),
        "ttf" | "otf" => Some("font/ttf"),
        "txt" => Some("text/plain; charset=utf-8"),
        _ => None,
    }
}

async fn file(State(s): State<HttpState>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    let ok_name = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    let Some(ctype) = content_type(&name).filter(|_| ok_name) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let Some(dir) = s.web_dir.as_deref() else {
        return (StatusCode::NOT_FOUND, "the browser client is not built (scripts/build-web)").into_response();
    };
    let path = dir.join(&name);
    let Ok(meta) = tokio::fs::metadata(&path).await else {
        return (StatusCode::NOT_FOUND, "not found; build the browser client with scripts/build-web").into_response();
    };
    let accepted = accepted_encodings(&headers);
    let modified = meta.modified().ok();
    // Brotli when the browser takes it (browsers offer it over HTTPS and on localhost; about a
    // third smaller than gzip for the wasm), else gzip, else the file as built. A compressed
    // copy older than the file (a rebuild without recompressing) is not used.
    let mut encoding = None;
    for (enc, ext) in [("br", "br"), ("gzip", "gz")] {
        if !accepted.contains(&enc) {
            continue;
        }
        let fresh =
            tokio::fs::metadata(dir.join(format!("{name}.{ext}"))).await.is_ok_and(|m| m.modified().ok() >= modified);
        if fresh {
            encoding = Some((enc, ext));
            break;
        }
    }
    // One strong validator per representation: the encoding is part of the tag.
    let since_epoch = modified.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).unwrap_or_default();
    let etag = format!("\"{:x}-{:x}-{}\"", meta.len(), since_epoch.as_secs(), encoding.map_or("id", |e| e.1));
    let validators = |h: &mut HeaderMap| {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if let Ok(v) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, v);
        }
    };
    let if_none_match = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if if_none_match.split(',').any(|t| t.trim() == etag) {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        validators(r.headers_mut());
        return r;
    }
    let file = match encoding {
        Some((_, ext)) => dir.join(format!("{name}.{ext}")),
        None => path.clone(),
    };
    let Ok(bytes) = tokio::fs::read(&file).await else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let encoding = encoding.map(|e| e.0);
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    // Revalidate each load (cheap: an ETag), so a new build is picked up at once.
    validators(h);
    // The size after decoding, for the loading page's progress bar.
    if let Ok(v) = HeaderValue::from_str(&meta.len().to_string()) {
        h.insert("x-decoded-length", v);
    }
    if let Some(enc) = encoding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(enc));
    }
    r
}

/// The content codings of an `Accept-Encoding` header that are not refused with `q=0`.
fn accepted_encodings(headers: &HeaderMap) -> Vec<&'static str> {
    let header = headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok());
    let mut out = Vec::new();
    for item in header.flat_map(|v| v.split(',')) {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or_default().to_ascii_lowercase();
        let refused = parts.any(|p| {
            let p = p.to_ascii_lowercase();
            p.strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()) == Some(0.0)
        });
        let known = match coding.as_str() {
            "br" => "br",
            "gzip" => "gzip",
            _ => continue,
        };
        if !refused {
            out.push(known);
        }
    }
    out
}

const PLAY: &str = include_str!("play.html");

/// The page's Content-Security-Policy: scripts only from here and the page's own inline module
/// (by its hash), WebAssembly compiled from them, connections only back to this origin (the
/// API and the world WebSocket), no plugins, frames or foreign form targets.
static PLAY_CSP: std::sync::LazyLock<HeaderValue> = std::sync::LazyLock::new(|| {
    let script = inline_script(PLAY).unwrap_or_default();
    let hash = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, sha2::Sha256::digest(script));
    let policy = format!(
        "default-src 'self'; script-src 'self' 'sha256-{hash}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy).expect("an ASCII policy")
});

/// The text of a page's one inline `<script …>…</script>`.
fn inline_script(page: &str) -> Option<&str> {
    let open = page.find("<script")?;
    let body = open + page[open..].find('>')? + 1;
    let end = body + page[body..].find("</script>")?;
    Some(&page[body..end])
}

#[derive(serde::Deserialize)]
struct PlayQuery {
    lang: Option<String>,
}

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, for HTML text and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

/// The play page in `lang`: every `{{id}}` outside its script replaced by that message
/// (escaped), `{{office}}`, `{{lang}}`, `{{html-lang}}` and `{{lang-options}}` by what they name.
fn play_page(s: &HttpState, lang: Lang) -> String {
    let office = lang.name(&s.queues.office().name).into_owned();
    let options: String = Lang::ALL
        .iter()
        .map(|l| {
            let selected = if *l == lang { " selected" } else { "" };
            format!(r#"<option value="{}" lang="{}"{selected}>{}</option>"#, l.code(), l.html_lang(), l.endonym())
        })
        .collect();
    // Sign-in links, when the office has providers (the page's script begins a guest's own).
    let providers = s.oidc.offered();
    let signin = if providers.is_empty() {
        String::new()
    } else {
        let links: String = providers
            .iter()
            .map(|(id, name)| {
                let words = s.words.format(lang, "text-signin-with", &[("provider", lang.name(name).into_owned().into())]);
                format!(
                    r#"<li><a href="/auth/oidc/{id}/start?lang={code}&amp;back=play" data-provider="{id}" data-lang="{code}">{words}</a></li>"#,
                    id = escape(id),
                    code = lang.code(),
                    words = escape(&words)
                )
            })
            .collect();
        format!(
            r#"<p id="signin-intro">{}</p><ul id="signin">{links}</ul>"#,
            escape(&s.words.format(lang, "play-signin", &[]))
        )
    };
    // The counters to go to, by department: the client walks there and takes a ticket.
    let counters: String = s
        .queues
        .office()
        .rooms
        .iter()
        .flat_map(|r| r.file.counters.iter())
        .map(|c| {
            let department = s.queues.office().department(&c.department).map(|d| lang.name(&d.name).into_owned());
            format!(
                r#"<li><button type="button" data-counter="{id}">{label} {department}</button></li>"#,
                id = escape(&c.id),
                label = escape(&c.id.to_uppercase()),
                department = escape(&department.unwrap_or_default())
            )
        })
        .collect();
    // The look: a radio per colour (a swatch) and per shape; none is checked, so that a resident
    // who picks nothing gets the look that follows from their name.
    let colors: String = Look::PALETTE
        .iter()
        .enumerate()
        .map(|(i, [r, g, b])| {
            let name = s.words.format(lang, &format!("look-color-{i}"), &[]);
            format!(
                r#"<label class="sw" style="background:rgb({r},{g},{b})"><input type="radio" name="color" value="{i}" aria-label="{name}"></label>"#,
                name = escape(&name)
            )
        })
        .collect();
    let shapes: String = Look::SHAPE_WORDS
        .iter()
        .enumerate()
        .map(|(i, id)| {
            format!(
                r#"<label><input type="radio" name="shape" value="{i}"> {}</label>"#,
                escape(&s.words.format(lang, id, &[]))
            )
        })
        .collect();
    let mut out = String::with_capacity(PLAY.len() + 512);
    let mut rest = PLAY;
    while let Some(open) = rest.find("{{") {
        let Some(len) = rest[open..].find("}}") else { break };
        out.push_str(&rest[..open]);
        let id = &rest[open + 2..open + len];
        match id {
            "office" => out.push_str(&escape(&office)),
            "lang" => out.push_str(lang.code()),
            "html-lang" => out.push_str(lang.html_lang()),
            "lang-options" => out.push_str(&options),
            "signin" => out.push_str(&signin),
            "counters" => out.push_str(&counters),
            "look-colors" => out.push_str(&colors),
            "look-shapes" => out.push_str(&shapes),
            _ => out.push_str(&escape(&s.words.format(lang, id, &[("office", office.as_str().into())]))),
        }
        rest = &rest[open + len + 2..];
    }
    out.push_str(rest);
    out
}

async fn play(State(s): State<HttpState>, headers: HeaderMap, Query(q): Query<PlayQuery>) -> Response {
    let lang = super::pages::pick_lang(q.lang.as_deref(), &headers);
    let mut r = play_page(&s, lang).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_SECURITY_POLICY, PLAY_CSP.clone());
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_play_page_has_one_inline_script_and_the_policy_names_its_hash() {
        assert_eq!(PLAY.matches("<script").count(), 1, "the policy allows one inline script");
        let script = inline_script(PLAY).unwrap();
        assert!(!script.contains("{{"), "the script is the same in every language (its hash is in the policy)");
        let words = madoguchi_shared::i18n::Catalog::new();
        let mut rest = PLAY;
        while let Some(open) = rest.find("{{") {
            let len = rest[open..].find("}}").expect("closed");
            let id = &rest[open + 2..open + len];
            let fixed =
                ["office", "lang", "html-lang", "lang-options", "signin", "counters", "look-colors", "look-shapes"]
                    .contains(&id);
            for lang in Lang::ALL {
                assert!(fixed || words.has(lang, id), "{id} is not a message");
            }
            rest = &rest[open + len + 2..];
        }
        assert!(script.contains("import") || script.len() > 100, "{script}");
        let csp = PLAY_CSP.to_str().unwrap();
        assert!(csp.contains("'sha256-") && csp.contains("connect-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-eval'") || csp.contains("'wasm-unsafe-eval'"), "{csp}");
    }
}
