//! One participant's signalling connection: the WebSocket's text frames in, [`ServerSignal`]s
//! out, one message at a time in the order sent. Every message is checked: its size (the
//! transport refuses more than `MAX_SIGNAL_BYTES`), its rate (a token bucket per connection,
//! and room chat's limits for chat), its shape, and — through the service — the sender's role in
//! this consultation. A refused message gets an error and the connection stays, unless the
//! connection keeps sending refused messages.
//!
//! The transport (the HTTP layer's WebSocket) is not known here: it hands over the frames as
//! strings on a bounded channel and sends whatever comes out on the other.

use super::media::{LegEvent, MediaError};
use super::model::ConsultError;
use super::service::{Attached, Consultations};
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

/// Runs one participant until their connection closes or the consultation ends. `out` carries
/// what to send; it closes when the participant is done.
pub async fn run(
    service: Consultations,
    ticket: String,
    mut inbound: mpsc::Receiver<Inbound>,
    out: mpsc::Sender<ServerSignal>,
) {
    let me = match service.attach(&ticket, out.clone()).await {
        Ok(a) => a,
        Err(e) => {
            let code = match &e {
                ConsultError::BadTicket => "bad_ticket",
                ConsultError::Ended => "ended",
                ConsultError::NotFound => "not_found",
                ConsultError::Db(_) => "unavailable",
                _ => "refused",
            };
            let _ = out.send(ServerSignal::Error { code: code.into(), message: e.to_string() }).await;
            let _ = out.send(ServerSignal::Ended { reason: code.into() }).await;
            return;
        }
    };
    let (leg_tx, mut leg_rx) = mpsc::channel::<LegEvent>(64);
    let start = Instant::now();
    let now = || start.elapsed();
    let mut bucket = TokenBucket::new(SIGNAL_BURST, Duration::from_secs(1) / SIGNAL_PER_SECOND, now());
    let mut chat_bucket = TokenBucket::new(CHAT_BURST, CHAT_REFILL, now());
    let mut strikes = 0u32;
    loop {
        let frame = tokio::select! {
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
                    Ok(msg) => match handle(&service, &me, msg, &leg_tx, &out, &mut chat_bucket, now()).await {
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
                strikes += 1;
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
    service.detach(&me).await;
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
        MediaError::Closed(_) => "media_closed",
    };
    Step::Refused(code, e.to_string())
}
