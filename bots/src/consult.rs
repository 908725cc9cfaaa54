//! A consultation participant without a browser: a webrtc-crate peer connection to the server,
//! signalled over the consultation's WebSocket, sending synthetic Opus and VP8 RTP and counting
//! what it receives. The end-to-end tests and `madoguchi-bench consult` use it.
//!
//! Every payload it sends starts with its 8-byte tag and a packet counter, so a receiver can
//! tell whose media reached it and how much was lost on the way; the server forwards payloads
//! untouched.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use madoguchi_shared::consult::{
    Candidate, ClientSignal, ConsultView, IceServer, Participant, RECEIVE_SLOTS, ServerSignal,
};
use madoguchi_shared::keyframes::{deliver_keyframe_requests, is_keyframe_request};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::ice::network_type::NetworkType;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceCandidateInit, RTCIceServer, RTCIceTransportPolicy, RTCPeerConnectionIceEvent, RTCPeerConnectionState,
    RTCSessionDescription, Registry, SettingEngineBuilder, register_default_interceptors,
};
use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};

/// What one receive slot has seen.
#[derive(Debug, Clone, Default)]
pub struct SlotStats {
    pub packets: u64,
    pub bytes: u64,
    /// Sender tags seen (the first 8 payload bytes).
    pub tags: HashSet<u64>,
    /// Highest packet counter seen per tag, and how many packets carried that tag.
    pub counters: HashMap<u64, (u64, u64)>,
    pub first_at: Option<Instant>,
}

/// What the peer has heard from the server, besides media.
#[derive(Debug, Default)]
pub struct Heard {
    pub joined: Option<ConsultView>,
    pub ice_servers: Vec<IceServer>,
    pub participants: Vec<Participant>,
    pub chat: Vec<madoguchi_shared::consult::ChatLine>,
    pub applications: Vec<madoguchi_shared::consult::LinkedApplication>,
    pub errors: Vec<(String, String)>,
    /// Fresh ICE servers the server handed out after `joined`, in order.
    pub ice_renewals: Vec<Vec<IceServer>>,
    pub media_states: Vec<String>,
    pub ended: Option<String>,
    /// Local candidates the server trickled (as sent).
    pub candidates: Vec<String>,
    pub answer_sdp: Option<String>,
    /// Answers received (one per offer the server accepted).
    pub answers: u32,
}

/// A participant.
pub struct MediaPeer {
    pub tag: u64,
    pc: Arc<dyn PeerConnection>,
    signal: mpsc::UnboundedSender<ClientSignal>,
    audio: Arc<TrackLocalStaticRTP>,
    video: Arc<TrackLocalStaticRTP>,
    ssrcs: (u32, u32),
    /// Received media by track id (`audio-0`, `video-1`: kind and receive slot).
    pub received: Arc<Mutex<HashMap<String, SlotStats>>>,
    pub heard: Arc<Mutex<Heard>>,
    connected: watch::Receiver<bool>,
    /// When this peer sent its first SDP offer, and when its media connection first came up.
    pub offered_at: Instant,
    connected_at: Arc<Mutex<Option<Instant>>>,
    sent: Arc<AtomicU64>,
    /// Sequence numbers (audio, video) and packet count so far.
    numbering: Mutex<((u16, u16), u64)>,
    closed: Arc<AtomicBool>,
    /// The tracks received, by track id, for sending keyframe requests back.
    remotes: Remotes,
    /// When keyframe requests (PLI or FIR) for this peer's video arrived.
    pub keyframe_requests: Arc<Mutex<Vec<Instant>>>,
    /// Dropped with the peer: tells its background tasks to stop.
    _alive: Arc<()>,
}

type Remotes = Arc<Mutex<HashMap<String, Arc<dyn TrackRemote>>>>;

fn local_track(kind: RtpCodecKind, ssrc: u32) -> Arc<TrackLocalStaticRTP> {
    let name = if kind == RtpCodecKind::Audio { "mic" } else { "camera" };
    Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        "me".into(),
        name.into(),
        name.into(),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
            codec: madoguchi_shared::codecs::codec(kind),
            ..Default::default()
        }],
    )))
}

struct Handler {
    /// Sends what arrives in slot 0 back out as this peer's own media (a browser on the other
    /// side then decodes real frames: its own camera's).
    reflect: Option<(Arc<TrackLocalStaticRTP>, u32, Arc<TrackLocalStaticRTP>, u32)>,
    signal: mpsc::UnboundedSender<ClientSignal>,
    /// Candidates gathered before the first offer went out wait here (a browser, too, trickles
    /// only after its offer): `None` once the offer is sent.
    early: Arc<Mutex<Option<Vec<ClientSignal>>>>,
    connected: watch::Sender<bool>,
    /// When the media connection first came up.
    connected_at: Arc<Mutex<Option<Instant>>>,
    received: Arc<Mutex<HashMap<String, SlotStats>>>,
    heard: Arc<Mutex<Heard>>,
    remotes: Remotes,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json() {
            let msg = ClientSignal::Candidate {
                candidate: Some(Candidate {
                    candidate: init.candidate,
                    sdp_mid: init.sdp_mid,
                    sdp_m_line_index: init.sdp_mline_index,
                    username_fragment: init.username_fragment,
                }),
            };
            let mut early = self.early.lock().unwrap();
            match early.as_mut() {
                Some(waiting) => waiting.push(msg),
                None => {
                    let _ = self.signal.send(msg);
                }
            }
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        if state == RTCPeerConnectionState::Connected {
            self.connected_at.lock().unwrap().get_or_insert_with(Instant::now);
            let _ = self.connected.send(true);
        }
        self.heard.lock().unwrap().media_states.push(format!("peer:{state}"));
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let id = track.track_id().await;
        self.remotes.lock().unwrap().insert(id.clone(), track.clone());
        let received = self.received.clone();
        let echo = match (&self.reflect, id.as_str()) {
            (Some((audio, ssrc, _, _)), "audio-0") => Some((audio.clone(), *ssrc, 111)),
            (Some((_, _, video, ssrc)), "video-0") => Some((video.clone(), *ssrc, 96)),
            _ => None,
        };
        tokio::spawn(async move {
            while let Some(ev) = track.poll().await {
                let TrackRemoteEvent::OnRtpPacket(p) = ev else { continue };
                if let Some((out, ssrc, pt)) = &echo {
                    let mut back = p.clone();
                    back.header.ssrc = *ssrc;
                    back.header.payload_type = *pt;
                    back.header.extension = false;
                    back.header.extensions.clear();
                    back.header.extensions_padding = 0;
                    back.header.extension_profile = 0;
                    let _ = out.write_rtp(back).await;
                }
                let mut r = received.lock().unwrap();
                let s = r.entry(id.clone()).or_default();
                s.packets += 1;
                s.bytes += p.payload.len() as u64;
                s.first_at.get_or_insert_with(Instant::now);
                if p.payload.len() >= 16 {
                    let tag = u64::from_be_bytes(p.payload[0..8].try_into().unwrap_or_default());
                    let n = u64::from_be_bytes(p.payload[8..16].try_into().unwrap_or_default());
                    s.tags.insert(tag);
                    let c = s.counters.entry(tag).or_insert((0, 0));
                    c.0 = c.0.max(n);
                    c.1 += 1;
                }
            }
        });
    }
}

/// How a peer reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Udp,
    Tcp,
    Relay,
}

/// Notes when keyframe requests for `video` arrive, until the peer is dropped.
async fn count_keyframe_requests(
    video: Arc<TrackLocalStaticRTP>,
    seen: Arc<Mutex<Vec<Instant>>>,
    alive: std::sync::Weak<()>,
) {
    loop {
        match video.poll().await {
            Some(TrackLocalEvent::OnRtcpPacket(packets)) => {
                if packets.iter().any(|p| is_keyframe_request(p.as_ref())) {
                    seen.lock().unwrap().push(Instant::now());
                }
            }
            Some(_) => {}
            // Not bound to the connection yet, or closed.
            None => {
                if alive.strong_count() == 0 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
}

impl MediaPeer {
    /// Opens the signalling WebSocket at `ws_url` (`ws://host/api/v1/consultations/signal?ticket=…`),
    /// and, once joined, offers media: its own audio and video, and receive slots for the others.
    pub async fn join(ws_url: &str, tag: u64) -> anyhow::Result<MediaPeer> {
        MediaPeer::join_with(ws_url, tag, false).await
    }

    /// [`MediaPeer::join`]; with `reflect`, what arrives from slot 0 goes back out as this
    /// peer's own audio and video (instead of [`MediaPeer::send_media`]).
    pub async fn join_with(ws_url: &str, tag: u64, reflect: bool) -> anyhow::Result<MediaPeer> {
        MediaPeer::open(ws_url, tag, reflect, Route::Udp).await
    }

    /// [`MediaPeer::join`] with ICE over TCP only (active candidates, as a browser on a network
    /// that blocks UDP): it connects only if the server listens for TCP (`--media-tcp`).
    pub async fn join_over_tcp(ws_url: &str, tag: u64) -> anyhow::Result<MediaPeer> {
        MediaPeer::open(ws_url, tag, false, Route::Tcp).await
    }

    /// [`MediaPeer::join`] through the TURN servers the server hands out, and only through them
    /// (ICE transport policy "relay", as a browser behind a network that allows nothing else).
    pub async fn join_relayed(ws_url: &str, tag: u64) -> anyhow::Result<MediaPeer> {
        MediaPeer::open(ws_url, tag, false, Route::Relay).await
    }

    async fn open(ws_url: &str, tag: u64, reflect: bool, route: Route) -> anyhow::Result<MediaPeer> {
        let tcp = route == Route::Tcp;
        let (ws, _) = tokio_tungstenite::connect_async(ws_url).await?;
        let (mut sink, mut stream) = ws.split();
        let heard = Arc::new(Mutex::new(Heard::default()));
        // The first message says whether we are in.
        let first = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .map_err(|_| anyhow::anyhow!("no answer from the signalling socket"))?
            .ok_or_else(|| anyhow::anyhow!("the signalling socket closed"))??;
        let Message::Text(text) = first else { anyhow::bail!("unexpected first frame {first:?}") };
        match serde_json::from_str::<ServerSignal>(&text)? {
            ServerSignal::Joined { consultation, ice_servers } => {
                let mut h = heard.lock().unwrap();
                h.participants = consultation.participants.clone();
                h.applications = consultation.applications.clone();
                h.joined = Some(consultation);
                h.ice_servers = ice_servers;
            }
            ServerSignal::Error { code, message } => anyhow::bail!("refused: {code}: {message}"),
            other => anyhow::bail!("unexpected first message {other:?}"),
        }
        let (signal, mut outgoing) = mpsc::unbounded_channel::<ClientSignal>();
        tokio::spawn(async move {
            while let Some(m) = outgoing.recv().await {
                let text = serde_json::to_string(&m).unwrap_or_default();
                if sink.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });

        let mut table = MediaEngine::default();
        for (parameters, kind) in madoguchi_shared::codecs::table() {
            table.register_codec(parameters, kind)?;
        }
        let registry = deliver_keyframe_requests(register_default_interceptors(Registry::new(), &mut table)?);
        let settings = SettingEngineBuilder::new()
            .with_network_types(vec![if tcp { NetworkType::Tcp4 } else { NetworkType::Udp4 }])
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .build();
        let (connected_tx, connected) = watch::channel(false);
        let connected_at = Arc::new(Mutex::new(None));
        let received = Arc::new(Mutex::new(HashMap::new()));
        let (audio_ssrc, video_ssrc) = (rand::random::<u32>(), rand::random::<u32>());
        let audio = local_track(RtpCodecKind::Audio, audio_ssrc);
        let video = local_track(RtpCodecKind::Video, video_ssrc);
        let early = Arc::new(Mutex::new(Some(Vec::new())));
        let remotes = Remotes::default();
        let handler = Handler {
            remotes: remotes.clone(),
            reflect: reflect.then(|| (audio.clone(), audio_ssrc, video.clone(), video_ssrc)),
            signal: signal.clone(),
            early: early.clone(),
            connected: connected_tx,
            connected_at: connected_at.clone(),
            received: received.clone(),
            heard: heard.clone(),
        };
        let config = match route {
            Route::Relay => {
                let servers = heard.lock().unwrap().ice_servers.clone();
                let servers = servers
                    .into_iter()
                    .map(|s| RTCIceServer {
                        urls: s.urls,
                        username: s.username.unwrap_or_default(),
                        credential: s.credential.unwrap_or_default(),
                    })
                    .collect();
                RTCConfigurationBuilder::new()
                    .with_ice_servers(servers)
                    .with_ice_transport_policy(RTCIceTransportPolicy::Relay)
                    .build()
            }
            Route::Udp | Route::Tcp => RTCConfigurationBuilder::new().build(),
        };
        let builder = PeerConnectionBuilder::<String>::new()
            .with_configuration(config)
            .with_media_engine(table)
            .with_interceptor_registry(registry)
            .with_setting_engine(settings)
            .with_handler(Arc::new(handler));
        let builder = if tcp {
            builder.with_tcp_addrs(vec!["127.0.0.1:0".to_string()])
        } else {
            builder.with_udp_addrs(vec!["127.0.0.1:0".to_string()])
        };
        let pc: Arc<dyn PeerConnection> = Arc::new(builder.build().await?);
        pc.add_track(audio.clone() as Arc<dyn TrackLocal>).await?;
        pc.add_track(video.clone() as Arc<dyn TrackLocal>).await?;
        for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
            for _ in 1..RECEIVE_SLOTS {
                pc.add_transceiver_from_kind(
                    kind,
                    Some(RTCRtpTransceiverInit {
                        direction: RTCRtpTransceiverDirection::Recvonly,
                        ..Default::default()
                    }),
                )
                .await?;
            }
        }
        let offer = pc.create_offer(None).await?;
        pc.set_local_description(offer).await?;
        let sdp = pc.local_description().await.ok_or_else(|| anyhow::anyhow!("no local offer"))?.sdp;
        let offered_at = Instant::now();
        signal.send(ClientSignal::Offer { sdp })?;
        for m in early.lock().unwrap().take().unwrap_or_default() {
            signal.send(m)?;
        }

        let alive = Arc::new(());
        let keyframe_requests = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn(count_keyframe_requests(video.clone(), keyframe_requests.clone(), Arc::downgrade(&alive)));

        let closed = Arc::new(AtomicBool::new(false));
        let (pc2, heard2, closed2) = (pc.clone(), heard.clone(), closed.clone());
        tokio::spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                let Message::Text(text) = frame else { continue };
                let Ok(msg) = serde_json::from_str::<ServerSignal>(&text) else { continue };
                match msg {
                    ServerSignal::Answer { sdp } => {
                        {
                            let mut h = heard2.lock().unwrap();
                            h.answer_sdp = Some(sdp.clone());
                            h.answers += 1;
                        }
                        match RTCSessionDescription::answer(sdp) {
                            Ok(a) => {
                                if let Err(e) = pc2.set_remote_description(a).await {
                                    heard2.lock().unwrap().errors.push(("answer".into(), e.to_string()));
                                }
                            }
                            Err(e) => heard2.lock().unwrap().errors.push(("answer".into(), e.to_string())),
                        }
                    }
                    ServerSignal::Candidate { candidate } => {
                        let init = match candidate {
                            Some(c) => {
                                heard2.lock().unwrap().candidates.push(c.candidate.clone());
                                RTCIceCandidateInit {
                                    candidate: c.candidate,
                                    sdp_mid: c.sdp_mid,
                                    sdp_mline_index: c.sdp_m_line_index,
                                    username_fragment: c.username_fragment,
                                    url: None,
                                }
                            }
                            None => RTCIceCandidateInit::default(),
                        };
                        let _ = pc2.add_ice_candidate(init).await;
                    }
                    ServerSignal::Participants { participants } => heard2.lock().unwrap().participants = participants,
                    ServerSignal::Chat { line } => heard2.lock().unwrap().chat.push(line),
                    ServerSignal::Applications { applications } => heard2.lock().unwrap().applications = applications,
                    ServerSignal::Media { state } => heard2.lock().unwrap().media_states.push(state),
                    ServerSignal::Error { code, message } => heard2.lock().unwrap().errors.push((code, message)),
                    ServerSignal::Ended { reason } => {
                        heard2.lock().unwrap().ended = Some(reason);
                        break;
                    }
                    ServerSignal::IceServers { ice_servers } => heard2.lock().unwrap().ice_renewals.push(ice_servers),
                    ServerSignal::Joined { .. } | ServerSignal::Pong => {}
                }
            }
            closed2.store(true, Ordering::Relaxed);
            let _ = pc2.close().await;
        });
        Ok(MediaPeer {
            tag,
            pc,
            signal,
            audio,
            video,
            ssrcs: (audio_ssrc, video_ssrc),
            received,
            heard,
            connected,
            offered_at,
            connected_at,
            sent: Arc::new(AtomicU64::new(0)),
            numbering: Mutex::new(((rand::random(), rand::random()), 0)),
            closed,
            remotes,
            keyframe_requests,
            _alive: alive,
        })
    }

    /// Asks for a keyframe of the video received in `slot` (a PLI, as a browser sends after
    /// losing packets). False if nothing has arrived in that slot yet.
    pub async fn request_keyframe(&self, slot: usize) -> bool {
        let track = self.remotes.lock().unwrap().get(&format!("video-{slot}")).cloned();
        let Some(track) = track else { return false };
        let Some(media_ssrc) = track.ssrcs().await.first().copied() else { return false };
        let pli = PictureLossIndication { sender_ssrc: self.video_ssrc(), media_ssrc };
        track.write_rtcp(vec![Box::new(pli)]).await.is_ok()
    }

    /// Offers again on the same connection (renegotiation, as a browser does when a track
    /// changes): the server's answer arrives like the first one.
    pub async fn renegotiate(&self) -> anyhow::Result<()> {
        let offer = self.pc.create_offer(None).await?;
        self.pc.set_local_description(offer).await?;
        let sdp = self.pc.local_description().await.ok_or_else(|| anyhow::anyhow!("no local offer"))?.sdp;
        self.signal.send(ClientSignal::Offer { sdp })?;
        Ok(())
    }

    /// Waits until the media connection is up.
    pub async fn connected(&mut self, within: Duration) -> bool {
        tokio::time::timeout(within, self.connected.wait_for(|c| *c)).await.is_ok_and(|r| r.is_ok())
    }

    /// When the media connection first came up, if it has.
    pub fn connected_at(&self) -> Option<Instant> {
        *self.connected_at.lock().unwrap()
    }

    /// When the first media packet arrived, on any slot.
    pub fn first_media_at(&self) -> Option<Instant> {
        self.received.lock().unwrap().values().filter_map(|s| s.first_at).min()
    }

    /// Sends a signalling message as is.
    pub fn send(&self, msg: ClientSignal) {
        let _ = self.signal.send(msg);
    }

    /// Whether the server has closed this participant's signalling.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Packets sent so far (audio and video).
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Sends synthetic RTP for `duration`: Opus-sized audio every 20 ms and VP8-sized video
    /// packets making up `kbps` in all.
    pub async fn send_media(&self, duration: Duration, kbps: u32) {
        let start = Instant::now();
        let audio_bytes = 80usize; // ~32 kbit/s at 50 packets/s
        let video_kbps = kbps.saturating_sub(32).max(16);
        // Video: 1 000-byte packets, as many per second as the rate needs.
        let video_pps = (video_kbps as usize * 1000 / 8).div_ceil(1000).max(1);
        // Numbering goes on from the last call: a stream that started again at 0 would be dropped
        // as replayed packets (SRTP) until it passed its old numbers.
        let (mut seq, mut n) = *self.numbering.lock().unwrap();
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut video_due = 0.0f64;
        while start.elapsed() < duration {
            tick.tick().await;
            n += 1;
            let ts_a = (n as u32).wrapping_mul(960);
            let ts_v = (n as u32).wrapping_mul(1800);
            let _ = self.audio.write_rtp(self.packet(111, seq.0, ts_a, audio_bytes, n, self.audio_ssrc())).await;
            seq.0 = seq.0.wrapping_add(1);
            self.sent.fetch_add(1, Ordering::Relaxed);
            video_due += video_pps as f64 / 50.0;
            while video_due >= 1.0 {
                video_due -= 1.0;
                let _ = self.video.write_rtp(self.packet(96, seq.1, ts_v, 1000, n, self.video_ssrc())).await;
                seq.1 = seq.1.wrapping_add(1);
                self.sent.fetch_add(1, Ordering::Relaxed);
            }
        }
        *self.numbering.lock().unwrap() = (seq, n);
    }

    fn audio_ssrc(&self) -> u32 {
        self.ssrcs.0
    }

    fn video_ssrc(&self) -> u32 {
        self.ssrcs.1
    }

    fn packet(&self, pt: u8, seq: u16, ts: u32, size: usize, n: u64, ssrc: u32) -> rtc::rtp::Packet {
        let mut payload = Vec::with_capacity(size.max(16));
        payload.extend_from_slice(&self.tag.to_be_bytes());
        payload.extend_from_slice(&n.to_be_bytes());
        payload.resize(size.max(16), 0x5a);
        rtc::rtp::Packet {
            header: rtc::rtp::Header {
                version: 2,
                payload_type: pt,
                sequence_number: seq,
                timestamp: ts,
                ssrc,
                marker: pt == 96,
                ..Default::default()
            },
            payload: Bytes::from(payload),
        }
    }

    /// Received packets on a receive slot of a kind (`"audio"` or `"video"`).
    pub fn slot(&self, kind: &str, slot: usize) -> SlotStats {
        self.received.lock().unwrap().get(&format!("{kind}-{slot}")).cloned().unwrap_or_default()
    }

    /// Every packet received, on any slot.
    pub fn total_received(&self) -> u64 {
        self.received.lock().unwrap().values().map(|s| s.packets).sum()
    }

    /// Every sender tag seen, on any slot.
    pub fn tags_seen(&self) -> HashSet<u64> {
        self.received.lock().unwrap().values().flat_map(|s| s.tags.iter().copied()).collect()
    }

    /// Hangs up and closes the media.
    pub async fn hang_up(&self) {
        let _ = self.signal.send(ClientSignal::Hangup);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = self.pc.close().await;
    }

    /// Closes the media and the signalling without a hang-up (as a tab closing).
    pub async fn drop_out(self) {
        let _ = self.pc.close().await;
        drop(self.signal);
    }
}
