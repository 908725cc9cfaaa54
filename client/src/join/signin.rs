//! Signing in from the desktop client (RFC 8252: the system browser and a loopback redirect).
//!
//! The app listens on a free port of 127.0.0.1, makes a PKCE verifier, and asks the office to
//! begin a sign-in that comes back to that port (`POST /api/v1/signin/{provider}` with
//! `back = loopback`, the port and the verifier's S256 challenge). It opens the office's start
//! address in the system browser; the resident signs in with the provider there; the office
//! sends the browser to `http://127.0.0.1:<port>/signed-in?code=…`. The app answers the browser
//! with a page saying it may be closed, and trades the code, with its verifier, for the session
//! (`POST /api/v1/sessions/handoff`): a code caught by anyone else is useless without it.
//!
//! In the app, the office's providers (`GET /api/v1/signin`) are buttons on the join screen and,
//! for a guest in the office, in its corner. A guest who signs in hands the office their guest
//! session with the code: what they did as a guest (a ticket, a draft) becomes the resident's.
//! The office then ends the guest session, which the app, waiting for the sign-in, does not take
//! for the end: it comes back as the resident.

use crate::connection::{Backoff, ConnState, JoinRequest, Link, Pending, ServerConfig, SessionToken, SignInUnderWay};
use crate::frame::Step;
use crate::http::{Job, MaybeSend};
use crate::i18n::I18n;
use base64::Engine;
use bevy::prelude::*;
use madoguchi_shared::api;
use madoguchi_shared::i18n::{Catalog, Lang};
use sha2::Digest;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// How long the app waits for the resident to finish in the browser.
const WAIT: Duration = Duration::from_secs(300);
/// The longest request the loopback listener reads.
const MAX_REQUEST: usize = 8 * 1024;

/// The session a sign-in opened.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub token: String,
    pub display_name: String,
}

fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// Signs in with `provider` at the office `base`, opening addresses with `open` (the system
/// browser). Blocks until the browser comes back, [`WAIT`] passes, or something fails. A
/// `guest` session's records move to the resident, and the guest session ends.
pub fn desktop(
    base: &str,
    provider: &str,
    lang: Lang,
    open: impl Fn(&str),
    guest: Option<&str>,
) -> anyhow::Result<SignedIn> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let http = reqwest::Client::new();
    let post = |path: String, body: &serde_json::Value, bearer: Option<&str>| {
        let mut req = http.post(format!("{base}{path}")).json(body);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        rt.block_on(crate::http::json::<serde_json::Value>(req, "sign-in"))
    };
    let start = api::StartBody {
        lang: lang.code().into(),
        back: "loopback".into(),
        port: Some(port),
        challenge: Some(s256(&verifier)),
    };
    let begin: api::StartAnswer =
        serde_json::from_value(post(api::paths::signin_provider(provider), &serde_json::to_value(start)?, None)?)?;
    open(&format!("{base}{}", begin.url));

    let words = Catalog::new();
    let deadline = Instant::now() + WAIT;
    let code = loop {
        anyhow::ensure!(Instant::now() < deadline, "nobody came back from the browser within {} s", WAIT.as_secs());
        match listener.accept() {
            Ok((stream, _)) => {
                if let Some(code) = answer(stream, &words, lang) {
                    break code;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(e.into()),
        }
    };
    let handoff = serde_json::to_value(api::HandoffBody { code, verifier: Some(verifier) })?;
    let done = match post(api::paths::HANDOFF.into(), &handoff, guest) {
        // The guest session had ended meanwhile (the office checks it before spending the
        // code): the sign-in holds without it.
        Err(e) if guest.is_some() && e.status == Some(401) => post(api::paths::HANDOFF.into(), &handoff, None)?,
        r => r?,
    };
    let done: api::HandoffAnswer = serde_json::from_value(done)?;
    Ok(SignedIn { token: done.token, display_name: done.display_name })
}

/// The name of the resident whose session the app kept (see
/// [`crate::platform::session_file`]), if the office still knows it: the app then enters as
/// them without its join screen. A session the office no longer knows is forgotten.
pub fn kept_resident(base: &str, token: &str) -> Option<String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
    let req = reqwest::Client::new().get(format!("{base}{}", api::paths::ME)).bearer_auth(token);
    match rt.block_on(crate::http::json::<api::MeBody>(req, "who am I")) {
        Ok(me) => me.resident.map(|r| r.display_name),
        Err(e) => {
            if e.status == Some(401) {
                crate::platform::forget_session();
            }
            None
        }
    }
}

/// Reads one request from the browser; answers `/signed-in?code=…` with a page saying the app
/// has it (and returns the code), anything else with 404.
fn answer(mut stream: TcpStream, words: &Catalog, lang: Lang) -> Option<String> {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_REQUEST {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let request = String::from_utf8_lossy(&buf);
    let target = request.lines().next().and_then(|l| l.strip_prefix("GET ")).and_then(|l| l.split(' ').next());
    let code = target
        .and_then(|t| t.strip_prefix("/signed-in?"))
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("code=")))
        .filter(|c| !c.is_empty() && c.len() <= 64 && c.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string);
    let (status, text) = match &code {
        Some(_) => ("200 OK", words.format(lang, "desktop-signed-in", &[])),
        None => ("404 Not Found", String::new()),
    };
    let page = format!(
        "<!doctype html><html lang=\"{}\"><meta charset=\"utf-8\"><title>Madoguchi</title><p>{}</p>",
        lang.html_lang(),
        text.replace('&', "&amp;").replace('<', "&lt;")
    );
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{page}",
        page.len()
    );
    code
}

/// The office's ways to sign in, as (id, name in the app's language); empty until they are
/// known, and when the office offers none.
#[derive(Resource, Debug, Default, Clone)]
pub struct Providers(pub Vec<(String, String)>);

/// What became of the sign-ins begun in the app.
#[derive(Resource, Default)]
pub struct SignInStatus {
    task: Option<Job<Result<SignedIn, String>>>,
    /// Why the last one failed.
    pub failed: Option<String>,
    /// The identity level of the session in the office (`guest`, `verified`), once known: a
    /// guest is offered the sign-in.
    pub level: Option<String>,
}

impl SignInStatus {
    pub fn running(&self) -> bool {
        self.task.is_some()
    }
}

/// Sign in with this provider (a button was pressed).
#[derive(Message, Debug, Clone)]
pub struct StartSignIn(pub String);

/// A sign-in button: the provider's id.
#[derive(Component)]
struct SignInButton(String);
/// The buttons' place: on the join screen, or in the office's corner.
#[derive(Component)]
struct SignInRow {
    in_office: bool,
}
/// What the sign-in is doing, under the buttons.
#[derive(Component)]
struct SignInNote;

/// A question to the office in flight, what it was about, and when to ask again after a failure.
struct Asking<K, T> {
    about: Option<K>,
    job: Option<Job<Result<T, ()>>>,
    retry_at: Option<Duration>,
}

impl<K, T> Default for Asking<K, T> {
    fn default() -> Self {
        Asking { about: None, job: None, retry_at: None }
    }
}

impl<K: PartialEq, T: MaybeSend + 'static> Asking<K, T> {
    /// The answer that came back, if any (a failure is asked again after [`RETRY`]).
    fn answer(&mut self, now: Duration) -> Option<T> {
        let got = self.job.as_ref()?.answer()?;
        self.job = None;
        match got {
            Ok(v) => Some(v),
            Err(()) => {
                self.retry_at = Some(now + RETRY);
                None
            }
        }
    }

    /// Asks (`work`), when nothing is in flight and `about` is new or a failure's wait is over.
    fn ask<F>(&mut self, about: K, now: Duration, work: impl FnOnce() -> F)
    where
        F: std::future::Future<Output = Result<T, ()>> + MaybeSend + 'static,
    {
        let due = self.about.as_ref() != Some(&about) || self.retry_at.is_some_and(|t| now >= t);
        if self.job.is_some() || !due {
            return;
        }
        *self = Asking { about: Some(about), job: Some(Job::start(work())), retry_at: None };
    }
}

/// How long a failed question to the office waits before it is asked again.
const RETRY: Duration = Duration::from_secs(15);

/// Asks the office for its providers, and again in another language when the resident picks one
/// (or [`RETRY`] after a failure).
fn fetch_providers(
    tr: Res<I18n>,
    config: Res<ServerConfig>,
    time: Res<Time<Real>>,
    mut providers: ResMut<Providers>,
    mut asking: Local<Asking<Lang, Vec<(String, String)>>>,
) {
    if let Some(list) = asking.answer(time.elapsed()) {
        providers.0 = list;
    }
    let url = format!("{}{}?lang={}", config.http_base, api::paths::SIGNIN, tr.lang.code());
    asking.ask(tr.lang, time.elapsed(), || async move {
        match crate::http::json::<api::ProvidersAnswer>(reqwest::Client::new().get(&url), "sign-in providers").await {
            Ok(b) => Ok(b.providers.into_iter().map(|p| (p.id, p.name)).collect()),
            // Unreachable for now: no buttons until it answers.
            Err(e) => {
                warn!("{e}");
                Err(())
            }
        }
    });
}

/// Puts the providers' buttons on the join screen (its first row) and in the office's lower
/// right corner, each once the office's list is known.
fn spawn_rows(
    providers: Res<Providers>,
    panel: Query<Entity, With<super::JoinPanel>>,
    rows: Query<(Entity, &SignInRow)>,
    mut commands: Commands,
) {
    // A new list (another language) replaces the buttons.
    let changed = providers.is_changed();
    if changed {
        for (e, _) in &rows {
            commands.entity(e).despawn();
        }
    }
    if providers.0.is_empty() {
        return;
    }
    let has = |in_office: bool| !changed && rows.iter().any(|(_, r)| r.in_office == in_office);
    let (join_row, office_row) = (has(false), has(true));
    let fill = |row: &mut ChildSpawnerCommands| {
        for (id, _) in &providers.0 {
            row.spawn((
                Button,
                BackgroundColor(Color::srgb(0.05, 0.45, 0.3)),
                crate::screen::button_node(),
                SignInButton(id.clone()),
            ))
            .with_child((
                Text::new(""),
                TextFont { font_size: FontSize::Px(16.0), ..default() },
                TextColor(Color::WHITE),
            ));
        }
        row.spawn((
            Text::new(""),
            TextFont { font_size: FontSize::Px(15.0), ..default() },
            TextColor(Color::srgb(0.05, 0.05, 0.1)),
            SignInNote,
        ));
    };
    if !join_row && let Ok(panel) = panel.single() {
        let row = commands
            .spawn((
                Node {
                    flex_direction: FlexDirection::Row,
                    flex_wrap: FlexWrap::Wrap,
                    align_items: AlignItems::Center,
                    ..default()
                },
                SignInRow { in_office: false },
            ))
            .with_children(fill)
            .id();
        // The panel may go in this same frame (the resident joined): then the row goes too.
        commands.queue(move |world: &mut World| match world.get_entity_mut(panel) {
            Ok(mut panel) => {
                panel.insert_children(0, &[row]);
            }
            Err(_) => {
                world.despawn(row);
            }
        });
    }
    if office_row {
        return;
    }
    commands
        .spawn((
            Node {
                position_type: PositionType::Absolute,
                right: Val::Px(10.0),
                bottom: Val::Px(10.0),
                flex_direction: FlexDirection::Column,
                align_items: AlignItems::End,
                ..default()
            },
            GlobalZIndex(10),
            Visibility::Hidden,
            SignInRow { in_office: true },
        ))
        .with_children(fill);
}

/// The buttons' words, the note, and the office's buttons shown only to a guest in the office.
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
fn show(
    tr: Res<I18n>,
    providers: Res<Providers>,
    status: Res<SignInStatus>,
    join: Option<Res<JoinRequest>>,
    state: Res<ConnState>,
    buttons: Query<(&SignInButton, &Children)>,
    mut texts: Query<&mut Text, Without<SignInNote>>,
    mut notes: Query<&mut Text, With<SignInNote>>,
    mut rows: Query<(&SignInRow, &mut Visibility)>,
) {
    for (b, children) in &buttons {
        let name = providers.0.iter().find(|(id, _)| *id == b.0).map(|(_, n)| n.clone()).unwrap_or_default();
        let label = tr.ta("text-signin-with", &[("provider", name.into())]);
        for c in children {
            if let Ok(mut t) = texts.get_mut(*c)
                && t.0 != label
            {
                t.0 = label.clone();
            }
        }
    }
    let note = if status.running() {
        tr.t("signin-in-browser")
    } else if status.failed.is_some() {
        tr.t("text-notice-signin-failed")
    } else {
        String::new()
    };
    for mut t in &mut notes {
        if t.0 != note {
            t.0 = note.clone();
        }
    }
    let guest_in_office = join.is_some() && *state == ConnState::Connected && status.level.as_deref() == Some("guest");
    for (row, mut vis) in &mut rows {
        let want = if !row.in_office || guest_in_office || (status.running() && join.is_some()) {
            Visibility::Inherited
        } else {
            Visibility::Hidden
        };
        if *vis != want {
            *vis = want;
        }
    }
}

/// Asks the office who the session in the office is (`GET /api/v1/sessions/me`), once per
/// session (again [`RETRY`] after a failure): its identity level decides whether the sign-in is
/// offered.
fn check_level(
    state: Res<ConnState>,
    session: Res<SessionToken>,
    config: Res<ServerConfig>,
    time: Res<Time<Real>>,
    mut status: ResMut<SignInStatus>,
    mut asking: Local<Asking<String, String>>,
) {
    let now = time.elapsed();
    // An answer about an earlier session is not this one's.
    if let Some(level) = asking.answer(now)
        && asking.about == session.0
    {
        status.level = Some(level);
    }
    if *state != ConnState::Connected {
        return;
    }
    let Some(token) = session.0.clone() else { return };
    if asking.about.as_ref() != Some(&token) {
        status.level = None;
    }
    let url = format!("{}{}", config.http_base, api::paths::ME);
    asking.ask(token.clone(), now, || async move {
        let req = reqwest::Client::new().get(&url).bearer_auth(&token);
        match crate::http::json::<api::MeBody>(req, "who am I").await {
            Ok(me) => Ok(me.resident.map_or_else(|| "staff".to_string(), |r| r.identity_level)),
            Err(e) => {
                warn!("{e}");
                Err(())
            }
        }
    });
}

/// A pressed button begins its provider's sign-in.
fn press(buttons: Query<(&Interaction, &SignInButton), Changed<Interaction>>, mut start: MessageWriter<StartSignIn>) {
    for (i, b) in &buttons {
        if *i == Interaction::Pressed {
            start.write(StartSignIn(b.0.clone()));
        }
    }
}

/// Begins a sign-in in the system browser, one at a time, on its own thread (it waits for the
/// resident there). A guest in the office brings their session along.
fn begin(
    mut start: MessageReader<StartSignIn>,
    mut status: ResMut<SignInStatus>,
    mut under_way: ResMut<SignInUnderWay>,
    config: Res<ServerConfig>,
    tr: Res<I18n>,
    session: Res<SessionToken>,
    join: Option<Res<JoinRequest>>,
) {
    let Some(StartSignIn(provider)) = start.read().last().cloned() else { return };
    if status.running() {
        return;
    }
    status.failed = None;
    under_way.running = true;
    let base = config.http_base.clone();
    let lang = tr.lang;
    let guest = join.and(session.0.clone());
    status.task = Some(Job::on_thread(move || {
        let opened = |url: &str| crate::platform::open_in_browser(url, "to sign in");
        desktop(&base, &provider, lang, opened, guest.as_deref()).map_err(|e| e.to_string())
    }));
}

/// A sign-in that finished: the app goes on as the resident — into the office from the join
/// screen, or back into it from where the guest stood (the link opens again with the resident's
/// session). One that failed is said on the screen; if the guest session had ended meanwhile,
/// the app goes back to the join screen, which says so.
#[allow(clippy::too_many_arguments)]
fn finish(
    mut status: ResMut<SignInStatus>,
    mut under_way: ResMut<SignInUnderWay>,
    mut session: ResMut<SessionToken>,
    mut state: ResMut<ConnState>,
    mut backoff: ResMut<Backoff>,
    mut link: NonSendMut<Link>,
    mut pending: ResMut<Pending>,
    join: Option<ResMut<JoinRequest>>,
    tr: Res<I18n>,
    mut commands: Commands,
) {
    let Some(done) = status.task.as_ref().and_then(Job::answer) else { return };
    status.task = None;
    under_way.running = false;
    let held = std::mem::take(&mut under_way.held);
    match done {
        Ok(signed) => {
            info!("signed in as {}", signed.display_name);
            crate::platform::remember_session(&signed.token);
            session.0 = Some(signed.token);
            status.level = None;
            match join {
                Some(mut join) => {
                    join.name = signed.display_name;
                    if let Some(t) = link.transport.as_mut() {
                        t.close();
                    }
                    *link = Link::default();
                    // A grant asked for with the guest session, still on its way, is not ours.
                    *pending = Pending::default();
                    backoff.0 = 0;
                    *state = ConnState::Reconnecting { reason: String::new(), retry_at: Duration::ZERO };
                }
                None => commands.insert_resource(JoinRequest {
                    name: signed.display_name,
                    locale: tr.lang.code().to_string(),
                    look: None,
                }),
            }
        }
        Err(e) => {
            warn!("could not sign in: {e}");
            status.failed = Some(e);
            if held {
                crate::connection::end_session(&mut session, &mut backoff, &mut commands);
                *state = ConnState::SessionEnded;
            }
        }
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<Providers>().init_resource::<SignInStatus>().add_message::<StartSignIn>().add_systems(
        Update,
        (fetch_providers, check_level, spawn_rows, press, begin, finish, show).chain().in_set(Step::Intend),
    );
}
