//! One participant's signalling connection: the WebSocket's text frames in, [`ServerSignal`]s
//! out, one message at a time in the order sent. Every message is checked: its size (the
//! transport refuses more than `MAX_SIGNAL_BYTES`), its rate (a token bucket per connection,
//! and room chat's limits for chat), its shape, and — through the service — the sender's role in
//! this consultation. A refused message gets an error and the connection stays, unless the
//! connection keeps sending refused messages.
//!
//! The connection belongs to its participant's session: it keeps the session alive (as a world
//! connection does), and ends — with an error saying why, then `ended` — when the session ends
//! or an admin changes the account's rights ([`SessionEnds`]). Its media leg goes with it.
//!
//! The transport (the HTTP layer's WebSocket) is not known here: it hands over the frames as
//! strings on a bounded channel and sends whatever comes out on the other.

use super::media::{LegEvent, MediaError};
use super::model::ConsultError;
use super::service::{Attached, Consultations};
use crate::db::Db;
use crate::identity::sessions::{self, EndReason, SessionKey, SessionListener};
use futures_util::FutureExt;
use madoguchi_shared::bucket::TokenBucket;
use madoguchi_shared::consult::{ClientSignal, SIGNAL_BURST, SIGNAL_PER_SECOND, ServerSignal};
use madoguchi_shared::limits::{CHAT_BURST, CHAT_REFILL, MAX_STRIKES};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Messages waiting to be sent to one participant; a participant that does not read is cut off.
pub const OUTBOX: usize = 128;
/// Frames read from one participant and not yet handled.
pub const INBOX: usize = 16;

/// What the transport reads.
#[derive(Debug)]
pub enum Inbound {
    Text(String),
    /// A frame that is not text.
    Other,
}

/// A participant's session, watched while they are connected.
struct SessionWatch {
    key: SessionKey,
    ends: SessionListener,
    db: Db,
    /// When to touch the session again (a connection keeps it alive).
    touch: tokio::time::Interval,
}

impl SessionWatch {
    fn new(service: &Consultations, key: Option<SessionKey>, ends: Option<SessionListener>) -> Option<SessionWatch> {
        let (key, ends) = (key?, ends?);
        let every = Duration::from_millis((sessions::idle_expiry_ms() / 4).clamp(1000, 60_000) as u64);
        Some(SessionWatch { key, ends, db: service.db().clone(), touch: tokio::time::interval(every) })
    }

    /// Waits until the connection must end because of its session, and says why. Cancel-safe.
    async fn ended(watch: &mut Option<SessionWatch>) -> EndReason {
        let Some(w) = watch else { return std::future::pending().await };
        loop {
            tokio::select! {
                why = w.ends.ended(&w.db) => return why,
                _ = w.touch.tick() => {
                    if let Ok(ended) = sessions::keep_alive(&w.db, std::slice::from_ref(&w.key)).await
                        && !ended.is_empty()
                    {
                        return EndReason::Expired;
                    }
                }
            }
        }
    }
}

/// The next tick of `interval`, or never without one.
async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Runs one participant until their connection closes or the consultation ends. `out` carries
/// what to send; it closes when the participant is done.
pub async fn run(
    service: Consultations,
    ticket: String,
    mut inbound: mpsc::Receiver<Inbound>,
    out: mpsc::Sender<ServerSignal>,
) {
    let (me, ends) = match service.attach(&ticket, out.clone()).await {
        Ok(a) => a,
        Err(e) => {
            let code = match &e {
                ConsultError::BadTicket => "bad_ticket",
                ConsultError::Ended => "ended",
                ConsultError::NotFound => "not_found",
                ConsultError::RoleTaken(_) => "role_taken",
                ConsultError::Db(_) => "unavailable",
                _ => "refused",
            };
            let _ = out.send(ServerSignal::Error { code: code.into(), message: e.to_string() }).await;
            let _ = out.send(ServerSignal::Ended { reason: code.into() }).await;
            return;
        }
    };
    // Whatever happens while serving them — a panic too — the participant leaves afterwards, so
    // nobody stays listed (or keeps a media leg) for a connection that is gone.
    let watch = SessionWatch::new(&service, me.session.clone(), ends);
    let served = std::panic::AssertUnwindSafe(serve(&service, &me, watch, &mut inbound, &out)).catch_unwind().await;
    if served.is_err() {
        tracing::error!(consultation = me.consultation, role = me.role.as_str(), "a participant's signalling panicked");
        let _ = out.try_send(ServerSignal::Error {
            code: "internal".into(),
            message: "the office could not handle your last message; join again".into(),
        });
        let _ = out.try_send(ServerSignal::Ended { reason: "internal".into() });
    }
    service.detach(&me).await;
}

/// Serves an attached participant until their connection closes, the consultation ends, or
/// their session does.
async fn serve(
    service: &Consultations,
    me: &Attached,
    mut watch: Option<SessionWatch>,
    inbound: &mut mpsc::Receiver<Inbound>,
    out: &mpsc::Sender<ServerSignal>,
) {
    let (leg_tx, mut leg_rx) = mpsc::channel::<LegEvent>(64);
    let start = Instant::now();
    let now = || start.elapsed();
    let mut bucket = TokenBucket::new(SIGNAL_BURST, Duration::from_secs(1) / SIGNAL_PER_SECOND, now());
    let mut chat_bucket = TokenBucket::new(CHAT_BURST, CHAT_REFILL, now());
    let mut strikes = 0u32;
    // Fresh TURN credentials before the last ones expire, while the consultation runs.
    let mut renew =
        service.ice_renewal().map(|every| tokio::time::interval_at(tokio::time::Instant::now() + every, every));
    loop {
        let frame = tokio::select! {
            _ = tick(&mut renew) => {
                let ice_servers = service.ice_servers(me.consultation, me.role);
                if out.try_send(ServerSignal::IceServers { ice_servers }).is_err() {
                    break;
                }
                continue;
            }
            why = SessionWatch::ended(&mut watch) => {
                tracing::info!(consultation = me.consultation, role = me.role.as_str(), reason = ?why, "a participant's session ended");
                let _ = out.try_send(ServerSignal::Error { code: why.code().into(), message: why.message().into() });
                let _ = out.try_send(ServerSignal::Ended { reason: why.code().into() });
                break;
            }
            f = inbound.recv() => match f {
                Some(f) => f,
                None => break,
            },
            Some(ev) = leg_rx.recv() => {
                let msg = match ev {
                    LegEvent::Candidate(c) => ServerSignal::Candidate { candidate: c },
                    LegEvent::State(s) => ServerSignal::Media { state: s.into() },
                };
                if out.try_send(msg).is_err() {
                    break;
                }
                continue;
            }
        };
        let refusal = if !bucket.take(now()) {
            Some(("rate_limited", format!("too many messages; wait {:.1} s", bucket.wait().as_secs_f32())))
        } else {
            match frame {
                Inbound::Other => Some(("malformed", "send JSON text frames".to_string())),
                Inbound::Text(text) => match serde_json::from_str::<ClientSignal>(&text) {
                    Err(e) => Some(("malformed", format!("not a signalling message: {e}"))),
                    Ok(msg) => match handle(service, me, msg, &leg_tx, out, &mut chat_bucket, now()).await {
                        Step::Ok => None,
                        Step::Refused(code, message) => Some((code, message)),
                        Step::Leave => break,
                    },
                },
            }
        };
        match refusal {
            None => strikes = 0,
            Some((code, message)) => {
                // A candidate past the connection's allowance is left out, but sending it is no
                // fault: a browser on a machine with many interfaces may offer more than that.
                if code != "too_many_candidates" {
                    strikes += 1;
                }
                if strikes >= MAX_STRIKES {
                    let _ = out.try_send(ServerSignal::Error {
                        code: "too_many_errors".into(),
                        message: "too many refused messages in a row; reconnect to continue".into(),
                    });
                    break;
                }
                if out.try_send(ServerSignal::Error { code: code.into(), message }).is_err() {
                    break;
                }
            }
        }
    }
}

enum Step {
    Ok,
    Refused(&'static str, String),
    Leave,
}

async fn handle(
    service: &Consultations,
    me: &Attached,
    msg: ClientSignal,
    leg_tx: &mpsc::Sender<LegEvent>,
    out: &mpsc::Sender<ServerSignal>,
    chat_bucket: &mut TokenBucket,
    now: Duration,
) -> Step {
    match msg {
        ClientSignal::Offer { sdp } => match service.offer(me, sdp, leg_tx.clone()).await {
            Ok(sdp) => send(out, ServerSignal::Answer { sdp }),
            Err(e) => media_refusal(e),
        },
        ClientSignal::Candidate { candidate } => match service.candidate(me, candidate).await {
            Ok(()) => Step::Ok,
            Err(e) => media_refusal(e),
        },
        ClientSignal::Chat { text } => {
            if !chat_bucket.take(now) {
                return Step::Refused(
                    "chat_rate_limited",
                    format!("too many messages; wait {:.1} s", chat_bucket.wait().as_secs_f32()),
                );
            }
            match service.chat(me, &text).await {
                Ok(()) => Step::Ok,
                Err((code, message)) => Step::Refused(code, message),
            }
        }
        ClientSignal::Hangup => {
            service.hangup(me).await;
            Step::Leave
        }
        ClientSignal::Ping => send(out, ServerSignal::Pong),
        ClientSignal::Confirm { reference } => match service.confirm(me, &reference).await {
            Ok(()) => Step::Ok,
            Err((code, message)) => Step::Refused(code, message),
        },
    }
}

fn send(out: &mpsc::Sender<ServerSignal>, msg: ServerSignal) -> Step {
    if out.try_send(msg).is_err() { Step::Leave } else { Step::Ok }
}

fn media_refusal(e: MediaError) -> Step {
    let code = match &e {
        MediaError::Invalid(_) => "media_invalid",
        MediaError::Busy(_) => "media_busy",
        MediaError::NoLeg => "media_not_started",
        MediaError::Denied(_) => "candidate_denied",
        MediaError::TooMany(_) => "too_many_candidates",
        MediaError::Closed(_) => "media_closed",
    };
    Step::Refused(code, e.to_string())
}
