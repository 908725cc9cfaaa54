//! What differs between the desktop and the browser: running a request off the frame loop,
//! keeping the session, the page's boxes and overlays, sounds. (The transports are the
//! connection's: `connection::transport`.)

#[cfg(not(target_arch = "wasm32"))]
pub use native::*;
#[cfg(target_arch = "wasm32")]
pub use web::*;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::time::{SystemTime, UNIX_EPOCH};

    /// Runs `f` on its own thread with a small async runtime.
    pub fn spawn<F: std::future::Future<Output = ()> + Send + 'static>(f: F) {
        std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                rt.block_on(f);
            }
        });
    }

    static SESSION_FILE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

    /// Where the desktop client keeps its session for the office at `http_base`, so that a
    /// restart keeps the ticket, as a reload does in the browser: one file per office under
    /// `$XDG_STATE_HOME/madoguchi` (`~/.local/state/madoguchi`), readable by the user only.
    pub fn session_file(http_base: &str) -> Option<std::path::PathBuf> {
        use sha2::Digest;
        let dir = std::env::var_os("XDG_STATE_HOME")
            .filter(|d| !d.is_empty())
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".local/state")))?;
        let office: String =
            sha2::Sha256::digest(http_base.as_bytes())[..8].iter().map(|b| format!("{b:02x}")).collect();
        Some(dir.join("madoguchi").join(format!("session-{office}")))
    }

    /// Keeps the session in `path` from now on (see [`session_file`]); without it, in memory.
    pub fn keep_session_in(path: std::path::PathBuf) {
        let _ = SESSION_FILE.set(path);
    }

    pub fn remember_session(token: &str) {
        use std::io::Write;
        let Some(path) = SESSION_FILE.get() else { return };
        let written = path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|_| {
            let tmp = path.with_extension("part");
            let mut open = std::fs::OpenOptions::new();
            open.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
            let mut f = open.open(&tmp)?;
            f.write_all(token.as_bytes())?;
            std::fs::rename(&tmp, path)
        });
        if let Err(e) = written {
            eprintln!("could not keep the session in {}: {e}", path.display());
        }
    }

    pub fn forget_session() {
        if let Some(path) = SESSION_FILE.get() {
            let _ = std::fs::remove_file(path);
        }
    }

    /// The desktop has no page chat box: the chat line is typed in the window.
    pub fn focus_page_chat() -> bool {
        false
    }

    pub fn take_page_chat() -> Vec<String> {
        Vec::new()
    }

    /// The desktop has no page with a counters list.
    pub fn take_page_go() -> Option<String> {
        None
    }

    /// The desktop speaks of keys until a touch arrives.
    pub fn touch_screen() -> bool {
        false
    }

    /// The call chime. The desktop build links no audio backend (it would need ALSA at build
    /// time), so there the banner is the only signal; the terminal gets a bell.
    pub fn chime() {
        eprint!("\x07");
    }

    /// A number in [0, 1) that differs between clients and attempts: the reconnect jitter.
    pub fn random_unit() -> f32 {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos());
        (h.finish() >> 40) as f32 / (1u64 << 24) as f32
    }

    pub fn stored_session() -> Option<String> {
        let token = std::fs::read_to_string(SESSION_FILE.get()?).ok()?;
        let token = token.trim();
        (!token.is_empty() && token.len() <= 128 && token.bytes().all(|b| b.is_ascii_graphic()))
            .then(|| token.to_string())
    }

    /// Opens the consultation page in the system browser.
    pub fn open_consultation(url: &str) {
        open_in_browser(url, "to join the consultation");
    }

    /// Opens `url` in the system browser (`xdg-open`; `open` on macOS), or says where to go.
    pub fn open_in_browser(url: &str, why: &str) {
        let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
        match std::process::Command::new(opener).arg(url).spawn() {
            Ok(_) => eprintln!("opened in your web browser {why}"),
            Err(e) => eprintln!("open {url} in a web browser {why} ({opener}: {e})"),
        }
    }

    /// The system browser's page ends by itself when the consultation does.
    pub fn close_consultation() {}

    /// A desktop window draws at its own resolution (see [`crate::performance`]).
    pub const SCALES_RESOLUTION: bool = false;

    pub fn set_render_scale(_k: f32) {}
}

#[cfg(target_arch = "wasm32")]
mod web {
    use wasm_bindgen::JsCast;

    /// Runs `f` as a promise.
    pub fn spawn<F: std::future::Future<Output = ()> + 'static>(f: F) {
        wasm_bindgen_futures::spawn_local(f);
    }

    const KEY: &str = "madoguchi.session";

    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok()?
    }

    /// Keeps the session in local storage: a reload (or a lost network) keeps the ticket.
    pub fn remember_session(token: &str) {
        if let Some(s) = storage() {
            let _ = s.set_item(KEY, token);
        }
    }

    pub fn stored_session() -> Option<String> {
        storage()?.get_item(KEY).ok()?
    }

    /// Forgets an ended session, so a reload does not try it again.
    pub fn forget_session() {
        if let Some(s) = storage() {
            let _ = s.remove_item(KEY);
        }
    }

    /// Moves the keyboard to the page's chat box (`#chat-input`, see play.html), where the
    /// system's IME works. False when the page has none.
    pub fn focus_page_chat() -> bool {
        let el = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("chat-input"));
        el.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()).is_some_and(|e| e.focus().is_ok())
    }

    /// Lines sent from the page's chat box since the last call (`window.__madoguchiChat`).
    pub fn take_page_chat() -> Vec<String> {
        let Some(w) = web_sys::window() else { return Vec::new() };
        let key = wasm_bindgen::JsValue::from_str("__madoguchiChat");
        let Some(list) = js_sys::Reflect::get(&w, &key).ok().and_then(|v| v.dyn_into::<js_sys::Array>().ok()) else {
            return Vec::new();
        };
        if list.length() == 0 {
            return Vec::new();
        }
        let lines = list.iter().filter_map(|v| v.as_string()).collect();
        let _ = js_sys::Reflect::set(&w, &key, &js_sys::Array::new());
        lines
    }

    /// The counter chosen in the page's "go to a counter" list since the last call
    /// (`window.__madoguchiGo`, see play.html).
    pub fn take_page_go() -> Option<String> {
        let w = web_sys::window()?;
        let key = wasm_bindgen::JsValue::from_str("__madoguchiGo");
        let list = js_sys::Reflect::get(&w, &key).ok()?.dyn_into::<js_sys::Array>().ok()?;
        if list.length() == 0 {
            return None;
        }
        let _ = js_sys::Reflect::set(&w, &key, &js_sys::Array::new());
        list.get(0).as_string()
    }

    /// Whether the device has a touch screen (`navigator.maxTouchPoints`): the hints then speak
    /// of tapping, not of keys, until a key is pressed.
    pub fn touch_screen() -> bool {
        let Some(w) = web_sys::window() else { return false };
        js_sys::Reflect::get(&w, &"navigator".into())
            .and_then(|n| js_sys::Reflect::get(&n, &"maxTouchPoints".into()))
            .ok()
            .and_then(|v| v.as_f64())
            .is_some_and(|n| n > 0.0)
    }

    const OVERLAY: &str = "consultation";

    /// Shows the consultation page over the canvas (full screen: on a phone it is all there is
    /// to see while it runs). The page asks for the camera and microphone itself.
    pub fn open_consultation(url: &str) {
        let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
        close_consultation();
        let Ok(frame) = doc.create_element("iframe") else { return };
        let _ = frame.set_attribute("id", OVERLAY);
        let _ = frame.set_attribute("src", url);
        let _ = frame.set_attribute("title", "窓口でのご相談 / Consultation");
        let _ = frame.set_attribute("allow", "camera; microphone; autoplay");
        let _ = frame.set_attribute(
            "style",
            "position:fixed;inset:0;width:100%;height:100%;border:0;background:#fff;z-index:20",
        );
        if let Some(body) = doc.body() {
            let _ = body.append_child(&frame);
        }
    }

    /// The browser game can draw at a lower resolution (see [`set_render_scale`]).
    pub const SCALES_RESOLUTION: bool = true;

    /// Draws the game at `k` times the page's resolution, stretched to fill the page: the canvas
    /// is laid out `k` times as large (the client then renders that many pixels; the UI follows
    /// through `UiScale`) and scaled up by a CSS transform. Pointer positions come in the
    /// canvas's own, untransformed coordinates, so clicks and taps land where they did.
    pub fn set_render_scale(k: f32) {
        let Some(canvas) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id("madoguchi"))
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        else {
            return;
        };
        let style = canvas.style();
        let percent = format!("{}%", k * 100.0);
        let _ = style.set_property("width", &percent);
        let _ = style.set_property("height", &percent);
        if k < 1.0 {
            let _ = style.set_property("transform", &format!("scale({})", 1.0 / k));
            let _ = style.set_property("transform-origin", "0 0");
        } else {
            let _ = style.remove_property("transform");
        }
    }

    /// Takes the consultation page away (it has ended).
    pub fn close_consultation() {
        if let Some(el) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id(OVERLAY)) {
            el.remove();
        }
    }

    /// The call chime, played by the page (`window.__madoguchiChime`, Web Audio).
    pub fn chime() {
        let Some(w) = web_sys::window() else { return };
        if let Some(f) = js_sys::Reflect::get(&w, &wasm_bindgen::JsValue::from_str("__madoguchiChime"))
            .ok()
            .and_then(|v| v.dyn_into::<js_sys::Function>().ok())
        {
            let _ = f.call0(&wasm_bindgen::JsValue::NULL);
        }
    }

    /// A number in [0, 1): the reconnect jitter.
    pub fn random_unit() -> f32 {
        js_sys::Math::random() as f32
    }
}
