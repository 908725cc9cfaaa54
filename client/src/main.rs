//! `madoguchi-client`: the desktop client (`madoguchi-client --server http://host:8080`), and
//! the browser client's entry point when built for wasm32.

use madoguchi_client::connection::{JoinRequest, ServerConfig};
use madoguchi_client::i18n::Lang;

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
        /// Your display name. Without it, the app enters as the resident of the session it kept
        /// for this office (in `$XDG_STATE_HOME/madoguchi/`, `~/.local/state/madoguchi/`: a
        /// restart keeps the ticket), or opens on the join screen, which also offers the office's
        /// sign-in.
        #[arg(long)]
        name: Option<String>,
        /// ja, ja-easy (やさしい日本語), en, zh-Hans, ko or vi.
        #[arg(long, default_value = "ja")]
        lang: String,
        /// Sign in with this provider of the office first (its id, e.g. from the text mode's
        /// sign-in links), in the system browser; the office's address must be reachable from it.
        #[arg(long)]
        sign_in: Option<String>,
        /// How your avatar looks, as `COLOUR,SHAPE` (colour 0–7: red, orange, yellow, green,
        /// teal, blue, purple, pink; shape 0–2: round, square, pointed). Without it, the join
        /// screen's choice, or a look that follows from your name.
        #[arg(long, value_parser = parse_look)]
        look: Option<madoguchi_shared::protocol::Look>,
        /// Save a PNG of the window to this file after a few seconds in the office, then exit.
        #[arg(long)]
        screenshot: Option<std::path::PathBuf>,
    }
    let a = Args::parse();
    let lang = Lang::from_code(&a.lang);
    let server = ServerConfig { http_base: a.server.trim_end_matches('/').to_string() };
    if let Some(file) = madoguchi_client::platform::session_file(&server.http_base) {
        madoguchi_client::platform::keep_session_in(file);
    }
    let mut name = a.name;
    let mut session = None;
    if let Some(provider) = &a.sign_in {
        let opened = |url: &str| madoguchi_client::platform::open_in_browser(url, "to sign in");
        // A guest session kept from before comes along.
        let guest = madoguchi_client::platform::stored_session();
        match madoguchi_client::join::signin::desktop(&server.http_base, provider, lang, opened, guest.as_deref()) {
            Ok(signed) => {
                eprintln!("signed in as {}", signed.display_name);
                name = name.or(Some(signed.display_name));
                madoguchi_client::platform::remember_session(&signed.token);
                session = Some(signed.token);
            }
            Err(e) => {
                eprintln!("could not sign in: {e}");
                return bevy::prelude::AppExit::from_code(5);
            }
        }
    }
    // A session kept from before: in again as its resident.
    if name.is_none()
        && let Some(token) = madoguchi_client::platform::stored_session()
    {
        name = madoguchi_client::join::signin::kept_resident(&server.http_base, &token);
    }
    let join = name.map(|name| JoinRequest { name, locale: lang.code().to_string(), look: a.look });
    let mut app = madoguchi_client::windowed_app(server, join, lang);
    if let Some(token) = session {
        app.insert_resource(madoguchi_client::connection::SessionToken(Some(token)));
    }
    if let Some(path) = a.screenshot {
        app.insert_resource(madoguchi_client::room::ScreenshotPlan {
            path,
            after: std::time::Duration::from_secs(3),
            deadline: std::time::Duration::from_secs(60),
        });
    }
    app.run()
}

#[cfg(not(target_arch = "wasm32"))]
fn parse_look(v: &str) -> Result<madoguchi_shared::protocol::Look, String> {
    let (c, s) = v.split_once(',').ok_or("COLOUR,SHAPE, e.g. 1,0")?;
    let look = madoguchi_shared::protocol::Look {
        color: c.trim().parse().map_err(|e| format!("colour: {e}"))?,
        shape: s.trim().parse().map_err(|e| format!("shape: {e}"))?,
    };
    if look.is_valid() { Ok(look) } else { Err("colour 0-7, shape 0-2".into()) }
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
    let lang = Lang::from_code(&param("lang").unwrap_or_else(|| "ja".into()));
    // The look picked on the form (a half not picked follows from the name, as does a look
    // not picked at all).
    let pick = |key: &str| param(key).and_then(|v| v.parse::<u8>().ok());
    let join = param("name").filter(|n| !n.trim().is_empty()).map(|name| {
        let from_name = madoguchi_shared::protocol::Look::for_name(&name);
        let (color, shape) = (pick("color"), pick("shape"));
        let look = madoguchi_shared::protocol::Look {
            color: color.unwrap_or(from_name.color),
            shape: shape.unwrap_or(from_name.shape),
        };
        let look = Some(look).filter(|l| (color.is_some() || shape.is_some()) && l.is_valid());
        JoinRequest { name, locale: lang.code().to_string(), look }
    });
    madoguchi_client::windowed_app(ServerConfig { http_base: origin }, join, lang).run();
}
