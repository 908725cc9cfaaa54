//! One live section of a page, as server-sent events: the resident's tickets on the text page,
//! the clerk's desk on the console. The section's HTML goes out on connecting (so a reconnect
//! misses nothing) and again whenever an office event the section cares about makes it change
//! (and, for sections that show clocks, every `every`). The stream keeps its session alive and
//! ends when the session does or its account's rights change, with an event `ended` saying why.
//! Each session holds a bounded number of streams at once.

use super::state::HttpState;
use crate::events::OfficeEvent;
use crate::identity::sessions::{self, SessionKey, SessionListener, SessionsEnded};
use crate::ratelimit::Slot;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};

/// What one live section is.
pub(super) struct Section<W, R> {
    /// The SSE event name its HTML goes out under (`tickets`, `desk`).
    pub name: &'static str,
    /// How often the session is touched (and checked).
    pub every: Duration,
    /// Whether the section is drawn again at each `every` (it shows clocks), or only on events.
    pub redraw_every: bool,
    /// The office events that may change it.
    pub wants: W,
    /// Its HTML now; `None` ends the stream (what it shows can no longer be read).
    pub draw: R,
}

/// The stream of `section` for the session `token`, listening for its end on `ends` (subscribed
/// before the session was checked, so that an end published in between is heard). `429` when the
/// session already holds as many streams as it may.
pub(super) fn stream<W, R, F>(
    s: &HttpState,
    token: &str,
    ends: broadcast::Receiver<Arc<SessionsEnded>>,
    section: Section<W, R>,
) -> Response
where
    W: Fn(&OfficeEvent) -> bool + Send + 'static,
    R: Fn(HttpState) -> F + Send + 'static,
    F: Future<Output = Option<String>> + Send,
{
    let Some(slot) = s.event_streams.take(SessionKey::of(token)) else {
        // Each open tab holds one; a client opening hundreds is refused, not served.
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "30")],
            "too many open live updates for this session",
        )
            .into_response();
    };
    let mut every = tokio::time::interval(section.every);
    every.reset(); // the first is due after one period, not now
    let live = Live {
        events: s.events.subscribe(),
        ends: SessionListener::new(ends, SessionKey::of(token)),
        s: s.clone(),
        token: token.to_string(),
        last: None,
        every,
        done: false,
        section,
        _slot: slot,
    };
    let stream = futures_util::stream::unfold(live, |mut lv| async move {
        let ev = lv.next().await?;
        Some((Ok::<_, Infallible>(ev), lv))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

struct Live<W, R> {
    events: broadcast::Receiver<Arc<OfficeEvent>>,
    ends: SessionListener,
    s: HttpState,
    token: String,
    /// The HTML last sent.
    last: Option<String>,
    every: tokio::time::Interval,
    done: bool,
    section: Section<W, R>,
    _slot: Slot<SessionKey>,
}

impl<W, R, F> Live<W, R>
where
    W: Fn(&OfficeEvent) -> bool,
    R: Fn(HttpState) -> F,
    F: Future<Output = Option<String>>,
{
    /// The next event of the stream, or `None` when it ends.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if self.done {
                return None;
            }
            if self.last.is_some() {
                tokio::select! {
                    why = self.ends.ended(&self.s.db) => {
                        self.done = true;
                        return Some(Event::default().event("ended").data(why.message()));
                    }
                    msg = self.events.recv() => match msg {
                        Ok(event) if !(self.section.wants)(&event) => continue,
                        Ok(_) => {}
                        // Events were missed: the section is drawn again.
                        Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => return None,
                    },
                    _ = self.every.tick() => {
                        // Resuming touches the session; a session that ended ends the stream.
                        match sessions::resume(&self.s.db, &self.token).await {
                            Ok(Some(_)) if self.section.redraw_every => {}
                            Ok(Some(_)) => continue,
                            _ => return None,
                        }
                    }
                }
            }
            let body = (self.section.draw)(self.s.clone()).await?;
            if self.last.as_deref() == Some(body.as_str()) {
                continue;
            }
            self.last = Some(body.clone());
            return Some(Event::default().event(self.section.name).data(body));
        }
    }
}
