//! `madoguchi-client`: the desktop client (`madoguchi-client --server http://host:8080`), and
//! the browser client's entry point when built for wasm32.

use madoguchi_client::hud::UiLang;
use madoguchi_client::net::{JoinRequest, ServerConfig};

#[cfg(not(target_arch = "wasm32"))]
fn main() -> bevy::prelude::AppExit {
    use clap::Parser;
    /// The Madoguchi desktop client.
    #[derive(Parser)]
    #[command(name = "madoguchi-client", version, about)]
    struct Args {
        /// The office's HTTP address.
        #[arg(long, env = "MADOGUCHI_SERVER", default_value = "http://127.0.0.1:8080")]
        server: String,
        /// Your display name.
        #[arg(long, default_value = "ゲスト")]
        name: String,
        /// ja or en.
        #[arg(long, default_value = "ja")]
        lang: String,
    }
    let a = Args::parse();
    let lang = if a.lang == "en" { UiLang::En } else { UiLang::Ja };
    let server = ServerConfig { http_base: a.server.trim_end_matches('/').to_string() };
    let join = JoinRequest { name: a.name, locale: a.lang };
    madoguchi_client::windowed_app(server, Some(join), lang).run()
}

#[cfg(target_arch = "wasm32")]
fn main() {
    // The page's own origin is the office; the join form put name and language in the query.
    let window = web_sys::window().expect("a browser window");
    let location = window.location();
    let origin = location.origin().unwrap_or_default();
    let search = location.search().unwrap_or_default();
    let param = |key: &str| {
        search.trim_start_matches('?').split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == key).then(|| js_sys::decode_uri_component(&v.replace('+', " ")).ok().map(String::from)).flatten()
        })
    };
    let lang_code = param("lang").unwrap_or_else(|| "ja".into());
    let lang = if lang_code == "en" { UiLang::En } else { UiLang::Ja };
    let join =
        param("name").filter(|n| !n.trim().is_empty()).map(|name| JoinRequest { name, locale: lang_code.clone() });
    madoguchi_client::windowed_app(ServerConfig { http_base: origin }, join, lang).run();
}
