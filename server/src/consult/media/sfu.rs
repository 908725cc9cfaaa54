//! The SFU on webrtc 0.21: one peer connection per participant ("leg"), RTP forwarded between
//! the legs of one room without decoding.
//!
//! - **Slots.** A participant's offer carries an audio and a video section for what they send
//!   (or receive-only ones, without a camera) and receive-only sections for the others, up to
//!   [`RECEIVE_SLOTS`] of each kind. Answering, the server puts one output track on each
//!   section, in order; the `i`-th section of a kind carries the media of whoever is in slot `i`
//!   for this participant ([`Role::slot_at`]). No renegotiation is needed when someone joins.
//! - **Forwarding.** A publisher's track is read by a task that hands each packet to every other
//!   connected leg's writer queue (dropping, not waiting, when a queue is full: one slow
//!   receiver never holds up the others). A leg's writer rewrites each packet for its track
//!   (`rewrite`) and writes it.
//! - **Keyframes.** A receiver that connects asks every video publisher of the room for a
//!   keyframe (PLI). A receiver's own PLI or FIR on one of its video slots is relayed, as a PLI,
//!   to the publisher in that slot (at most one per publisher every [`RELAY_GAP`]). The room also
//!   asks every [`KEYFRAME_EVERY`], for receivers that never ask.
//! - **Isolation.** Each room's tasks run in a `JoinSet` owned by the room's supervisor: a task
//!   that panics or fails ends that room (reported as a [`RoomFailure`]) and nothing else.

use super::candidates::{CandidateAddress, PeerNetworks, candidate_address, rewrite_candidate, rewrite_sdp};
use super::ports::{PortLease, PortPool};
use super::rewrite::Renumber;
use super::{BoxFuture, LegEvent, LegOf, MediaEngine, MediaError, MediaStats, RoomFailure, RoomId};
use crate::metrics::Metrics;
use futures_util::FutureExt;
use madoguchi_shared::consult::{Candidate, RECEIVE_SLOTS, Role};
use madoguchi_shared::keyframes::{deliver_keyframe_requests, is_keyframe_request};
use rand::Rng;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::ice::network_type::NetworkType;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine as CodecTable, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceGatheringState, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, RTCSessionDescription, Registry, SettingEngineBuilder, register_default_interceptors,
};
use webrtc::rtp_transceiver::RtpSender;

/// Packets waiting for one leg's writer; beyond this, packets for that leg are dropped.
const WRITE_QUEUE: usize = 512;
/// How often a room asks its video publishers for a keyframe.
const KEYFRAME_EVERY: Duration = Duration::from_secs(3);
/// The shortest gap between two relayed keyframe requests to one publisher.
const RELAY_GAP: Duration = Duration::from_millis(500);
/// How often a slot's feedback reader looks again while its track is not bound yet.
const UNBOUND_RETRY: Duration = Duration::from_millis(250);
/// Sections (m-lines) an offer may carry.
const MAX_SECTIONS: usize = 2 * RECEIVE_SLOTS + 4;
/// Longest ICE candidate line accepted.
const MAX_CANDIDATE_BYTES: usize = 512;
/// Remote candidates one connection may have that draw ICE checks from the server (its offer's
/// and trickled ones, per ICE username fragment: an ICE restart starts again): UDP candidates of
/// the media sockets' address family. So a participant cannot make the server send to more
/// addresses than this. TCP candidates (the server only accepts ICE-TCP connections, it never
/// dials one) and another family's (which never pair) cost nothing and are not counted. The
/// consultation page bundles everything on one transport (`max-bundle`): with a few interfaces,
/// STUN and TURN, a browser offers well under this.
pub const MAX_REMOTE_CANDIDATES: usize = 20;
/// New remote candidates one connection may add at once, then one per this long.
const CANDIDATE_BURST: u32 = 20;
const CANDIDATE_REFILL: Duration = Duration::from_millis(500);
/// Rooms remembered as closed, so a late offer cannot reopen one.
const CLOSED_REMEMBERED: usize = 65_536;

/// Where the SFU binds and what it advertises.
#[derive(Debug, Clone)]
pub struct SfuConfig {
    /// The address media sockets bind to (`0.0.0.0`: every interface).
    pub bind_ip: IpAddr,
    /// The address participants are told to send to, if not the bound one (1:1 NAT).
    pub public_ip: Option<IpAddr>,
    pub ports: RangeInclusive<u16>,
    /// Also listen for ICE over TCP on each leg's port.
    pub tcp: bool,
    /// The addresses participants' candidates may name.
    pub peers: PeerNetworks,
    /// Tests of isolation (`--fault-injection`): an offer carrying [`FAULT_MARK`]`media` makes
    /// negotiation panic.
    pub fault_injection: bool,
}

/// An SDP attribute that, with `--fault-injection`, makes handling the offer panic: `…media`
/// inside the media engine's negotiation, `…signalling` in the signalling loop before it.
pub const FAULT_MARK: &str = "a=x-madoguchi-fault:";

/// The engine.
pub struct Sfu {
    cfg: SfuConfig,
    ports: Arc<PortPool>,
    rooms: Mutex<HashMap<RoomId, Arc<Room>>>,
    closed: Mutex<(HashSet<RoomId>, VecDeque<RoomId>)>,
    failures: mpsc::UnboundedSender<RoomFailure>,
    metrics: Arc<Metrics>,
}

type Task = BoxFuture<'static, Result<(), String>>;

struct Room {
    legs: Mutex<HashMap<Role, Arc<Leg>>>,
    /// The newest connection of each role that has left: no connection up to it opens a leg.
    /// Locked after `legs`.
    gone: Mutex<HashMap<Role, u64>>,
    spawn: mpsc::UnboundedSender<Task>,
    /// When a receiver's keyframe request was last relayed to each publisher.
    relayed: Mutex<HashMap<Role, Instant>>,
}

/// What the connection's handler and the leg share.
#[derive(Default)]
struct LegShared {
    connected: AtomicBool,
    /// The participant's video tracks (with their SSRC), for keyframe requests.
    videos: Mutex<Vec<(Arc<dyn TrackRemote>, u32)>>,
}

struct Leg {
    /// The signalling connection this leg is for.
    conn: u64,
    pc: Arc<dyn PeerConnection>,
    shared: Arc<LegShared>,
    queue: mpsc::Sender<Write>,
    /// Output tracks so far, audio then video, by slot.
    outs: tokio::sync::Mutex<Outs>,
    _port: PortLease,
}

#[derive(Default)]
struct Outs {
    audio: Vec<Out>,
    video: Vec<Out>,
    /// The participant's ICE username fragment, from their offer.
    remote_ufrag: Option<String>,
    /// The participant's distinct candidates so far that draw checks (under this username
    /// fragment: transport, address, port), and how fast new ones may come.
    remote_candidates: HashSet<String>,
    candidate_rate: Option<(Instant, madoguchi_shared::bucket::TokenBucket)>,
}

impl Outs {
    /// Whether one more remote candidate fits; counts it if so. One the connection already has
    /// (repeated in a renegotiating offer, or trickled and in the offer) is no new one.
    fn admit_candidate(&mut self, candidate: &str) -> Result<(), MediaError> {
        // foundation component transport priority address port …: transport, address, port.
        let f: Vec<&str> = candidate.split_ascii_whitespace().collect();
        let field = |i: usize| f.get(i).copied().unwrap_or_default();
        let key = format!("{} {} {}", field(2), field(4), field(5)).to_ascii_lowercase();
        if self.remote_candidates.contains(&key) {
            return Ok(());
        }
        if self.remote_candidates.len() >= MAX_REMOTE_CANDIDATES {
            return Err(MediaError::TooMany(format!(
                "at most {MAX_REMOTE_CANDIDATES} candidates per connection; this one was not used"
            )));
        }
        let (start, bucket) = self.candidate_rate.get_or_insert_with(|| {
            (
                Instant::now(),
                madoguchi_shared::bucket::TokenBucket::new(CANDIDATE_BURST, CANDIDATE_REFILL, Duration::ZERO),
            )
        });
        if !bucket.take(start.elapsed()) {
            return Err(MediaError::TooMany(format!(
                "candidates come too fast; wait {:.1} s",
                bucket.wait().as_secs_f32()
            )));
        }
        self.remote_candidates.insert(key);
        Ok(())
    }
}

/// Whether the server would send ICE checks to `candidate`: a UDP one of `bind`'s family.
fn draws_checks(bind: IpAddr, candidate: &str) -> bool {
    let udp = candidate.split_ascii_whitespace().nth(2).is_some_and(|t| t.eq_ignore_ascii_case("udp"));
    udp && matches!(candidate_address(candidate), CandidateAddress::Ip(ip) if ip.is_ipv4() == bind.is_ipv4())
}

/// Why a participant's candidate is not used, if it is not: it names an address the server does
/// not send to, or no IP address at all.
fn check_candidate(peers: &PeerNetworks, candidate: &str) -> Result<(), MediaError> {
    match candidate_address(candidate) {
        CandidateAddress::Ip(ip) if peers.permits(ip) => Ok(()),
        CandidateAddress::Ip(ip) => {
            Err(MediaError::Denied(format!("the media server does not send to {ip} (a denied network)")))
        }
        CandidateAddress::Name(name) => {
            Err(MediaError::Denied(format!("a candidate must name an IP address, not {name:?}")))
        }
        CandidateAddress::Unreadable => Err(MediaError::Invalid("this candidate could not be read".into())),
    }
}

/// The offer without the candidates the server will not use: those naming a denied network or
/// no IP address, and those beyond the connection's allowance.
fn keep_usable_candidates(sdp: &str, peers: &PeerNetworks, bind: IpAddr, outs: &mut Outs) -> String {
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        if let Some(c) = line.trim_end().strip_prefix("a=candidate:") {
            let usable = c.len() <= MAX_CANDIDATE_BYTES
                && check_candidate(peers, c).is_ok()
                && (!draws_checks(bind, c) || outs.admit_candidate(c).is_ok());
            if !usable {
                continue;
            }
        }
        out.push_str(line);
    }
    out
}

struct Out {
    track: Arc<TrackLocalStaticRTP>,
    sender: Arc<dyn RtpSender>,
    ssrc: u32,
}

/// What a leg's writer is told.
enum Write {
    /// The output tracks (kind, slot, track, SSRC, payload type), after a negotiation.
    Outs(Vec<(Kind, usize, Arc<TrackLocalStaticRTP>, u32, u8)>),
    Packet {
        kind: Kind,
        slot: usize,
        packet: rtc::rtp::Packet,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Audio,
    Video,
}

impl Kind {
    fn mime(self) -> &'static str {
        match self {
            Kind::Audio => MIME_TYPE_OPUS,
            Kind::Video => MIME_TYPE_VP8,
        }
    }

    fn codec_kind(self) -> RtpCodecKind {
        match self {
            Kind::Audio => RtpCodecKind::Audio,
            Kind::Video => RtpCodecKind::Video,
        }
    }

    fn codec(self) -> RTCRtpCodec {
        madoguchi_shared::codecs::codec(self.codec_kind())
    }

    /// RTP timestamp units between two senders in one slot: about a frame.
    fn switch_gap(self) -> u32 {
        match self {
            Kind::Audio => 960,
            Kind::Video => 3000,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Audio and video sections of an SDP offer; refuses what is not an offer we can answer.
fn sections(sdp: &str) -> Result<(usize, usize), MediaError> {
    if !sdp.starts_with("v=0") {
        return Err(MediaError::Invalid("not an SDP offer (it must start with v=0)".into()));
    }
    let (mut audio, mut video, mut all) = (0, 0, 0);
    for line in sdp.lines() {
        if let Some(m) = line.strip_prefix("m=") {
            all += 1;
            if m.starts_with("audio ") {
                audio += 1;
            } else if m.starts_with("video ") {
                video += 1;
            }
        }
    }
    if all == 0 {
        return Err(MediaError::Invalid("the offer has no media sections".into()));
    }
    if all > MAX_SECTIONS {
        return Err(MediaError::Invalid(format!("the offer has {all} media sections; at most {MAX_SECTIONS}")));
    }
    Ok((audio, video))
}

fn ice_ufrag(sdp: &str) -> Option<String> {
    sdp.lines().find_map(|l| l.trim_end().strip_prefix("a=ice-ufrag:").map(str::to_string))
}

fn codecs() -> Result<(CodecTable, Registry), MediaError> {
    let mut table = CodecTable::default();
    for (parameters, kind) in madoguchi_shared::codecs::table() {
        table.register_codec(parameters, kind).map_err(|e| MediaError::Closed(format!("media engine: {e}")))?;
    }
    let registry = register_default_interceptors(Registry::new(), &mut table)
        .map_err(|e| MediaError::Closed(format!("media engine: {e}")))?;
    Ok((table, deliver_keyframe_requests(registry)))
}

impl Sfu {
    pub fn new(cfg: SfuConfig, failures: mpsc::UnboundedSender<RoomFailure>, metrics: Arc<Metrics>) -> Sfu {
        let ports = PortPool::new(cfg.ports.clone());
        Sfu { cfg, ports, rooms: Mutex::default(), closed: Mutex::default(), failures, metrics }
    }

    fn room(&self, id: RoomId) -> Result<Arc<Room>, MediaError> {
        if lock(&self.closed).0.contains(&id) {
            return Err(MediaError::Closed("this consultation has ended".into()));
        }
        let mut rooms = lock(&self.rooms);
        if let Some(r) = rooms.get(&id) {
            return Ok(r.clone());
        }
        let (spawn, tasks) = mpsc::unbounded_channel();
        let room = Arc::new(Room { legs: Mutex::default(), gone: Mutex::default(), spawn, relayed: Mutex::default() });
        tokio::spawn(supervise(id, tasks, self.failures.clone()));
        room.run(keyframes(Arc::downgrade(&room)));
        rooms.insert(id, room.clone());
        Ok(room)
    }

    fn update_gauges(&self) {
        let s = self.stats();
        self.metrics.media_legs.set(s.legs as i64);
        self.metrics.media_ports_in_use.set(s.ports_in_use as i64);
    }

    /// A new leg on a free port of the pool.
    async fn open_leg(
        &self,
        room: &Arc<Room>,
        who: LegOf,
        events: mpsc::Sender<LegEvent>,
    ) -> Result<Arc<Leg>, MediaError> {
        let family_v4 = self.cfg.bind_ip.is_ipv4();
        let mut types = vec![if family_v4 { NetworkType::Udp4 } else { NetworkType::Udp6 }];
        if self.cfg.tcp {
            types.push(if family_v4 { NetworkType::Tcp4 } else { NetworkType::Tcp6 });
        }
        let mut last_error = String::new();
        // A port some other program holds is passed over (webrtc would skip it silently).
        for _ in 0..16 {
            let lease = self
                .ports
                .lease()
                .ok_or_else(|| MediaError::Busy("every media port is in use; try again in a moment".into()))?;
            let addr = SocketAddr::new(self.cfg.bind_ip, lease.port());
            if let Err(e) = std::net::UdpSocket::bind(addr) {
                last_error = format!("{addr}: {e}");
                continue;
            }
            let (table, registry) = codecs()?;
            let settings = SettingEngineBuilder::new()
                .with_network_types(types.clone())
                .with_multicast_dns_mode(MulticastDnsMode::Disabled)
                .build();
            let shared = Arc::new(LegShared::default());
            let handler = LegHandler {
                room: Arc::downgrade(room),
                role: who.role,
                shared: shared.clone(),
                events: events.clone(),
                bound: self.cfg.bind_ip,
                public: self.cfg.public_ip,
            };
            let mut builder = PeerConnectionBuilder::<SocketAddr>::new()
                .with_configuration(RTCConfigurationBuilder::new().build())
                .with_media_engine(table)
                .with_interceptor_registry(registry)
                .with_setting_engine(settings)
                .with_handler(Arc::new(handler))
                .with_udp_addrs(vec![addr]);
            if self.cfg.tcp {
                builder = builder.with_tcp_addrs(vec![addr]);
            }
            match builder.build().await {
                Ok(pc) => {
                    let (queue, writes) = mpsc::channel(WRITE_QUEUE);
                    room.run(write_loop(writes, self.metrics.clone()));
                    return Ok(Arc::new(Leg {
                        conn: who.conn,
                        pc: Arc::new(pc),
                        shared,
                        queue,
                        outs: tokio::sync::Mutex::default(),
                        _port: lease,
                    }));
                }
                Err(e) => last_error = format!("{addr}: {e}"),
            }
        }
        tracing::warn!(error = %last_error, "no media port could be bound");
        Err(MediaError::Busy("no media port could be opened; try again in a moment".into()))
    }

    async fn negotiate(&self, room: &Arc<Room>, role: Role, leg: &Arc<Leg>, sdp: String) -> Result<String, MediaError> {
        if self.cfg.fault_injection && sdp.contains(&format!("{FAULT_MARK}media")) {
            panic!("fault injected into this consultation's negotiation");
        }
        let (audio, video) = sections(&sdp)?;
        let ufrag = ice_ufrag(&sdp);
        let mut outs = leg.outs.lock().await;
        if outs.remote_ufrag != ufrag {
            // A new ICE generation: its candidates are counted afresh.
            outs.remote_candidates.clear();
        }
        let sdp = keep_usable_candidates(&sdp, &self.cfg.peers, self.cfg.bind_ip, &mut outs);
        let offer = RTCSessionDescription::offer(sdp)
            .map_err(|e| MediaError::Invalid(format!("the SDP offer could not be read: {e}")))?;
        leg.pc
            .set_remote_description(offer)
            .await
            .map_err(|e| MediaError::Invalid(format!("the SDP offer was refused: {e}")))?;
        outs.remote_ufrag = ufrag;
        for (kind, wanted) in [(Kind::Audio, audio.min(RECEIVE_SLOTS)), (Kind::Video, video.min(RECEIVE_SLOTS))] {
            let have = if kind == Kind::Audio { outs.audio.len() } else { outs.video.len() };
            for slot in have..wanted {
                let ssrc: u32 = rand::rng().random();
                let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
                    format!("slot-{slot}"),
                    format!("{}-{slot}", if kind == Kind::Audio { "audio" } else { "video" }),
                    format!("slot {slot}"),
                    kind.codec_kind(),
                    vec![RTCRtpEncodingParameters {
                        rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
                        codec: kind.codec(),
                        ..Default::default()
                    }],
                )));
                let sender = leg
                    .pc
                    .add_track(track.clone() as Arc<dyn TrackLocal>)
                    .await
                    .map_err(|e| MediaError::Invalid(format!("cannot send on this offer: {e}")))?;
                if kind == Kind::Video {
                    room.run(feedback_loop(Arc::downgrade(room), Arc::downgrade(leg), role, slot, track.clone()));
                }
                let out = Out { track, sender, ssrc };
                if kind == Kind::Audio {
                    outs.audio.push(out);
                } else {
                    outs.video.push(out);
                }
            }
        }
        let answer = leg
            .pc
            .create_answer(None)
            .await
            .map_err(|e| MediaError::Invalid(format!("cannot answer this offer: {e}")))?;
        leg.pc
            .set_local_description(answer)
            .await
            .map_err(|e| MediaError::Invalid(format!("cannot answer this offer: {e}")))?;
        // Each output's payload type as this leg negotiated it (the offerer's numbers).
        let mut specs = Vec::new();
        for (kind, list) in [(Kind::Audio, &outs.audio), (Kind::Video, &outs.video)] {
            for (slot, out) in list.iter().enumerate() {
                let pt = match out.sender.get_parameters().await {
                    Ok(p) => p
                        .rtp_parameters
                        .codecs
                        .iter()
                        .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(kind.mime()))
                        .map(|c| c.payload_type),
                    Err(_) => None,
                };
                if let Some(pt) = pt {
                    specs.push((kind, slot, out.track.clone(), out.ssrc, pt));
                }
            }
        }
        drop(outs);
        leg.queue.send(Write::Outs(specs)).await.map_err(|_| MediaError::Closed("the media leg has closed".into()))?;
        let local = leg
            .pc
            .local_description()
            .await
            .ok_or_else(|| MediaError::Closed("no local description after answering".into()))?;
        Ok(match self.cfg.public_ip {
            Some(public) => rewrite_sdp(&local.sdp, self.cfg.bind_ip, public),
            None => local.sdp,
        })
    }

    async fn close_leg(&self, leg: Arc<Leg>) {
        if let Err(e) = leg.pc.close().await {
            tracing::debug!(error = %e, "closing a media leg");
        }
        drop(leg);
        self.update_gauges();
    }
}

impl Room {
    /// Runs `task` under this room's supervisor.
    fn run<F>(&self, task: F)
    where
        F: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        let _ = self.spawn.send(Box::pin(task));
    }

    /// Connected legs other than `from`, with their writer queues.
    fn receivers(&self, from: Role) -> Vec<(Role, mpsc::Sender<Write>)> {
        lock(&self.legs)
            .iter()
            .filter(|(r, l)| **r != from && l.shared.connected.load(Ordering::Relaxed))
            .map(|(r, l)| (*r, l.queue.clone()))
            .collect()
    }

    fn videos(&self) -> Vec<(Arc<dyn TrackRemote>, u32)> {
        lock(&self.legs).values().flat_map(|l| lock(&l.shared.videos).clone()).collect()
    }

    /// Asks every video publisher for a keyframe.
    fn request_keyframes(&self) {
        self.ask_for_keyframes(self.videos());
    }

    /// Relays a receiver's keyframe request to the publisher `from`, unless one went to them
    /// less than [`RELAY_GAP`] ago.
    fn relay_keyframe_request(&self, from: Role) {
        let now = Instant::now();
        {
            let mut relayed = lock(&self.relayed);
            if relayed.get(&from).is_some_and(|t| now.duration_since(*t) < RELAY_GAP) {
                return;
            }
            relayed.insert(from, now);
        }
        let videos = lock(&self.legs).get(&from).map(|l| lock(&l.shared.videos).clone()).unwrap_or_default();
        self.ask_for_keyframes(videos);
    }

    fn ask_for_keyframes(&self, videos: Vec<(Arc<dyn TrackRemote>, u32)>) {
        if videos.is_empty() {
            return;
        }
        self.run(async move {
            for (track, ssrc) in videos {
                let pli = PictureLossIndication { sender_ssrc: 0, media_ssrc: ssrc };
                let packets: Vec<Box<dyn rtc::rtcp::Packet>> = vec![Box::new(pli)];
                let _ = track.write_rtcp(packets).await;
            }
            Ok(())
        });
    }
}

/// Owns a room's tasks: the first one to panic or fail ends the room. Ends (aborting the rest)
/// when the room is gone.
async fn supervise(
    room: RoomId,
    mut tasks: mpsc::UnboundedReceiver<Task>,
    failures: mpsc::UnboundedSender<RoomFailure>,
) {
    let mut set: JoinSet<Result<(), String>> = JoinSet::new();
    loop {
        tokio::select! {
            t = tasks.recv() => match t {
                Some(t) => { set.spawn(t); }
                None => break,
            },
            Some(done) = set.join_next(), if !set.is_empty() => {
                let reason = match done {
                    Ok(Ok(())) => continue,
                    Ok(Err(e)) => e,
                    Err(e) if e.is_panic() => {
                        let p = e.into_panic();
                        let what = p.downcast_ref::<&str>().map(|s| s.to_string())
                            .or_else(|| p.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "a panic".into());
                        format!("a media task panicked: {what}")
                    }
                    Err(_) => continue,
                };
                let _ = failures.send(RoomFailure { room, reason });
                break;
            }
        }
    }
    set.abort_all();
}

/// Every few seconds, a keyframe request to each video publisher (see the module comment).
async fn keyframes(room: Weak<Room>) -> Result<(), String> {
    loop {
        tokio::time::sleep(KEYFRAME_EVERY).await;
        let Some(room) = room.upgrade() else { return Ok(()) };
        if lock(&room.legs).len() >= 2 {
            room.request_keyframes();
        }
    }
}

/// Reads the RTCP a receiver sends about one of its video slots: a PLI or FIR goes on to the
/// publisher in that slot. Ends when the leg is gone.
async fn feedback_loop(
    room: Weak<Room>,
    leg: Weak<Leg>,
    viewer: Role,
    slot: usize,
    track: Arc<TrackLocalStaticRTP>,
) -> Result<(), String> {
    loop {
        match track.poll().await {
            Some(TrackLocalEvent::OnRtcpPacket(packets)) => {
                if !packets.iter().any(|p| is_keyframe_request(p.as_ref())) {
                    continue;
                }
                let Some(room) = room.upgrade() else { return Ok(()) };
                if let Some(from) = Role::ALL.into_iter().find(|r| r.slot_at(viewer) == Some(slot)) {
                    room.relay_keyframe_request(from);
                }
            }
            Some(_) => {}
            // Not bound to the connection yet, or closed.
            None => {
                if leg.strong_count() == 0 {
                    return Ok(());
                }
                tokio::time::sleep(UNBOUND_RETRY).await;
            }
        }
    }
}

/// Reads one publisher track and hands each packet to the room's other connected legs.
async fn read_loop(room: Weak<Room>, from: Role, kind: Kind, track: Arc<dyn TrackRemote>) -> Result<(), String> {
    while let Some(event) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(packet) = event else { continue };
        let Some(r) = room.upgrade() else { break };
        let receivers = r.receivers(from);
        drop(r);
        for (to, queue) in receivers {
            if let Some(slot) = from.slot_at(to) {
                // A full queue drops the packet for that receiver only.
                let _ = queue.try_send(Write::Packet { kind, slot, packet: packet.clone() });
            }
        }
    }
    Ok(())
}

/// Writes forwarded packets to one leg's output tracks, rewritten for them.
async fn write_loop(mut writes: mpsc::Receiver<Write>, metrics: Arc<Metrics>) -> Result<(), String> {
    struct Target {
        track: Arc<TrackLocalStaticRTP>,
        ssrc: u32,
        pt: u8,
        numbers: Renumber,
    }
    let mut targets: HashMap<(Kind, usize), Target> = HashMap::new();
    while let Some(w) = writes.recv().await {
        match w {
            Write::Outs(list) => {
                for (kind, slot, track, ssrc, pt) in list {
                    let t = targets.entry((kind, slot)).or_insert_with(|| {
                        let mut rng = rand::rng();
                        Target {
                            track,
                            ssrc,
                            pt,
                            numbers: Renumber::new(kind.switch_gap(), rng.random(), rng.random()),
                        }
                    });
                    t.pt = pt;
                }
            }
            Write::Packet { kind, slot, mut packet } => {
                let Some(t) = targets.get_mut(&(kind, slot)) else { continue };
                let h = &mut packet.header;
                let (seq, ts) = t.numbers.map(h.ssrc, h.sequence_number, h.timestamp);
                h.ssrc = t.ssrc;
                h.payload_type = t.pt;
                h.sequence_number = seq;
                h.timestamp = ts;
                h.padding = false;
                h.csrc.clear();
                h.extension = false;
                h.extensions.clear();
                h.extensions_padding = 0;
                h.extension_profile = 0;
                if t.track.write_rtp(packet).await.is_err() {
                    // The leg is closing.
                    return Ok(());
                }
                metrics.media_packets_forwarded_total.inc();
            }
        }
    }
    Ok(())
}

/// A leg's connection events: trickled candidates (with the public address), its state, and
/// the participant's tracks as they start.
struct LegHandler {
    room: Weak<Room>,
    role: Role,
    shared: Arc<LegShared>,
    events: mpsc::Sender<LegEvent>,
    bound: IpAddr,
    public: Option<IpAddr>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for LegHandler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        let Ok(init) = event.candidate.to_json() else { return };
        let candidate = match self.public {
            Some(public) => rewrite_candidate(&init.candidate, self.bound, public),
            None => init.candidate,
        };
        let c = Candidate {
            candidate,
            sdp_mid: init.sdp_mid,
            sdp_m_line_index: init.sdp_mline_index,
            username_fragment: init.username_fragment,
        };
        let _ = self.events.try_send(LegEvent::Candidate(Some(c)));
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.events.try_send(LegEvent::Candidate(None));
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let word = match state {
            RTCPeerConnectionState::Connected => {
                self.shared.connected.store(true, Ordering::Relaxed);
                if let Some(room) = self.room.upgrade() {
                    room.request_keyframes();
                }
                "connected"
            }
            RTCPeerConnectionState::Disconnected => "disconnected",
            RTCPeerConnectionState::Failed => {
                self.shared.connected.store(false, Ordering::Relaxed);
                "failed"
            }
            _ => return,
        };
        let _ = self.events.try_send(LegEvent::State(word));
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let kind = match track.kind().await {
            RtpCodecKind::Audio => Kind::Audio,
            RtpCodecKind::Video => Kind::Video,
            _ => return,
        };
        let Some(room) = self.room.upgrade() else { return };
        if kind == Kind::Video
            && let Some(ssrc) = track.ssrcs().await.first().copied()
        {
            lock(&self.shared.videos).push((track.clone(), ssrc));
            room.request_keyframes();
        }
        room.run(read_loop(self.room.clone(), self.role, kind, track));
    }
}

/// What `--fault-injection` makes a media task do.
fn injected_fault() -> Result<(), String> {
    panic!("fault injected into this consultation's media")
}

impl MediaEngine for Sfu {
    fn offer(
        &self,
        room: RoomId,
        who: LegOf,
        sdp: String,
        events: mpsc::Sender<LegEvent>,
    ) -> BoxFuture<'_, Result<String, MediaError>> {
        Box::pin(async move {
            sections(&sdp)?;
            let r = self.room(room)?;
            let role = who.role;
            let existing = lock(&r.legs).get(&role).filter(|l| l.conn == who.conn).cloned();
            let (leg, new) = match existing {
                Some(leg) => (leg, false),
                None => (self.open_leg(&r, who, events).await?, true),
            };
            if new {
                // Placed only if no newer connection of the role has a leg or has left since
                // this offer came in (it was replaced while its leg was being opened).
                let placed = {
                    let mut legs = lock(&r.legs);
                    let gone = lock(&r.gone).get(&role).copied();
                    let newer = legs.get(&role).is_some_and(|l| l.conn > who.conn);
                    if newer || gone.is_some_and(|g| who.conn <= g) {
                        None
                    } else {
                        Some(legs.insert(role, leg.clone()))
                    }
                };
                match placed {
                    None => {
                        self.close_leg(leg).await;
                        return Err(MediaError::Closed("this connection was replaced by a newer one".into()));
                    }
                    Some(Some(old)) => self.close_leg(old).await,
                    Some(None) => {}
                }
                self.update_gauges();
            }
            // A panic while negotiating (inside the webrtc crate, say) fails this consultation's
            // media, as one in its tasks does, and nothing else.
            let negotiated = std::panic::AssertUnwindSafe(self.negotiate(&r, role, &leg, sdp)).catch_unwind().await;
            let negotiated = negotiated.unwrap_or_else(|_| {
                let _ = self.failures.send(RoomFailure { room, reason: "panic while negotiating".into() });
                Err(MediaError::Closed("the media server failed on this offer".into()))
            });
            match negotiated {
                Ok(answer) => Ok(answer),
                Err(e) => {
                    if new {
                        // A first offer that fails leaves nothing behind.
                        let removed = {
                            let mut legs = lock(&r.legs);
                            match legs.get(&role) {
                                Some(l) if Arc::ptr_eq(l, &leg) => legs.remove(&role),
                                _ => None,
                            }
                        };
                        drop(removed);
                        self.close_leg(leg).await;
                    }
                    Err(e)
                }
            }
        })
    }

    fn candidate(
        &self,
        room: RoomId,
        who: LegOf,
        candidate: Option<Candidate>,
    ) -> BoxFuture<'_, Result<(), MediaError>> {
        Box::pin(async move {
            let leg = lock(&self.rooms)
                .get(&room)
                .and_then(|r| lock(&r.legs).get(&who.role).filter(|l| l.conn == who.conn).cloned())
                .ok_or(MediaError::NoLeg)?;
            let init = match candidate {
                Some(c) => {
                    if c.candidate.len() > MAX_CANDIDATE_BYTES {
                        return Err(MediaError::Invalid(format!("candidate longer than {MAX_CANDIDATE_BYTES} bytes")));
                    }
                    let mut outs = leg.outs.lock().await;
                    if let (Some(given), Some(theirs)) = (&c.username_fragment, &outs.remote_ufrag)
                        && given != theirs
                    {
                        return Err(MediaError::Invalid(
                            "this candidate belongs to another session (its username fragment differs)".into(),
                        ));
                    }
                    let line = c.candidate.strip_prefix("candidate:").unwrap_or(&c.candidate);
                    // An empty candidate says "no more" (as `None` does).
                    if !line.is_empty() {
                        if let Err(e) = check_candidate(&self.cfg.peers, line) {
                            // An mDNS name (`….local`) is what browsers send for their host
                            // address by default; this server does not resolve them, so it is
                            // left out without a word (the browser's other candidates, or its
                            // checks, connect).
                            if matches!(candidate_address(line), CandidateAddress::Name(n) if n.ends_with(".local")) {
                                return Ok(());
                            }
                            return Err(e);
                        }
                        if draws_checks(self.cfg.bind_ip, line) {
                            outs.admit_candidate(line)?;
                        }
                    }
                    drop(outs);
                    RTCIceCandidateInit {
                        candidate: c.candidate,
                        sdp_mid: c.sdp_mid,
                        sdp_mline_index: c.sdp_m_line_index,
                        username_fragment: c.username_fragment,
                        url: None,
                    }
                }
                None => RTCIceCandidateInit { candidate: String::new(), ..Default::default() },
            };
            let added = std::panic::AssertUnwindSafe(leg.pc.add_ice_candidate(init)).catch_unwind().await;
            match added {
                Ok(r) => r.map_err(|e| MediaError::Invalid(format!("the candidate was refused: {e}"))),
                Err(_) => {
                    let _ = self.failures.send(RoomFailure { room, reason: "panic while adding a candidate".into() });
                    Err(MediaError::Closed("the media server failed on this candidate".into()))
                }
            }
        })
    }

    fn leave(&self, room: RoomId, who: LegOf) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let leg = lock(&self.rooms).get(&room).and_then(|r| {
                let mut legs = lock(&r.legs);
                let mut gone = lock(&r.gone);
                let newest_gone = gone.entry(who.role).or_default();
                *newest_gone = (*newest_gone).max(who.conn);
                match legs.get(&who.role) {
                    Some(l) if l.conn <= who.conn => legs.remove(&who.role),
                    _ => None,
                }
            });
            if let Some(leg) = leg {
                self.close_leg(leg).await;
            }
        })
    }

    fn close(&self, room: RoomId) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            {
                let mut closed = lock(&self.closed);
                if closed.0.insert(room) {
                    closed.1.push_back(room);
                    if closed.1.len() > CLOSED_REMEMBERED
                        && let Some(old) = closed.1.pop_front()
                    {
                        closed.0.remove(&old);
                    }
                }
            }
            let removed = lock(&self.rooms).remove(&room);
            if let Some(r) = removed {
                let legs: Vec<Arc<Leg>> = lock(&r.legs).drain().map(|(_, l)| l).collect();
                for leg in legs {
                    self.close_leg(leg).await;
                }
            }
            self.update_gauges();
        })
    }

    fn inject_fault(&self, room: RoomId) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            let Some(r) = lock(&self.rooms).get(&room).cloned() else { return false };
            tracing::warn!(consultation = room, "injecting a fault into this consultation's media (--fault-injection)");
            r.run(async { injected_fault() });
            true
        })
    }

    fn stats(&self) -> MediaStats {
        let rooms = lock(&self.rooms);
        MediaStats {
            rooms: rooms.len(),
            legs: rooms.values().map(|r| lock(&r.legs).len()).sum(),
            ports_in_use: self.ports.in_use(),
            ports_total: self.ports.total(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An offer as a browser makes one: audio and video to send, bundled, one host candidate.
    const OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        a=group:BUNDLE 0 1\r\na=msid-semantic: WMS\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
        a=ice-ufrag:Fz3q\r\na=ice-pwd:4kR8yEoWv4b0pQxG2mZ1nT7s\r\na=ice-options:trickle\r\n\
        a=fingerprint:sha-256 6B:8B:5D:EA:59:04:20:23:29:C8:87:1C:CC:87:32:BE:DD:8C:66:A5:8E:50:55:EA:8C:D3:B6:5C:09:5E:D6:BC\r\n\
        a=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=msid:- mic\r\na=rtcp-mux\r\n\
        a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=ssrc:1001 cname:fuzz\r\n\
        a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
        a=ice-ufrag:Fz3q\r\na=ice-pwd:4kR8yEoWv4b0pQxG2mZ1nT7s\r\na=ice-options:trickle\r\n\
        a=fingerprint:sha-256 6B:8B:5D:EA:59:04:20:23:29:C8:87:1C:CC:87:32:BE:DD:8C:66:A5:8E:50:55:EA:8C:D3:B6:5C:09:5E:D6:BC\r\n\
        a=setup:actpass\r\na=mid:1\r\na=sendrecv\r\na=msid:- camera\r\na=rtcp-mux\r\na=rtcp-rsize\r\n\
        a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\na=ssrc:2002 cname:fuzz\r\n";

    /// Lines worth splicing into an offer.
    const JUNK: &[&str] = &[
        "a=candidate:x",
        "a=candidate:1 1 udp 1 999.1.1.1 1 typ host",
        "a=candidate:1 1 udp 1 169.254.169.254 80 typ host",
        "a=candidate:1 1 udp -1 127.0.0.1 70000 typ relay raddr 0.0.0.0 rport -5",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "m=video 0 RTP/AVP",
        "a=ssrc-group:FID 1",
        "a=rtpmap:abc",
        "a=rtpmap:96 VP8/0",
        "a=mid:",
        "a=mid:0",
        "c=IN IP6 ::1",
        "a=setup:holdconn",
        "a=fingerprint:sha-256 ZZ",
        "a=fingerprint:md5 00",
        "a=group:BUNDLE 0 1 2 3 4 5 6 7 8 9",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=extmap:65535 x",
        "a=simulcast:send 1;2;3",
        "a=rid:1 send",
        "a=ice-ufrag:",
        "a=ice-pwd:",
        "a=end-of-candidates",
        "a=fmtp:111 \u{0}",
        "t=-1 -1",
        "v=1",
    ];

    /// A small deterministic generator (xorshift), so every run tries the same cases.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n.max(1) as u64) as usize
        }
    }

    /// One mutation of `sdp`.
    fn mutate(rng: &mut Rng, sdp: &str) -> String {
        let mut lines: Vec<String> = sdp.split("\r\n").filter(|l| !l.is_empty()).map(str::to_string).collect();
        for _ in 0..1 + rng.below(3) {
            let n = lines.len();
            match rng.below(7) {
                0 if n > 1 => {
                    lines.remove(rng.below(n));
                }
                1 => {
                    let l = lines[rng.below(n)].clone();
                    lines.insert(rng.below(n + 1), l);
                }
                2 => {
                    let (a, b) = (rng.below(n), rng.below(n));
                    lines.swap(a, b);
                }
                3 => lines.insert(rng.below(n + 1), JUNK[rng.below(JUNK.len())].to_string()),
                4 => {
                    // A number somewhere becomes an awkward one.
                    let i = rng.below(n);
                    let awkward = ["0", "-1", "4294967296", "99999999999999999999", "", "1e9"][rng.below(6)];
                    let mut words: Vec<String> = lines[i].split(' ').map(str::to_string).collect();
                    if let Some(w) = words.iter_mut().find(|w| w.chars().any(|c| c.is_ascii_digit())) {
                        *w = awkward.to_string();
                    }
                    lines[i] = words.join(" ");
                }
                5 => {
                    // A character becomes another.
                    let i = rng.below(n);
                    let mut chars: Vec<char> = lines[i].chars().collect();
                    if !chars.is_empty() {
                        let at = rng.below(chars.len());
                        chars[at] = [':', ' ', '/', '=', 'x', '9', '\u{e9}', '\t'][rng.below(8)];
                    }
                    lines[i] = chars.into_iter().collect();
                }
                _ => {
                    let i = rng.below(n);
                    let cut = rng.below(lines[i].len() + 1);
                    let cut = (0..=cut).rev().find(|c| lines[i].is_char_boundary(*c)).unwrap_or(0);
                    lines[i].truncate(cut);
                }
            }
        }
        let mut out = lines.join("\r\n");
        out.push_str("\r\n");
        out
    }

    /// Mutated offers and candidates from a browser-like template, straight into the SFU (no
    /// signalling rate limit in the way): none may panic or leave a leg or a port behind.
    /// `MADOGUCHI_FUZZ_CASES` runs more (the default, 300, keeps CI quick).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mutated_offers_and_candidates_never_panic_or_leave_anything_behind() {
        let cases: usize = std::env::var("MADOGUCHI_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
        let (sfu, mut failures) = test_sfu(47100..=47163);
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let (mut accepted, mut refused) = (0, 0);
        for case in 0..cases {
            // A few participants per room, a new room now and then.
            let room = (case / 8) as RoomId;
            let who = LegOf { role: Role::ALL[case % Role::ALL.len()], conn: case as u64 };
            let (tx, _rx) = mpsc::channel(64);
            let sdp = mutate(&mut rng, OFFER);
            match sfu.offer(room, who, sdp.clone(), tx).await {
                Ok(_) => accepted += 1,
                Err(MediaError::Invalid(_) | MediaError::Busy(_) | MediaError::Closed(_)) => refused += 1,
                Err(e) => panic!("unexpected refusal {e:?} of\n{sdp}"),
            }
            let line = mutate(&mut rng, "candidate:1 1 udp 2130706431 127.0.0.1 50001 typ host");
            let c = Candidate {
                candidate: line.trim_end().to_string(),
                sdp_mid: Some("0".into()),
                sdp_m_line_index: Some(0),
                username_fragment: None,
            };
            let _ = sfu.candidate(room, who, Some(c)).await;
            assert!(failures.try_recv().is_err(), "case {case} failed the room's media:\n{sdp}");
            if case % 8 == 7 {
                sfu.close(room).await;
            }
        }
        for room in 0..=(cases / 8) as RoomId {
            sfu.close(room).await;
        }
        let stats = sfu.stats();
        assert_eq!((stats.rooms, stats.legs, stats.ports_in_use), (0, 0, 0), "{stats:?}");
        assert!(accepted > 0 && refused > 0, "the cases reach both sides: {accepted} accepted, {refused} refused");
        eprintln!("{cases} mutated offers: {accepted} accepted, {refused} refused");
    }

    fn test_sfu(ports: std::ops::RangeInclusive<u16>) -> (Sfu, mpsc::UnboundedReceiver<RoomFailure>) {
        let (failures_tx, failures) = mpsc::unbounded_channel();
        let bound: IpAddr = "127.0.0.1".parse().unwrap();
        let cfg = SfuConfig {
            bind_ip: bound,
            public_ip: None,
            ports,
            tcp: false,
            peers: PeerNetworks::new(bound, &[], &[]),
            fault_injection: false,
        };
        (Sfu::new(cfg, failures_tx, Arc::new(Metrics::default())), failures)
    }

    /// A participant's newer connection replaced the older one while the older one's offer was
    /// still being handled: whatever order things land in, the newer connection's leg (and its
    /// events) stays, and the older one neither replaces it, nor reuses it, nor opens another.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_older_connection_never_takes_the_leg_of_a_newer_one() {
        let (sfu, _failures) = test_sfu(47300..=47307);
        let (older, newer) = (LegOf { role: Role::Resident, conn: 1 }, LegOf { role: Role::Resident, conn: 2 });
        let host = |port: u16| Candidate {
            candidate: format!("candidate:1 1 udp 2130706431 127.0.0.1 {port} typ host"),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
            username_fragment: None,
        };

        // The newer connection's offer lands first; the older one's, late, is refused.
        let (new_tx, mut new_rx) = mpsc::channel(64);
        sfu.offer(7, newer, OFFER.into(), new_tx).await.expect("the newer connection's offer");
        let (old_tx, _old_rx) = mpsc::channel(64);
        let late = sfu.offer(7, older, OFFER.into(), old_tx).await;
        assert!(matches!(late, Err(MediaError::Closed(_))), "{late:?}");
        assert_eq!(sfu.candidate(7, older, Some(host(50010))).await, Err(MediaError::NoLeg));
        // The older connection's leave (its socket closing) leaves the newer leg alone.
        sfu.leave(7, older).await;
        assert_eq!(sfu.stats().legs, 1);
        sfu.candidate(7, newer, Some(host(50011))).await.expect("the newer leg takes candidates");
        // Its events are the newer connection's: its own candidates reach it.
        let first = tokio::time::timeout(Duration::from_secs(5), new_rx.recv()).await;
        assert!(matches!(first, Ok(Some(LegEvent::Candidate(_)))), "{first:?}");

        // The other order: the older connection's leg is open, then it is replaced (its leave
        // comes as the newer one attaches), and its offer, still in flight, comes after.
        let (old_tx, _old_rx) = mpsc::channel(64);
        sfu.offer(8, older, OFFER.into(), old_tx).await.expect("the older connection's offer");
        sfu.leave(8, older).await;
        let (old_tx, _old_rx) = mpsc::channel(64);
        let late = sfu.offer(8, older, OFFER.into(), old_tx).await;
        assert!(matches!(late, Err(MediaError::Closed(_))), "a connection that left opens no leg: {late:?}");
        assert_eq!(sfu.stats().legs, 1, "only room 7's");
        // The newer connection then opens its own leg, with its own events.
        let (new_tx, mut new_rx) = mpsc::channel(64);
        sfu.offer(8, newer, OFFER.into(), new_tx).await.expect("the newer connection's offer");
        let first = tokio::time::timeout(Duration::from_secs(5), new_rx.recv()).await;
        assert!(matches!(first, Ok(Some(LegEvent::Candidate(_)))), "{first:?}");
        // And a newer offer replaces an older connection's leg that is still there.
        let (old_tx, _old_rx) = mpsc::channel(64);
        sfu.offer(9, older, OFFER.into(), old_tx).await.expect("the older connection's offer");
        let (new_tx, _new_rx) = mpsc::channel(64);
        sfu.offer(9, newer, OFFER.into(), new_tx).await.expect("the newer connection's offer");
        assert_eq!(sfu.candidate(9, older, Some(host(50012))).await, Err(MediaError::NoLeg));
        assert_eq!(sfu.stats().legs, 3);

        for room in [7, 8, 9] {
            sfu.close(room).await;
        }
        let stats = sfu.stats();
        assert_eq!((stats.rooms, stats.legs, stats.ports_in_use), (0, 0, 0), "{stats:?}");
    }

    #[test]
    fn offers_are_counted_and_garbage_refused() {
        let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:abcd\r\n";
        assert_eq!(sections(sdp).unwrap(), (2, 1));
        assert_eq!(ice_ufrag(sdp).as_deref(), Some("abcd"));
        assert!(matches!(sections("hello"), Err(MediaError::Invalid(_))));
        assert!(matches!(sections("v=0\r\n"), Err(MediaError::Invalid(_))));
        let many = format!("v=0\r\n{}", "m=audio 9 RTP/AVP 0\r\n".repeat(MAX_SECTIONS + 1));
        assert!(matches!(sections(&many), Err(MediaError::Invalid(_))));
    }
}
